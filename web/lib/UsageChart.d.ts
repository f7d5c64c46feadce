import { type SourceProps } from "./source";
import type { UsageReport } from "./types";
/** Props of {@link UsageChart}. */
export interface UsageChartProps extends SourceProps {
    /** First day, inclusive (YYYY-MM-DD). Required unless data is given. */
    from?: string;
    /** Last day, inclusive (YYYY-MM-DD). Required unless data is given. */
    to?: string;
    /** IANA zone whose calendar the days follow. Optional. Default: the server's (UTC). */
    tz?: string;
    /** Show this report instead of reading the API. Optional. */
    data?: UsageReport;
    /** The heading. Optional. Default: "Usage per day", or "Usage of CLIENT per day". */
    title?: string;
    /** Level of the heading element (h1 to h6). Optional. Default: 2. */
    headingLevel?: 1 | 2 | 3 | 4 | 5 | 6;
    /** Height of the chart in pixels. Optional. Default: 240. */
    height?: number;
    /** Routes drawn apart; the rest are summed as "Other routes". Optional. Default: 8. */
    maxRoutes?: number;
    /** Locale for numbers and dates. Optional. Default: the browser's. */
    locale?: string;
}
/**
 * UsageChart shows credits per day over a range as bars stacked by route, in plain SVG, with a
 * legend and the same numbers as a table. It reads `api/me/usage`, or `api/clients/{id}/usage`
 * when `client` is given; every day of the range is shown, days without usage as zero.
 */
export declare function UsageChart(props: UsageChartProps): import("react").JSX.Element;
