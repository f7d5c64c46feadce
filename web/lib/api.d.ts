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
    clients(options?: {
        nearLimit?: number;
    }, signal?: AbortSignal): Promise<ClientList>;
    /** `GET api/clients/{id}`: one client's quotas (operator, or that client's portal token). */
    client(id: string, signal?: AbortSignal): Promise<QuotaReport>;
    /** `GET api/clients/{id}/usage`: one client's usage per day. */
    clientUsage(id: string, range: UsageRange, signal?: AbortSignal): Promise<UsageReport>;
    /** `GET api/usage?format=csv`: every client's usage as CSV (`client,date,route,credits`), for invoicing. */
    usageCsv(range: UsageRange, signal?: AbortSignal): Promise<Blob>;
    /** Fetches any path below the mount point with the client's credentials; rejects with ApiError unless 2xx. */
    request(path: string, init?: RequestInit & {
        query?: Query;
    }): Promise<Response>;
}
type Query = Record<string, string | number | undefined>;
/** ApiError is the rejection of a {@link BillingClient} call that got an error answer. */
export declare class ApiError extends Error {
    /** The HTTP status code. */
    readonly status: number;
    /** The problem+json body, or a problem made from the status when the body was not one. */
    readonly problem: Problem;
    constructor(status: number, problem: Problem);
}
/** createClient returns a client of the usage API mounted at `baseUrl`. */
export declare function createClient(options: ClientOptions): BillingClient;
export {};
