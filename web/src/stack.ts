import { fillDays } from "./days";
import type { UsageReport } from "./types";

/** PALETTE holds the route colours: the Okabe–Ito set, told apart with colour-blindness too. */
export const PALETTE = ["#0072b2", "#e69f00", "#009e73", "#cc79a7", "#56b4e9", "#d55e00", "#7b5aa6", "#3d3d3d"];
/** OTHER_COLOR is the colour of "Other routes", the routes past the chart's maximum. */
export const OTHER_COLOR = "#9a9a9a";
/** OTHER_ROUTES names the series that sums the routes past the chart's maximum. */
export const OTHER_ROUTES = "Other routes";

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
  segments: { series: RouteSeries; value: number; y0: number; y1: number }[];
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
export function stackUsage(report: Pick<UsageReport, "from" | "to" | "days">, maxRoutes = 8): StackedUsage {
  const days = fillDays(report);
  const totals = new Map<string, number>();
  for (const day of days) {
    for (const [route, credits] of Object.entries(day.routes)) {
      totals.set(route, add(totals.get(route) ?? 0, credits));
    }
  }
  const ordered = [...totals].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  const keep = ordered.length > maxRoutes ? maxRoutes - 1 : ordered.length;
  const series: RouteSeries[] = ordered.slice(0, keep).map(([name, total], i) => ({
    name,
    total,
    color: PALETTE[i % PALETTE.length],
    routes: [name],
  }));
  const seriesOf = new Map(series.map((s) => [s.name, s]));
  if (keep < ordered.length) {
    const rest = ordered.slice(keep);
    const other: RouteSeries = {
      name: OTHER_ROUTES,
      color: OTHER_COLOR,
      total: rest.reduce((sum, [, t]) => add(sum, t), 0),
      routes: rest.map(([name]) => name),
    };
    series.push(other);
    for (const [name] of rest) seriesOf.set(name, other);
  }

  let max = 0;
  const stacked = days.map((day) => {
    const values = new Map<RouteSeries, number>();
    for (const [route, credits] of Object.entries(day.routes)) {
      const s = seriesOf.get(route);
      if (s) values.set(s, add(values.get(s) ?? 0, credits));
    }
    let y = 0;
    const segments = series
      .filter((s) => (values.get(s) ?? 0) > 0)
      .map((s) => {
        const value = values.get(s) ?? 0;
        const seg = { series: s, value, y0: y, y1: add(y, value) };
        y = seg.y1;
        return seg;
      });
    const total = Math.max(day.total, y);
    max = Math.max(max, total);
    return { date: day.date, total: day.total, segments };
  });
  return { series, days: stacked, max };
}

/** add sums credits kept to 6 decimals without binary noise (0.1 + 0.2 gives 0.3). */
function add(a: number, b: number): number {
  return Math.round((a + b) * 1e6) / 1e6;
}

/** niceTicks returns 0 and evenly spaced round values (1, 2 or 5 times a power of ten) up to at least max. */
export function niceTicks(max: number, count = 4): number[] {
  if (!(max > 0)) return [0, 1];
  const raw = max / count;
  const power = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * power).find((s) => s >= raw) ?? 10 * power;
  const n = Math.ceil(max / step - 1e-9);
  return Array.from({ length: n + 1 }, (_, i) => Math.round(i * step * 1e6) / 1e6);
}
