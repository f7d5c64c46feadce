import { useId, useMemo, useState } from "react";
import { isDate } from "../days";
import type { UsageRange } from "../types";

/** Range is the days a view shows: from and to inclusive, in zone tz. */
export type Range = Required<UsageRange>;

interface RangeControlsProps {
  range: Range;
  onChange: (range: Range) => void;
}

/** timeZones lists UTC, the browser's zone, then every zone the browser knows. */
export function timeZones(): string[] {
  const own = Intl.DateTimeFormat().resolvedOptions().timeZone;
  const all = typeof Intl.supportedValuesOf === "function" ? Intl.supportedValuesOf("timeZone") : [];
  return [...new Set(["UTC", own, ...all].filter(Boolean))];
}

/** RangeControls picks the first and last day and the zone whose calendar the days follow. */
export function RangeControls({ range, onChange }: RangeControlsProps) {
  const [from, setFrom] = useState(range.from);
  const [to, setTo] = useState(range.to);
  const zones = useMemo(timeZones, []);
  const id = useId();
  const invalid = isDate(from) && isDate(to) && from > to;

  const apply = (next: Partial<Range>) => {
    const r = { from, to, tz: range.tz, ...next };
    if (isDate(r.from) && isDate(r.to) && r.from <= r.to) onChange(r);
  };

  return (
    <fieldset className="db-range">
      <legend>Days</legend>
      <div>
        <label htmlFor={`${id}-from`}>From</label>
        <input
          id={`${id}-from`}
          type="date"
          value={from}
          max={to || undefined}
          onChange={(e) => {
            setFrom(e.target.value);
            apply({ from: e.target.value });
          }}
        />
      </div>
      <div>
        <label htmlFor={`${id}-to`}>To</label>
        <input
          id={`${id}-to`}
          type="date"
          value={to}
          min={from || undefined}
          onChange={(e) => {
            setTo(e.target.value);
            apply({ to: e.target.value });
          }}
        />
      </div>
      <div>
        <label htmlFor={`${id}-tz`}>Time zone</label>
        <select id={`${id}-tz`} value={range.tz} onChange={(e) => apply({ tz: e.target.value })}>
          {zones.map((z) => (
            <option key={z} value={z}>
              {z}
            </option>
          ))}
        </select>
      </div>
      {invalid && (
        <p className="ab-error" role="alert">
          The first day must not be after the last.
        </p>
      )}
    </fieldset>
  );
}
