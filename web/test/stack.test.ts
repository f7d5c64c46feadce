import { describe, expect, it } from "vitest";
import { niceTicks, OTHER_ROUTES, PALETTE, stackUsage } from "../src/stack";
import { usageReport } from "./fixtures";

describe("stackUsage", () => {
  it("stacks every day by route, the route with the most credits at the bottom", () => {
    const s = stackUsage(usageReport);
    expect(s.days).toHaveLength(30);
    expect(s.series.map((r) => [r.name, r.total, r.color])).toEqual([
      ["/api/fetch-expensive-data", 35, PALETTE[0]],
      ["/api/fetch-data", 7.5, PALETTE[1]],
    ]);
    const first = s.days[0];
    expect(first.segments.map((g) => [g.series.name, g.value, g.y0, g.y1])).toEqual([
      ["/api/fetch-expensive-data", 5, 0, 5],
      ["/api/fetch-data", 2, 5, 7],
    ]);
    expect(s.days[3]).toMatchObject({ date: "2026-11-04", total: 0, segments: [] });
    expect(s.max).toBe(35);
  });

  it("sums the routes past the maximum as Other routes", () => {
    const routes = Object.fromEntries(Array.from({ length: 5 }, (_, i) => [`/r${i}`, 5 - i]));
    const s = stackUsage({ from: "2026-11-01", to: "2026-11-01", days: [{ date: "2026-11-01", total: 15, routes }] }, 3);
    expect(s.series.map((r) => [r.name, r.total])).toEqual([
      ["/r0", 5],
      ["/r1", 4],
      [OTHER_ROUTES, 6],
    ]);
    expect(s.series[2].routes).toEqual(["/r2", "/r3", "/r4"]);
    expect(s.days[0].segments.at(-1)).toMatchObject({ value: 6, y0: 9, y1: 15 });
  });

  it("adds credits without binary noise", () => {
    const s = stackUsage({
      from: "2026-11-01",
      to: "2026-11-02",
      days: [
        { date: "2026-11-01", total: 0.1, routes: { "/a": 0.1 } },
        { date: "2026-11-02", total: 0.2, routes: { "/a": 0.2 } },
      ],
    });
    expect(s.series[0].total).toBe(0.3);
  });
});

describe("niceTicks", () => {
  it("gives round steps from zero past the maximum", () => {
    expect(niceTicks(35)).toEqual([0, 10, 20, 30, 40]);
    expect(niceTicks(7)).toEqual([0, 2, 4, 6, 8]);
    expect(niceTicks(100)).toEqual([0, 25, 50, 75, 100]);
    expect(niceTicks(0.5)).toEqual([0, 0.2, 0.4, 0.6]);
    expect(niceTicks(0)).toEqual([0, 1]);
  });
});
