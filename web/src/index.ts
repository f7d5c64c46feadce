// @apibilling/react: React components and a client for apibilling's usage API.
export { ApiError, createClient } from "./api";
export type { BillingClient, ClientOptions } from "./api";
export { QuotaStatus } from "./QuotaStatus";
export type { QuotaStatusProps } from "./QuotaStatus";
export { QuotaMeter, quotaLevel } from "./QuotaMeter";
export type { QuotaMeterProps } from "./QuotaMeter";
export { UsageChart } from "./UsageChart";
export type { UsageChartProps } from "./UsageChart";
export { DEFAULT_BASE_URL } from "./source";
export type { SourceProps } from "./source";
export { stackUsage, niceTicks, PALETTE, OTHER_ROUTES } from "./stack";
export type { RouteSeries, StackedDay, StackedUsage } from "./stack";
export { addDays, daysBetween, fillDays, isDate, lastDays, todayIn } from "./days";
export { formatCredits, formatDay, formatTime, periodLabel } from "./format";
export type * from "./types";
