import { useMemo } from "react";
import { createClient, type BillingClient } from "./api";

/** Where a component reads the usage API; shared by {@link QuotaStatus} and {@link UsageChart}. */
export interface SourceProps {
  /** Mount point of the usage API. Optional. Default: "/billing/". */
  baseUrl?: string;
  /** A portal token or the admin token, sent as `Authorization: Bearer`. Optional. */
  token?: string;
  /** Show this client (operator endpoints `api/clients/{id}`); the caller (`api/me`) when omitted. */
  client?: string;
  /** A ready client of the API; baseUrl and token are ignored when it is given. Optional. */
  api?: BillingClient;
  /** Change this value to read again (for example a counter behind a Refresh button). Optional. */
  refreshKey?: unknown;
}

/** DEFAULT_BASE_URL is where the example apps mount the usage API. */
export const DEFAULT_BASE_URL = "/billing/";

/** useBillingClient returns props.api, or a client made from props.baseUrl and props.token. */
export function useBillingClient({ api, baseUrl = DEFAULT_BASE_URL, token }: SourceProps): BillingClient {
  return useMemo(() => api ?? createClient({ baseUrl, token }), [api, baseUrl, token]);
}
