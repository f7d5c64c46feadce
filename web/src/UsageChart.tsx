import { useId, useMemo } from "react";
import { formatCredits, formatDay } from "./format";
import { useBillingClient, type SourceProps } from "./source";
import { niceTicks, stackUsage, type StackedUsage } from "./stack";
import type { UsageReport } from "./types";
import { useAsync } from "./useAsync";
import { useWidth } from "./useWidth";

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
export function UsageChart(props: UsageChartProps) {
  const { data, client, from, to, tz, refreshKey, locale, maxRoutes = 8, headingLevel = 2 } = props;
  const api = useBillingClient(props);
  const canLoad = !data && !!from && !!to;
  const state = useAsync<UsageReport>(
    canLoad
      ? (signal) => {
          const range = { from: from!, to: to!, tz };
          return client ? api.clientUsage(client, range, signal) : api.meUsage(range, signal);
        }
      : null,
    [canLoad, api, client, from, to, tz, refreshKey],
  );
  const report = data ?? state.data;
  const stacked = useMemo(() => (report ? stackUsage(report, maxRoutes) : null), [report, maxRoutes]);
  const headingId = useId();
  const Heading = `h${headingLevel}` as const;
  const title = props.title ?? (client ? `Usage of ${client} per day` : "Usage per day");

  return (
    <section className="ab-usage" aria-labelledby={headingId} aria-busy={state.loading}>
      <Heading id={headingId} className="ab-heading">
        {title}
      </Heading>
      {state.error && !data ? (
        <p className="ab-error" role="alert">
          {state.error.message}
        </p>
      ) : !report || !stacked ? (
        <p className="ab-loading">{canLoad ? "Loading…" : "Choose a range of days."}</p>
      ) : (
        <>
          <p className="ab-usage-summary">
            <strong>{formatCredits(report.total, locale)} credits</strong> from {formatDay(report.from, locale)} to{" "}
            {formatDay(report.to, locale)} ({report.tz})
          </p>
          <Chart report={report} stacked={stacked} height={props.height ?? 240} locale={locale} />
          <Legend stacked={stacked} locale={locale} />
          <UsageTable report={report} stacked={stacked} locale={locale} />
        </>
      )}
    </section>
  );
}

interface PartProps {
  report: UsageReport;
  stacked: StackedUsage;
  locale?: string;
}

const MARGIN = { top: 8, right: 8, bottom: 24, left: 48 };

function Chart({ report, stacked, height, locale }: PartProps & { height: number }) {
  const [ref, width] = useWidth<HTMLDivElement>(640);
  const titleId = useId();
  const descId = useId();
  const days = stacked.days;
  const ticks = niceTicks(stacked.max);
  const top = ticks[ticks.length - 1];
  const plotW = Math.max(1, width - MARGIN.left - MARGIN.right);
  const plotH = Math.max(1, height - MARGIN.top - MARGIN.bottom);
  const slot = plotW / Math.max(1, days.length);
  const barW = Math.max(1, slot * 0.72);
  const y = (v: number) => MARGIN.top + plotH - (v / top) * plotH;
  const labelEvery = Math.max(1, Math.ceil(days.length / Math.max(1, Math.floor(plotW / 52))));
  const busiest = days.reduce<(typeof days)[number] | undefined>((b, d) => (!b || d.total > b.total ? d : b), undefined);

  return (
    <div className="ab-chart" ref={ref}>
      <svg
        role="img"
        aria-labelledby={`${titleId} ${descId}`}
        width={width}
        height={height}
        viewBox={`0 0 ${width} ${height}`}
      >
        <title id={titleId}>
          Credits per day by route, {formatDay(report.from, locale)} to {formatDay(report.to, locale)}
        </title>
        <desc id={descId}>
          {stacked.max > 0 && busiest
            ? `Total ${formatCredits(report.total, locale)} credits over ${days.length} days; the busiest day was ${formatDay(busiest.date, locale)} with ${formatCredits(busiest.total, locale)} credits. The table below lists every day.`
            : `No usage in these ${days.length} days.`}
        </desc>
        <g className="ab-axis ab-axis-y">
          {ticks.map((t) => (
            <g key={t}>
              <line x1={MARGIN.left} x2={width - MARGIN.right} y1={y(t)} y2={y(t)} />
              <text x={MARGIN.left - 6} y={y(t)} dy="0.32em" textAnchor="end">
                {formatCredits(t, locale)}
              </text>
            </g>
          ))}
        </g>
        <g className="ab-bars">
          {days.map((day, i) => {
            const x = MARGIN.left + i * slot + (slot - barW) / 2;
            return (
              <g key={day.date} data-date={day.date}>
                <title>{dayTooltip(day, locale)}</title>
                {day.segments.map((seg) => (
                  <rect
                    key={seg.series.name}
                    x={x}
                    width={barW}
                    y={y(seg.y1)}
                    height={Math.max(0, y(seg.y0) - y(seg.y1))}
                    fill={seg.series.color}
                    data-route={seg.series.name}
                    data-value={seg.value}
                  />
                ))}
              </g>
            );
          })}
        </g>
        <g className="ab-axis ab-axis-x">
          {days.map((day, i) =>
            i % labelEvery === 0 ? (
              <text key={day.date} x={MARGIN.left + (i + 0.5) * slot} y={height - 6} textAnchor="middle">
                {formatDay(day.date, locale, "short")}
              </text>
            ) : null,
          )}
        </g>
      </svg>
    </div>
  );
}

function dayTooltip(day: StackedUsage["days"][number], locale?: string): string {
  const parts = day.segments.map((s) => `${s.series.name}: ${formatCredits(s.value, locale)}`);
  const head = `${formatDay(day.date, locale)}: ${formatCredits(day.total, locale)} credits`;
  return parts.length ? `${head}\n${parts.join("\n")}` : head;
}

function Legend({ stacked, locale }: Omit<PartProps, "report">) {
  if (stacked.series.length === 0) return <p className="ab-empty">No usage in this range.</p>;
  return (
    <ul className="ab-legend" aria-label="Routes">
      {stacked.series.map((s) => (
        <li key={s.name} title={s.routes.length > 1 ? s.routes.join(", ") : undefined}>
          <span className="ab-swatch" style={{ background: s.color }} aria-hidden="true" />
          <span className="ab-legend-route">{s.name}</span>{" "}
          <span className="ab-muted">{formatCredits(s.total, locale)}</span>
        </li>
      ))}
    </ul>
  );
}

function UsageTable({ report, stacked, locale }: PartProps) {
  const routes = stacked.series;
  return (
    <details className="ab-table">
      <summary>Show the numbers as a table</summary>
      <div className="ab-table-scroll">
        <table>
          <caption>
            Credits per day and route, {formatDay(report.from, locale)} to {formatDay(report.to, locale)} ({report.tz})
          </caption>
          <thead>
            <tr>
              <th scope="col">Date</th>
              {routes.map((s) => (
                <th scope="col" key={s.name}>
                  {s.name}
                </th>
              ))}
              <th scope="col">Total</th>
            </tr>
          </thead>
          <tbody>
            {stacked.days.map((day) => (
              <tr key={day.date}>
                <th scope="row">
                  <time dateTime={day.date}>{day.date}</time>
                </th>
                {routes.map((s) => (
                  <td key={s.name}>
                    {formatCredits(day.segments.find((seg) => seg.series === s)?.value ?? 0, locale)}
                  </td>
                ))}
                <td>{formatCredits(day.total, locale)}</td>
              </tr>
            ))}
          </tbody>
          <tfoot>
            <tr>
              <th scope="row">Total</th>
              {routes.map((s) => (
                <td key={s.name}>{formatCredits(s.total, locale)}</td>
              ))}
              <td>{formatCredits(report.total, locale)}</td>
            </tr>
          </tfoot>
        </table>
      </div>
    </details>
  );
}
