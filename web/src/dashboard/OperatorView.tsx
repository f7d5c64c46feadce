import { useId, useMemo, useRef, useState } from "react";
import { createClient } from "../api";
import { formatTime } from "../format";
import type { ClientList } from "../types";
import { UsageChart } from "../UsageChart";
import { useAsync } from "../useAsync";
import { ClientsTable } from "./ClientsTable";
import { defaultRange } from "./ClientView";
import { DownloadButton } from "./DownloadButton";
import { RangeControls } from "./RangeControls";
import { ADMIN_TOKEN_KEY, useStoredToken } from "./session";
import { TokenForm } from "./TokenForm";

/** NEAR_LIMIT is the share of a quota from which the "near the limit" filter lists a client. */
const NEAR_LIMIT = 0.8;

/** OperatorView shows every client's quotas, one client's usage chart and the CSV for invoicing. */
export function OperatorView({ baseUrl }: { baseUrl: string }) {
  const [token, setToken] = useStoredToken(ADMIN_TOKEN_KEY);
  const [nearLimit, setNearLimit] = useState(false);
  const [selected, setSelected] = useState<string>();
  const [range, setRange] = useState(() => defaultRange());
  const [refresh, setRefresh] = useState(0);
  const api = useMemo(() => createClient({ baseUrl, token }), [baseUrl, token]);
  const list = useAsync<ClientList>(
    token ? (signal) => api.clients(nearLimit ? { nearLimit: NEAR_LIMIT } : undefined, signal) : null,
    [api, token, nearLimit, refresh],
  );
  const usageHeading = useRef<HTMLHeadingElement>(null);
  const ids = { clients: useId(), usage: useId(), picker: useId(), near: useId() };

  const clients = list.data?.clients ?? [];
  const client = selected ?? clients[0]?.client;
  const names = clients.map((c) => c.client);
  if (client && !names.includes(client)) names.unshift(client);

  const select = (name: string) => {
    setSelected(name);
    usageHeading.current?.focus();
  };

  return (
    <>
      <div className="db-card">
        <TokenForm
          label="Admin token"
          hint="The operator's admin token. It is kept in this tab only and sent as a bearer token."
          token={token}
          onSave={setToken}
        />
        {list.error && (
          <p className="ab-error" role="alert">
            {list.error.message}
          </p>
        )}
      </div>
      {token && list.data && (
        <>
          <section className="db-card" aria-labelledby={ids.clients} aria-busy={list.loading}>
            <div className="db-card-head">
              <h2 id={ids.clients} className="ab-heading">
                Clients
              </h2>
              <button type="button" className="db-secondary" onClick={() => setRefresh((n) => n + 1)}>
                Refresh
              </button>
            </div>
            <div className="db-check">
              <input
                id={ids.near}
                type="checkbox"
                checked={nearLimit}
                onChange={(e) => setNearLimit(e.target.checked)}
              />
              <label htmlFor={ids.near}>Only clients at {NEAR_LIMIT * 100}% or more of a quota</label>
            </div>
            {clients.length === 0 ? (
              <p className="ab-empty">{nearLimit ? "No client is near a limit." : "No clients are registered."}</p>
            ) : (
              <ClientsTable clients={clients} selected={client} onSelect={select} />
            )}
            <p className="ab-as-of">
              As of <time dateTime={list.data.as_of}>{formatTime(list.data.as_of)}</time>
            </p>
          </section>
          <section className="db-card" aria-labelledby={ids.usage}>
            <h2 id={ids.usage} className="ab-heading" ref={usageHeading} tabIndex={-1}>
              Usage
            </h2>
            <div className="db-controls">
              <div className="db-field">
                <label htmlFor={ids.picker}>Client</label>
                <select id={ids.picker} value={client ?? ""} onChange={(e) => setSelected(e.target.value)}>
                  {names.map((n) => (
                    <option key={n} value={n}>
                      {n}
                    </option>
                  ))}
                </select>
              </div>
              <RangeControls range={range} onChange={setRange} />
            </div>
            {client && (
              <UsageChart api={api} client={client} {...range} refreshKey={refresh} headingLevel={3} />
            )}
            <DownloadButton
              label="Download CSV of all clients"
              filename={`usage-all-${range.from}-to-${range.to}.csv`}
              load={() => api.usageCsv(range)}
            />
          </section>
        </>
      )}
    </>
  );
}
