import { vi } from "vitest";
import type { ClientList, QuotaReport, UsageReport } from "../src/types";

// The shapes of the usage API, as SPEC.md's "Usage API and dashboard" section and issue 15 give them.

export const quotaReport: QuotaReport = {
  client: "client1",
  as_of: "2026-12-03T10:00:00Z",
  quotas: [
    {
      period: "day",
      limit: 500,
      used: 12,
      remaining: 488,
      window_start: "2026-12-03T00:00:00Z",
      resets_at: "2026-12-04T00:00:00Z",
    },
    {
      period: "month",
      limit: null,
      used: 3.5,
      remaining: null,
      window_start: "2026-12-01T00:00:00Z",
      resets_at: "2027-01-01T00:00:00Z",
    },
  ],
};

/** November 2026 for client1: three days with usage; 2026-11-04 is missing on purpose (zero-filled by the chart). */
export const usageReport: UsageReport = {
  client: "client1",
  from: "2026-11-01",
  to: "2026-11-30",
  tz: "UTC",
  as_of: "2026-12-03T10:00:00Z",
  total: 42.5,
  days: [
    { date: "2026-11-01", total: 7, routes: { "/api/fetch-data": 2, "/api/fetch-expensive-data": 5 } },
    { date: "2026-11-02", total: 0, routes: {} },
    { date: "2026-11-03", total: 0.5, routes: { "/api/fetch-data": 0.5 } },
    ...Array.from({ length: 26 }, (_, i) => ({
      date: `2026-11-${String(i + 5).padStart(2, "0")}`,
      total: 0,
      routes: {},
    })),
  ],
};
usageReport.days[usageReport.days.length - 1] = {
  date: "2026-11-30",
  total: 35,
  routes: { "/api/fetch-data": 5, "/api/fetch-expensive-data": 30 },
};

export const clientList: ClientList = {
  as_of: "2026-12-03T10:00:00Z",
  clients: [
    { client: "client1", quotas: quotaReport.quotas },
    {
      client: "client2",
      quotas: [
        {
          period: "hour",
          limit: 100,
          used: 95,
          remaining: 5,
          window_start: "2026-12-03T10:00:00Z",
          resets_at: "2026-12-03T11:00:00Z",
        },
      ],
    },
  ],
};

export function json(body: unknown, status = 200, type = "application/json"): Response {
  return new Response(JSON.stringify(body), { status, headers: { "Content-Type": type } });
}

export function problem(status: number, title: string, detail: string): Response {
  return json({ type: "about:blank", title, status, detail }, status, "application/problem+json");
}

/** Call is one request a fake fetch saw. */
export interface Call {
  url: string;
  path: string;
  query: URLSearchParams;
  headers: Headers;
}

/**
 * fakeFetch answers requests with handler, given the path below the mount point ("api/me") and the
 * request; it records every call.
 */
export function fakeFetch(handler: (path: string, call: Call) => Response | Promise<Response>) {
  const calls: Call[] = [];
  const fn = vi.fn(async (input: RequestInfo | URL, init?: RequestInit) => {
    const url = String(input);
    const u = new URL(url, "http://app.test/billing/");
    const call = {
      url,
      path: u.pathname.replace(/^\/billing\//, ""),
      query: u.searchParams,
      headers: new Headers(init?.headers),
    };
    calls.push(call);
    return handler(call.path, call);
  });
  return { fetch: fn as unknown as typeof fetch, calls };
}
