import { useId } from "react";
import { formatCredits, periodLabel } from "./format";
import type { Quota } from "./types";

/** Props of {@link QuotaMeter}. */
export interface QuotaMeterProps {
  quota: Quota;
  /** The visible name; the quota's period ("Per day") by default. */
  label?: string;
  /** The bar's accessible name, when it must say more than the visible name (say, the client). */
  ariaLabel?: string;
  locale?: string;
}

/** quotaLevel tells how full a quota is: "ok" below 80 %, "warn" from 80 %, "full" at the limit. */
export function quotaLevel(quota: Quota): "ok" | "warn" | "full" | "unlimited" {
  if (quota.limit === null) return "unlimited";
  if (quota.limit <= 0 || quota.used >= quota.limit) return "full";
  return quota.used / quota.limit >= 0.8 ? "warn" : "ok";
}

/**
 * QuotaMeter shows one quota's used credits against its limit as an accessible progress bar, with
 * the numbers as text beside it; an unlimited quota shows "unlimited" and no bar.
 */
export function QuotaMeter({ quota, label, ariaLabel, locale }: QuotaMeterProps) {
  const labelId = useId();
  const name = label ?? periodLabel(quota.period);
  const used = formatCredits(quota.used, locale);
  const level = quotaLevel(quota);

  if (quota.limit === null) {
    return (
      <div className="ab-meter ab-meter-unlimited">
        <span className="ab-meter-label">{name}</span>
        <span className="ab-meter-numbers">
          {used} used · <strong>unlimited</strong>
        </span>
      </div>
    );
  }

  const limit = formatCredits(quota.limit, locale);
  const share = quota.limit > 0 ? Math.min(1, Math.max(0, quota.used / quota.limit)) : 1;
  const percent = Math.floor(share * 100);
  const over = quota.used > quota.limit;
  const text = `${used} of ${limit} credits used (${percent}%)${over ? ", over the limit" : ""}`;

  return (
    <div className={`ab-meter ab-meter-${level}`}>
      <span className="ab-meter-label" id={labelId}>
        {name}
      </span>
      <span className="ab-meter-numbers" aria-hidden="true">
        {used} / {limit}
      </span>
      <div
        className="ab-bar"
        role="progressbar"
        aria-labelledby={ariaLabel ? undefined : labelId}
        aria-label={ariaLabel}
        aria-valuemin={0}
        aria-valuemax={quota.limit}
        aria-valuenow={Math.min(Math.max(quota.used, 0), quota.limit)}
        aria-valuetext={text}
      >
        <div className="ab-bar-fill" style={{ width: `${share * 100}%` }} />
      </div>
    </div>
  );
}
