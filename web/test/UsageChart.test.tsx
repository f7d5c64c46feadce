import { render, screen, within } from "@testing-library/react";
import { describe, expect, it } from "vitest";
import { createClient } from "../src/api";
import { PALETTE } from "../src/stack";
import { UsageChart } from "../src/UsageChart";
import { fakeFetch, json, problem, usageReport } from "./fixtures";

function bars(container: HTMLElement) {
  return [...container.querySelectorAll<SVGGElement>(".ab-bars > g")];
}

describe("UsageChart", () => {
  it("draws one bar per day of the range, zero-filled, stacked by route", () => {
    const { container } = render(<UsageChart data={usageReport} locale="en-GB" height={240} />);
    const days = bars(container);
    expect(days).toHaveLength(30);
    expect(days.map((g) => g.dataset.date)).toContain("2026-11-04"); // missing from the report
    expect(days[3].querySelectorAll("rect")).toHaveLength(0);
    expect(days[1].querySelectorAll("rect")).toHaveLength(0);

    const first = [...days[0].querySelectorAll("rect")];
    expect(first.map((r) => [r.dataset.route, r.dataset.value, r.getAttribute("fill")])).toEqual([
      ["/api/fetch-expensive-data", "5", PALETTE[0]],
      ["/api/fetch-data", "2", PALETTE[1]],
    ]);
    // Stacked: the second segment sits on the first, heights in proportion to credits.
    const [bottom, top] = first.map((r) => ({ y: +r.getAttribute("y")!, h: +r.getAttribute("height")! }));
    expect(top.y + top.h).toBeCloseTo(bottom.y);
    expect(bottom.h / top.h).toBeCloseTo(5 / 2);

    // The tallest day (35 credits) reaches 35/40 of the axis (ticks 0..40).
    const last = [...days[29].querySelectorAll("rect")];
    const height = last.reduce((sum, r) => sum + +r.getAttribute("height")!, 0);
    expect(height).toBeCloseTo((35 / 40) * (240 - 8 - 24));
  });

  it("names the chart and summarises it for assistive technology", () => {
    render(<UsageChart data={usageReport} locale="en-GB" />);
    const img = screen.getByRole("img");
    expect(img.tagName.toLowerCase()).toBe("svg");
    expect(img.getAttribute("aria-labelledby")!.split(" ")).toHaveLength(2);
    expect(img.querySelector("title")!.textContent).toBe("Credits per day by route, 1 Nov 2026 to 30 Nov 2026");
    expect(img.querySelector("desc")!.textContent).toContain("the busiest day was 30 Nov 2026 with 35 credits");
    expect(screen.getByText("42.5 credits")).toBeTruthy();
  });

  it("has a legend with each route's credits", () => {
    render(<UsageChart data={usageReport} locale="en-GB" />);
    const legend = screen.getByRole("list", { name: "Routes" });
    const items = within(legend).getAllByRole("listitem").map((li) => li.textContent);
    expect(items).toEqual(["/api/fetch-expensive-data 35", "/api/fetch-data 7.5"]);
  });

  it("has a table with a row per day, zeros included, and the totals", () => {
    render(<UsageChart data={usageReport} locale="en-GB" />);
    const table = screen.getByRole("table");
    const rows = within(table).getAllByRole("row");
    expect(rows).toHaveLength(1 + 30 + 1);
    const cells = (row: HTMLElement) => [...row.querySelectorAll("th, td")].map((c) => c.textContent);
    expect(cells(rows[0])).toEqual(["Date", "/api/fetch-expensive-data", "/api/fetch-data", "Total"]);
    expect(cells(rows[1])).toEqual(["2026-11-01", "5", "2", "7"]);
    expect(cells(rows[4])).toEqual(["2026-11-04", "0", "0", "0"]);
    expect(cells(rows[31])).toEqual(["Total", "35", "7.5", "42.5"]);
  });

  it("says so when the range has no usage", () => {
    const empty = { ...usageReport, total: 0, days: [] };
    const { container } = render(<UsageChart data={empty} locale="en-GB" />);
    expect(bars(container)).toHaveLength(30);
    expect(screen.getByText("No usage in this range.")).toBeTruthy();
    expect(screen.getByRole("img").querySelector("desc")!.textContent).toBe("No usage in these 30 days.");
  });

  it("reads a client's usage over the range with the token", async () => {
    const { fetch, calls } = fakeFetch(() => json(usageReport));
    const api = createClient({ baseUrl: "/billing/", token: "admin", fetch });
    const { container } = render(
      <UsageChart api={api} client="client1" from="2026-11-01" to="2026-11-30" tz="Europe/Berlin" />,
    );
    expect(await screen.findByRole("heading", { name: "Usage of client1 per day" })).toBeTruthy();
    await screen.findByRole("img");
    expect(bars(container)).toHaveLength(30);
    expect(calls[0].url).toBe("/billing/api/clients/client1/usage?from=2026-11-01&to=2026-11-30&tz=Europe%2FBerlin");
    expect(calls[0].headers.get("Authorization")).toBe("Bearer admin");
  });

  it("reads the caller's usage without a client, and shows a refusal", async () => {
    const { fetch, calls } = fakeFetch(() => problem(400, "Bad range", "from is after to"));
    render(<UsageChart api={createClient({ baseUrl: "./", fetch })} from="2026-11-01" to="2026-11-30" />);
    expect((await screen.findByRole("alert")).textContent).toBe("from is after to");
    expect(calls[0].url).toBe("./api/me/usage?from=2026-11-01&to=2026-11-30");
  });
});
