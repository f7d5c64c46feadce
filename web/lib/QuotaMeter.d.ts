import type { Quota } from "./types";
/** Props of {@link QuotaMeter}. */
export interface QuotaMeterProps {
    quota: Quota;
    /** The visible name; the quota's period ("Per day") by default. */
    label?: string;
    /** The bar's accessible name, when it must say more than the visible name (say, the client). */
    ariaLabel?: string;
    locale?: string;
}
/** quotaLevel tells how full a quota is: "ok" below 80 %, "warn" from 80 %, "full" at the limit. */
export declare function quotaLevel(quota: Quota): "ok" | "warn" | "full" | "unlimited";
/**
 * QuotaMeter shows one quota's used credits against its limit as an accessible progress bar, with
 * the numbers as text beside it; an unlimited quota shows "unlimited" and no bar.
 */
export declare function QuotaMeter({ quota, label, ariaLabel, locale }: QuotaMeterProps): import("react").JSX.Element;
