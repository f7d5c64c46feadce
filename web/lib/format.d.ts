/** Locale and zone for the numbers and times a component shows; the browser's by default. */
export interface FormatOptions {
    locale?: string;
    timeZone?: string;
}
/** formatCredits writes a number of credits with up to 6 decimals, as the API keeps them. */
export declare function formatCredits(n: number, locale?: string): string;
/** formatTime writes an RFC 3339 time for people; the input unchanged if it is not a time. */
export declare function formatTime(iso: string, opts?: FormatOptions): string;
/** formatDay writes a calendar date (YYYY-MM-DD) for people, for example "1 Nov 2026". */
export declare function formatDay(date: string, locale?: string, style?: "short" | "long"): string;
/** formatDuration writes how long from one time to another, for example "in 14 hours". */
export declare function formatDuration(fromIso: string, toIso: string, locale?: string): string;
/** periodLabel names a quota's period for people: "day" gives "Per day". */
export declare function periodLabel(period: string): string;
