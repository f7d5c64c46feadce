import { describe, expect, it } from "vitest";
import { addDays, daysBetween, fillDays, isDate, lastDays, todayIn } from "../src/days";
import { usageReport } from "./fixtures";

describe("calendar dates", () => {
  it("tells real dates", () => {
    expect(isDate("2026-11-30")).toBe(true);
    expect(isDate("2028-02-29")).toBe(true);
    expect(isDate("2026-02-29")).toBe(false);
    expect(isDate("2026-11-31")).toBe(false);
    expect(isDate("26-11-01")).toBe(false);
    expect(isDate("")).toBe(false);
  });

  it("adds days across months, years and leap days", () => {
    expect(addDays("2026-11-30", 1)).toBe("2026-12-01");
    expect(addDays("2026-12-31", 1)).toBe("2027-01-01");
    expect(addDays("2028-03-01", -1)).toBe("2028-02-29");
    expect(addDays("2026-03-29", 0)).toBe("2026-03-29");
  });

  it("lists every day of a range, both ends included", () => {
    expect(daysBetween("2026-10-30", "2026-11-02")).toEqual(["2026-10-30", "2026-10-31", "2026-11-01", "2026-11-02"]);
    expect(daysBetween("2026-11-02", "2026-11-01")).toEqual([]);
  });

  it("finds today in a zone", () => {
    const now = new Date("2026-12-03T23:30:00Z");
    expect(todayIn("UTC", now)).toBe("2026-12-03");
    expect(todayIn("Asia/Tokyo", now)).toBe("2026-12-04");
    expect(todayIn("America/Los_Angeles", now)).toBe("2026-12-03");
  });

  it("makes the default range: the last 30 days, today included", () => {
    expect(lastDays(30, "UTC", new Date("2026-12-03T10:00:00Z"))).toEqual({ from: "2026-11-04", to: "2026-12-03" });
  });

  it("zero-fills the days a report lacks", () => {
    const days = fillDays(usageReport);
    expect(days).toHaveLength(30);
    expect(days.map((d) => d.date)).toEqual(daysBetween("2026-11-01", "2026-11-30"));
    expect(days[3]).toEqual({ date: "2026-11-04", total: 0, routes: {} });
    expect(days[0]).toBe(usageReport.days[0]);
  });
});
