/** The state of an asynchronous read. */
export interface AsyncState<T> {
    data?: T;
    error?: Error;
    loading: boolean;
}
/**
 * useAsync runs load whenever a value in deps changes, aborts the previous run, and keeps the
 * last data while a new read is on its way. Without load (null) it does nothing.
 */
export declare function useAsync<T>(load: ((signal: AbortSignal) => Promise<T>) | null, deps: readonly unknown[]): AsyncState<T>;
