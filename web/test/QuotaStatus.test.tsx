import { render, screen, within } from "@testing-library/react";
import { describe, expect, it, vi } from "vitest";
import { createClient } from "../src/api";
import { QuotaMeter } from "../src/QuotaMeter";
import { QuotaStatus } from "../src/QuotaStatus";
import { fakeFetch, json, problem, quotaReport } from "./fixtures";

const fmt = { locale: "en-GB", timeZone: "UTC" };

describe("QuotaStatus", () => {
  it("shows used against limit as a progress bar, what remains and the renewal", () => {
    render(<QuotaStatus data={quotaReport} {...fmt} />);
    const bar = screen.getByRole("progressbar", { name: "Per day" });
    expect(bar.getAttribute("aria-valuemin")).toBe("0");
    expect(bar.getAttribute("aria-valuemax")).toBe("500");
    expect(bar.getAttribute("aria-valuenow")).toBe("12");
    expect(bar.getAttribute("aria-valuetext")).toBe("12 of 500 credits used (2%)");
    expect((bar.firstElementChild as HTMLElement).style.width).toBe("2.4%");

    const day = bar.closest("li")!;
    expect(within(day).getByText("12 / 500")).toBeTruthy();
    expect(within(day).getByText("488")).toBeTruthy();
    const renews = day.querySelector("time")!;
    expect(renews.getAttribute("datetime")).toBe("2026-12-04T00:00:00Z");
    expect(renews.textContent).toBe("4 Dec 2026, 00:00");
    expect(within(day).getByText("(in 14 hours)")).toBeTruthy();

    expect(screen.getByRole("heading", { name: "Quotas" })).toBeTruthy();
    const asOf = screen.getByText(/As of/).querySelector("time")!;
    expect(asOf.getAttribute("datetime")).toBe("2026-12-03T10:00:00Z");
  });

  it("shows an unlimited quota as unlimited, without a bar", () => {
    render(<QuotaStatus data={quotaReport} {...fmt} />);
    expect(screen.getAllByRole("progressbar")).toHaveLength(1);
    const month = screen.getByText("Per month").closest("li")!;
    expect(within(month).queryByRole("progressbar")).toBeNull();
    expect(within(month).getByText("unlimited", { selector: "strong" })).toBeTruthy();
    expect(within(month).getByText("unlimited", { selector: "dd" })).toBeTruthy();
    expect(within(month).getByText(/3\.5 used/)).toBeTruthy();
  });

  it("reads api/me with the token", async () => {
    const { fetch, calls } = fakeFetch(() => json(quotaReport));
    render(<QuotaStatus api={createClient({ baseUrl: "/billing/", token: "portal-1", fetch })} {...fmt} />);
    expect(await screen.findByRole("progressbar", { name: "Per day" })).toBeTruthy();
    expect(calls.map((c) => c.url)).toEqual(["/billing/api/me"]);
    expect(calls[0].headers.get("Authorization")).toBe("Bearer portal-1");
    expect(screen.getByText(/Client client1/)).toBeTruthy();
  });

  it("reads api/clients/{id} for a client, through baseUrl and token", async () => {
    const { fetch, calls } = fakeFetch(() => json(quotaReport));
    vi.stubGlobal("fetch", fetch);
    render(<QuotaStatus baseUrl="/admin/billing/" token="admin" client="client1" {...fmt} />);
    expect(await screen.findByRole("heading", { name: "Quotas of client1" })).toBeTruthy();
    await screen.findByRole("progressbar");
    expect(calls[0].url).toBe("/admin/billing/api/clients/client1");
    expect(calls[0].headers.get("Authorization")).toBe("Bearer admin");
  });

  it("shows the problem's detail when the API refuses", async () => {
    const { fetch } = fakeFetch(() => problem(401, "Unauthorized", "Unknown or expired portal token."));
    render(<QuotaStatus api={createClient({ baseUrl: "/billing/", token: "bad", fetch })} />);
    expect((await screen.findByRole("alert")).textContent).toBe("Unknown or expired portal token.");
    expect(screen.queryByRole("progressbar")).toBeNull();
  });
});

describe("QuotaMeter", () => {
  it("keeps aria-valuenow within the range when usage passes the limit", () => {
    render(<QuotaMeter quota={{ period: "hour", limit: 100, used: 104.5, remaining: 0 }} locale="en" />);
    const bar = screen.getByRole("progressbar", { name: "Per hour" });
    expect(bar.getAttribute("aria-valuenow")).toBe("100");
    expect(bar.getAttribute("aria-valuetext")).toBe("104.5 of 100 credits used (100%), over the limit");
    expect(bar.parentElement!.className).toContain("ab-meter-full");
  });

  it("marks a quota at 80% or more as near its limit", () => {
    render(<QuotaMeter quota={{ period: "hour", limit: 100, used: 80, remaining: 20 }} ariaLabel="client2, per hour" />);
    const bar = screen.getByRole("progressbar", { name: "client2, per hour" });
    expect(bar.parentElement!.className).toContain("ab-meter-warn");
  });
});
