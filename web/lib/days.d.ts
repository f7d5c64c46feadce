import type { UsageDay, UsageReport } from "./types";
/** isDate tells whether s is a real calendar date written YYYY-MM-DD. */
export declare function isDate(s: string): boolean;
/** addDays returns the date n calendar days after date (both YYYY-MM-DD). */
export declare function addDays(date: string, n: number): string;
/** daysBetween returns every date from `from` to `to`, both inclusive; empty when to is before from. */
export declare function daysBetween(from: string, to: string, max?: number): string[];
/** todayIn returns today's date (YYYY-MM-DD) in the IANA zone tz, by the clock `now`. */
export declare function todayIn(tz: string, now?: Date): string;
/** lastDays returns the range of the n days that end today in tz. */
export declare function lastDays(n: number, tz: string, now?: Date): {
    from: string;
    to: string;
};
/**
 * fillDays returns one entry per day of the report's range, in order, with zeros for the days the
 * report lacks. The API zero-fills already; this keeps the chart right if a day is ever missing.
 */
export declare function fillDays(report: Pick<UsageReport, "from" | "to" | "days">): UsageDay[];
