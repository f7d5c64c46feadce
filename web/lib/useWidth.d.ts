/** useWidth measures an element's content width, following resizes where ResizeObserver exists. */
export declare function useWidth<E extends HTMLElement>(fallback: number): readonly [import("react").RefObject<E | null>, number];
