/** One quota of a client, as the usage API reports it. */
export interface Quota {
  /** The quota's period, for example "minute", "hour", "day" or "month". */
  period: string;
  /** Credits allowed in one window; null when the quota is unlimited. */
  limit: number | null;
  /** Credits used in the current window. */
  used: number;
  /** Credits left in the current window; null when the quota is unlimited. */
  remaining: number | null;
  /** Start of the current window (RFC 3339). */
  window_start?: string;
  /** When the current window ends and the quota renews (RFC 3339). */
  resets_at?: string;
}

/** The answer of `GET api/me` and `GET api/clients/{id}`. */
export interface QuotaReport {
  client: string;
  /** The moment the numbers were read (RFC 3339). */
  as_of: string;
  quotas: Quota[];
}

/** One day of usage: credits per route, and their total. */
export interface UsageDay {
  /** Calendar date, YYYY-MM-DD, in the report's zone. */
  date: string;
  total: number;
  /** Credits per route; a route that was not used that day may be missing. */
  routes: Record<string, number>;
}

/** The answer of `GET api/me/usage` and `GET api/clients/{id}/usage`. */
export interface UsageReport {
  client: string;
  /** First day, inclusive (YYYY-MM-DD). */
  from: string;
  /** Last day, inclusive (YYYY-MM-DD). */
  to: string;
  /** IANA zone whose calendar the days follow, for example "UTC". */
  tz: string;
  as_of: string;
  total: number;
  days: UsageDay[];
}

/** One row of `GET api/clients`. */
export interface ClientStatus {
  client: string;
  quotas: Quota[];
}

/** The answer of `GET api/clients`. */
export interface ClientList {
  as_of: string;
  clients: ClientStatus[];
}

/** A range of days to report, in a zone. */
export interface UsageRange {
  /** First day, inclusive (YYYY-MM-DD). */
  from: string;
  /** Last day, inclusive (YYYY-MM-DD). */
  to: string;
  /** IANA zone name; the server's default when omitted. */
  tz?: string;
}

/** An RFC 9457 problem detail, the body of every error answer. */
export interface Problem {
  type?: string;
  title?: string;
  status?: number;
  detail?: string;
}
