/** Locale and zone for the numbers and times a component shows; the browser's by default. */
export interface FormatOptions {
  locale?: string;
  timeZone?: string;
}

/** formatCredits writes a number of credits with up to 6 decimals, as the API keeps them. */
export function formatCredits(n: number, locale?: string): string {
  return new Intl.NumberFormat(locale, { maximumFractionDigits: 6 }).format(n);
}

/** formatTime writes an RFC 3339 time for people; the input unchanged if it is not a time. */
export function formatTime(iso: string, opts: FormatOptions = {}): string {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  return new Intl.DateTimeFormat(opts.locale, {
    dateStyle: "medium",
    timeStyle: "short",
    timeZone: opts.timeZone,
  }).format(d);
}

/** formatDay writes a calendar date (YYYY-MM-DD) for people, for example "1 Nov 2026". */
export function formatDay(date: string, locale?: string, style: "short" | "long" = "long"): string {
  const d = new Date(date + "T00:00:00Z");
  if (Number.isNaN(d.getTime())) return date;
  return new Intl.DateTimeFormat(locale, {
    day: "numeric",
    month: "short",
    year: style === "long" ? "numeric" : undefined,
    timeZone: "UTC",
  }).format(d);
}

/** formatDuration writes how long from one time to another, for example "in 14 hours". */
export function formatDuration(fromIso: string, toIso: string, locale?: string): string {
  const ms = new Date(toIso).getTime() - new Date(fromIso).getTime();
  if (Number.isNaN(ms)) return "";
  const units: [Intl.RelativeTimeFormatUnit, number][] = [
    ["day", 86_400_000],
    ["hour", 3_600_000],
    ["minute", 60_000],
    ["second", 1_000],
  ];
  const rtf = new Intl.RelativeTimeFormat(locale, { numeric: "auto" });
  for (const [unit, size] of units) {
    if (Math.abs(ms) >= size || unit === "second") return rtf.format(Math.round(ms / size), unit);
  }
  return "";
}

const PERIODS: Record<string, string> = {
  second: "Per second",
  minute: "Per minute",
  hour: "Per hour",
  day: "Per day",
  week: "Per week",
  month: "Per month",
  year: "Per year",
};

/** periodLabel names a quota's period for people: "day" gives "Per day". */
export function periodLabel(period: string): string {
  return PERIODS[period] ?? period;
}
