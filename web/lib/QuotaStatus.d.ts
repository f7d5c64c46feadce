import { type SourceProps } from "./source";
import type { QuotaReport } from "./types";
/** Props of {@link QuotaStatus}. */
export interface QuotaStatusProps extends SourceProps {
    /** Show this report instead of reading the API. Optional. */
    data?: QuotaReport;
    /** The heading. Optional. Default: "Quotas", or "Quotas of CLIENT" for another client. */
    title?: string;
    /** Level of the heading element (h1 to h6). Optional. Default: 2. */
    headingLevel?: 1 | 2 | 3 | 4 | 5 | 6;
    /** Locale for numbers and times. Optional. Default: the browser's. */
    locale?: string;
    /** IANA zone in which renewal times are shown. Optional. Default: the browser's. */
    timeZone?: string;
}
/**
 * QuotaStatus shows the caller's quotas (`api/me`), or one client's (`api/clients/{id}`) when
 * `client` is given: for each period the credits used against the limit as a progress bar, what
 * remains and when the quota renews; "unlimited" for a quota without a limit; and when the numbers
 * were read.
 */
export declare function QuotaStatus(props: QuotaStatusProps): import("react").JSX.Element;
