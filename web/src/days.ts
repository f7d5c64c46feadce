import type { UsageDay, UsageReport } from "./types";

const DAY_MS = 86_400_000;
const ISO_DATE = /^(\d{4})-(\d{2})-(\d{2})$/;

/** isDate tells whether s is a real calendar date written YYYY-MM-DD. */
export function isDate(s: string): boolean {
  const m = ISO_DATE.exec(s);
  if (!m) return false;
  const d = new Date(Date.UTC(+m[1], +m[2] - 1, +m[3]));
  return d.getUTCFullYear() === +m[1] && d.getUTCMonth() === +m[2] - 1 && d.getUTCDate() === +m[3];
}

/** addDays returns the date n calendar days after date (both YYYY-MM-DD). */
export function addDays(date: string, n: number): string {
  const m = ISO_DATE.exec(date);
  if (!m) throw new RangeError(`apibilling: not a date: ${date}`);
  return new Date(Date.UTC(+m[1], +m[2] - 1, +m[3]) + n * DAY_MS).toISOString().slice(0, 10);
}

/** daysBetween returns every date from `from` to `to`, both inclusive; empty when to is before from. */
export function daysBetween(from: string, to: string, max = 3700): string[] {
  const out: string[] = [];
  for (let d = from; d <= to && out.length < max; d = addDays(d, 1)) out.push(d);
  return out;
}

/** todayIn returns today's date (YYYY-MM-DD) in the IANA zone tz, by the clock `now`. */
export function todayIn(tz: string, now: Date = new Date()): string {
  const parts = new Intl.DateTimeFormat("en-US", {
    timeZone: tz,
    year: "numeric",
    month: "2-digit",
    day: "2-digit",
  }).formatToParts(now);
  const get = (type: string) => parts.find((p) => p.type === type)?.value ?? "";
  return `${get("year")}-${get("month")}-${get("day")}`;
}

/** lastDays returns the range of the n days that end today in tz. */
export function lastDays(n: number, tz: string, now: Date = new Date()): { from: string; to: string } {
  const to = todayIn(tz, now);
  return { from: addDays(to, 1 - n), to };
}

/**
 * fillDays returns one entry per day of the report's range, in order, with zeros for the days the
 * report lacks. The API zero-fills already; this keeps the chart right if a day is ever missing.
 */
export function fillDays(report: Pick<UsageReport, "from" | "to" | "days">): UsageDay[] {
  const byDate = new Map(report.days.map((d) => [d.date, d]));
  if (!isDate(report.from) || !isDate(report.to)) return report.days;
  return daysBetween(report.from, report.to).map(
    (date) => byDate.get(date) ?? { date, total: 0, routes: {} },
  );
}
