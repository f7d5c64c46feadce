import { useMemo, useState } from "react";
import { createClient } from "../api";
import { lastDays } from "../days";
import { QuotaStatus } from "../QuotaStatus";
import { UsageChart } from "../UsageChart";
import { DownloadButton } from "./DownloadButton";
import { RangeControls, type Range } from "./RangeControls";
import { CLIENT_TOKEN_KEY, useStoredToken } from "./session";
import { TokenForm } from "./TokenForm";

/** defaultRange is the last 30 days in UTC. */
export function defaultRange(now: Date = new Date()): Range {
  return { ...lastDays(30, "UTC", now), tz: "UTC" };
}

/** ClientView shows the quotas and usage of the client whose token the page holds. */
export function ClientView({ baseUrl }: { baseUrl: string }) {
  const [token, setToken] = useStoredToken(CLIENT_TOKEN_KEY);
  const [range, setRange] = useState(() => defaultRange());
  const [refresh, setRefresh] = useState(0);
  const api = useMemo(() => createClient({ baseUrl, token }), [baseUrl, token]);

  return (
    <>
      <div className="db-card">
        <TokenForm
          label="Access token"
          hint="The portal token your provider gave you. It is kept in this tab only and sent as a bearer token."
          token={token}
          onSave={setToken}
        />
      </div>
      {token && (
        <>
          <div className="db-card">
            <QuotaStatus api={api} refreshKey={refresh} />
            <button type="button" className="db-secondary db-refresh" onClick={() => setRefresh((n) => n + 1)}>
              Refresh
            </button>
          </div>
          <div className="db-card">
            <RangeControls range={range} onChange={setRange} />
            <UsageChart api={api} {...range} refreshKey={refresh} />
            <DownloadButton
              label="Download CSV"
              filename={`usage-${range.from}-to-${range.to}.csv`}
              load={() => api.meUsageCsv(range)}
            />
          </div>
        </>
      )}
    </>
  );
}
