import { useId } from "react";
import { formatCredits, formatDuration, formatTime } from "./format";
import { QuotaMeter } from "./QuotaMeter";
import { useBillingClient, type SourceProps } from "./source";
import type { QuotaReport } from "./types";
import { useAsync } from "./useAsync";

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
export function QuotaStatus(props: QuotaStatusProps) {
  const { data, client, refreshKey, locale, timeZone, headingLevel = 2 } = props;
  const api = useBillingClient(props);
  const state = useAsync<QuotaReport>(
    data ? null : (signal) => (client ? api.client(client, signal) : api.me(signal)),
    [data, api, client, refreshKey],
  );
  const report = data ?? state.data;
  const headingId = useId();
  const Heading = `h${headingLevel}` as const;
  const title = props.title ?? (client ? `Quotas of ${client}` : "Quotas");

  return (
    <section className="ab-quota-status" aria-labelledby={headingId} aria-busy={state.loading}>
      <Heading id={headingId} className="ab-heading">
        {title}
      </Heading>
      {state.error && !data ? (
        <p className="ab-error" role="alert">
          {state.error.message}
        </p>
      ) : !report ? (
        <p className="ab-loading">Loading…</p>
      ) : report.quotas.length === 0 ? (
        <p className="ab-empty">{report.client} has no quotas.</p>
      ) : (
        <ul className="ab-quota-list">
          {report.quotas.map((q, i) => (
            <li key={`${q.period}-${i}`} className="ab-quota">
              <QuotaMeter quota={q} locale={locale} />
              <dl className="ab-quota-facts">
                <div>
                  <dt>Remaining</dt>
                  <dd>{q.remaining === null ? "unlimited" : formatCredits(q.remaining, locale)}</dd>
                </div>
                {q.resets_at && (
                  <div>
                    <dt>Renews</dt>
                    <dd>
                      <time dateTime={q.resets_at}>{formatTime(q.resets_at, { locale, timeZone })}</time>{" "}
                      <span className="ab-muted">({formatDuration(report.as_of, q.resets_at, locale)})</span>
                    </dd>
                  </div>
                )}
              </dl>
            </li>
          ))}
        </ul>
      )}
      {report && (
        <p className="ab-as-of">
          {report.client && !client && <>Client {report.client} · </>}
          As of <time dateTime={report.as_of}>{formatTime(report.as_of, { locale, timeZone })}</time>
        </p>
      )}
    </section>
  );
}
