import { formatTime, periodLabel } from "../format";
import { QuotaMeter } from "../QuotaMeter";
import type { ClientStatus } from "../types";

interface ClientsTableProps {
  clients: ClientStatus[];
  selected?: string;
  onSelect: (client: string) => void;
}

/** ClientsTable lists clients with each quota as a bar and its renewal, and a button to chart one. */
export function ClientsTable({ clients, selected, onSelect }: ClientsTableProps) {
  return (
    <div className="db-table-scroll">
      <table className="db-clients">
        <caption className="db-sr-only">Clients and their quotas</caption>
        <thead>
          <tr>
            <th scope="col">Client</th>
            <th scope="col">Quotas</th>
            <th scope="col">
              <span className="db-sr-only">Usage</span>
            </th>
          </tr>
        </thead>
        <tbody>
          {clients.map((c) => (
            <tr key={c.client} className={c.client === selected ? "db-selected" : undefined}>
              <th scope="row">{c.client}</th>
              <td>
                {c.quotas.length === 0 ? (
                  <span className="ab-muted">no quotas</span>
                ) : (
                  <ul className="db-quotas">
                    {c.quotas.map((q, i) => (
                      <li key={`${q.period}-${i}`}>
                        <QuotaMeter quota={q} ariaLabel={`${c.client}, ${periodLabel(q.period).toLowerCase()}`} />
                        {q.resets_at && (
                          <span className="db-renews">
                            renews <time dateTime={q.resets_at}>{formatTime(q.resets_at)}</time>
                          </span>
                        )}
                      </li>
                    ))}
                  </ul>
                )}
              </td>
              <td>
                <button
                  type="button"
                  className="db-secondary"
                  aria-pressed={c.client === selected}
                  onClick={() => onSelect(c.client)}
                >
                  Usage<span className="db-sr-only"> of {c.client}</span>
                </button>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
