import type { UsageReport } from "./types";
/** PALETTE holds the route colours: the Okabe–Ito set, told apart with colour-blindness too. */
export declare const PALETTE: string[];
/** OTHER_COLOR is the colour of "Other routes", the routes past the chart's maximum. */
export declare const OTHER_COLOR = "#9a9a9a";
/** OTHER_ROUTES names the series that sums the routes past the chart's maximum. */
export declare const OTHER_ROUTES = "Other routes";
/** One route of a stacked chart: its colour and its credits over the whole range. */
export interface RouteSeries {
    name: string;
    color: string;
    total: number;
    /** The routes it stands for: itself, or several for "Other routes". */
    routes: string[];
}
/** One day of a stacked chart: its segments from the bottom up. */
export interface StackedDay {
    date: string;
    total: number;
    segments: {
        series: RouteSeries;
        value: number;
        y0: number;
        y1: number;
    }[];
}
/** The stacked form of a usage report. */
export interface StackedUsage {
    series: RouteSeries[];
    days: StackedDay[];
    /** The largest daily total. */
    max: number;
}
/**
 * stackUsage turns a usage report into stacked bars: every day of the range (zero-filled), routes
 * ordered by their credits over the range (largest at the bottom), and the routes past maxRoutes
 * summed as "Other routes".
 */
export declare function stackUsage(report: Pick<UsageReport, "from" | "to" | "days">, maxRoutes?: number): StackedUsage;
/** niceTicks returns 0 and evenly spaced round values (1, 2 or 5 times a power of ten) up to at least max. */
export declare function niceTicks(max: number, count?: number): number[];
