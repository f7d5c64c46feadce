import type { ClientList, Problem, QuotaReport, UsageRange, UsageReport } from "./types";

/** Options of {@link createClient}. */
export interface ClientOptions {
  /**
   * Where the usage API is mounted, for example "/billing/" or "https://api.example.com/billing/".
   * Paths such as "api/me" are resolved relative to it.
   */
  baseUrl: string;
  /** A portal token or the admin token, sent as `Authorization: Bearer`. */
  token?: string;
  /** The fetch to use; the global one by default. */
  fetch?: typeof fetch;
}

/** A client of the usage API; every method rejects with an {@link ApiError} on an error answer. */
export interface BillingClient {
  /** `GET api/me`: the caller's quotas. */
  me(signal?: AbortSignal): Promise<QuotaReport>;
  /** `GET api/me/usage`: the caller's usage per day. */
  meUsage(range: UsageRange, signal?: AbortSignal): Promise<UsageReport>;
  /** `GET api/me/usage?format=csv`: the caller's usage as CSV (`date,route,credits`). */
  meUsageCsv(range: UsageRange, signal?: AbortSignal): Promise<Blob>;
  /** `GET api/clients`: every client's quotas (operator). With nearLimit, only those at or past that share of a quota. */
  clients(options?: { nearLimit?: number }, signal?: AbortSignal): Promise<ClientList>;
  /** `GET api/clients/{id}`: one client's quotas (operator, or that client's portal token). */
  client(id: string, signal?: AbortSignal): Promise<QuotaReport>;
  /** `GET api/clients/{id}/usage`: one client's usage per day. */
  clientUsage(id: string, range: UsageRange, signal?: AbortSignal): Promise<UsageReport>;
  /** `GET api/usage?format=csv`: every client's usage as CSV (`client,date,route,credits`), for invoicing. */
  usageCsv(range: UsageRange, signal?: AbortSignal): Promise<Blob>;
  /** Fetches any path below the mount point with the client's credentials; rejects with ApiError unless 2xx. */
  request(path: string, init?: RequestInit & { query?: Query }): Promise<Response>;
}

type Query = Record<string, string | number | undefined>;

/** ApiError is the rejection of a {@link BillingClient} call that got an error answer. */
export class ApiError extends Error {
  /** The HTTP status code. */
  readonly status: number;
  /** The problem+json body, or a problem made from the status when the body was not one. */
  readonly problem: Problem;

  constructor(status: number, problem: Problem) {
    super(problem.detail || problem.title || `HTTP ${status}`);
    this.name = "ApiError";
    this.status = status;
    this.problem = problem;
  }
}

/** createClient returns a client of the usage API mounted at `baseUrl`. */
export function createClient(options: ClientOptions): BillingClient {
  const base = options.baseUrl.endsWith("/") ? options.baseUrl : options.baseUrl + "/";
  const token = options.token?.trim();

  async function request(path: string, init: RequestInit & { query?: Query } = {}): Promise<Response> {
    const { query, ...rest } = init;
    const headers = new Headers(rest.headers);
    if (!headers.has("Accept")) headers.set("Accept", "application/json");
    if (token) headers.set("Authorization", `Bearer ${token}`);
    const doFetch = options.fetch ?? globalThis.fetch;
    const res = await doFetch(base + path + queryString(query), { ...rest, headers });
    if (!res.ok) throw new ApiError(res.status, await readProblem(res));
    return res;
  }

  async function json<T>(path: string, query?: Query, signal?: AbortSignal): Promise<T> {
    const res = await request(path, { query, signal });
    return (await res.json()) as T;
  }

  async function csv(path: string, range: UsageRange, signal?: AbortSignal): Promise<Blob> {
    const res = await request(path, {
      query: { ...rangeQuery(range), format: "csv" },
      headers: { Accept: "text/csv" },
      signal,
    });
    return res.blob();
  }

  const clientPath = (id: string) => `api/clients/${encodeURIComponent(id)}`;

  return {
    me: (signal) => json("api/me", undefined, signal),
    meUsage: (range, signal) => json("api/me/usage", rangeQuery(range), signal),
    meUsageCsv: (range, signal) => csv("api/me/usage", range, signal),
    clients: (opts, signal) => json("api/clients", { near_limit: opts?.nearLimit }, signal),
    client: (id, signal) => json(clientPath(id), undefined, signal),
    clientUsage: (id, range, signal) => json(`${clientPath(id)}/usage`, rangeQuery(range), signal),
    usageCsv: (range, signal) => csv("api/usage", range, signal),
    request,
  };
}

function rangeQuery(range: UsageRange): Query {
  return { from: range.from, to: range.to, tz: range.tz };
}

function queryString(query?: Query): string {
  if (!query) return "";
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query)) {
    if (value !== undefined && value !== "") params.set(key, String(value));
  }
  const s = params.toString();
  return s ? "?" + s : "";
}

async function readProblem(res: Response): Promise<Problem> {
  const fallback: Problem = { status: res.status, title: res.statusText || `HTTP ${res.status}` };
  const type = res.headers.get("Content-Type") ?? "";
  if (!/json/i.test(type)) return fallback;
  try {
    const body: unknown = await res.json();
    if (body && typeof body === "object") return { ...fallback, ...(body as Problem) };
  } catch {
    // A body that is not JSON after all: keep the status.
  }
  return fallback;
}
