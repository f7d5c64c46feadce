import { fireEvent, render, screen, waitFor, within } from "@testing-library/react";
import { beforeEach, describe, expect, it, vi } from "vitest";
import { App } from "../src/dashboard/App";
import { ADMIN_TOKEN_KEY, CLIENT_TOKEN_KEY, parseFragment } from "../src/dashboard/session";
import { clientList, fakeFetch, json, problem, quotaReport, usageReport } from "./fixtures";

const ADMIN = "s3cret-admin";
const CSV = "client,date,route,credits\nclient1,2026-11-01,/api/fetch-data,2\n";

/** api is a fake of the usage API at /billing/: the admin token and the portal token "portal-1". */
function api() {
  return fakeFetch((path, call) => {
    const auth = call.headers.get("Authorization");
    if (path.startsWith("api/me")) {
      if (auth !== "Bearer portal-1") return problem(401, "Unauthorized", "Unknown or expired portal token.");
      return json(path === "api/me" ? quotaReport : usageReport);
    }
    if (auth !== `Bearer ${ADMIN}`) return problem(401, "Unauthorized", "The admin token is wrong.");
    if (path === "api/clients") return json(clientList);
    if (path === "api/usage") return new Response(CSV, { headers: { "Content-Type": "text/csv" } });
    const m = /^api\/clients\/([^/]+)\/usage$/.exec(path);
    if (m) return json({ ...usageReport, client: decodeURIComponent(m[1]) });
    return problem(404, "Not Found", `no ${path}`);
  });
}

beforeEach(() => {
  window.history.replaceState(null, "", "/billing/");
});

describe("fragment", () => {
  it("reads the token and the view", () => {
    expect(parseFragment("#token=abc%2B1&view=operator")).toEqual({ token: "abc+1", view: "operator" });
    expect(parseFragment("#view=nonsense")).toEqual({ token: undefined, view: undefined });
    expect(parseFragment("")).toEqual({ token: undefined, view: undefined });
  });
});

describe("client view", () => {
  it("takes #token= from the URL into sessionStorage, hides it, and shows the caller's quotas and usage", async () => {
    const { fetch, calls } = api();
    vi.stubGlobal("fetch", fetch);
    window.history.replaceState(null, "", "/billing/#token=portal-1");
    const { container } = render(<App baseUrl="./" />);

    expect(window.location.hash).toBe("#view=client");
    expect(sessionStorage.getItem(CLIENT_TOKEN_KEY)).toBe("portal-1");
    expect(await screen.findByRole("progressbar", { name: "Per day" })).toBeTruthy();
    await screen.findByRole("img");
    expect(container.querySelectorAll(".ab-bars > g")).toHaveLength(30);

    const paths = calls.map((c) => c.path).sort();
    expect(paths).toEqual(["api/me", "api/me/usage"]);
    for (const c of calls) expect(c.headers.get("Authorization")).toBe("Bearer portal-1");
    const usage = calls.find((c) => c.path === "api/me/usage")!;
    expect(usage.query.get("tz")).toBe("UTC");
  });

  it("asks for a token and shows the API's refusal of a wrong one", async () => {
    const { fetch, calls } = api();
    vi.stubGlobal("fetch", fetch);
    render(<App />);
    expect(calls).toHaveLength(0);
    fireEvent.change(screen.getByLabelText("Access token"), { target: { value: "wrong" } });
    fireEvent.click(screen.getByRole("button", { name: "Sign in" }));
    await waitFor(() => expect(screen.getAllByRole("alert").map((a) => a.textContent)).toContain("Unknown or expired portal token."));
    expect(sessionStorage.getItem(CLIENT_TOKEN_KEY)).toBe("wrong");
  });
});

describe("operator view", () => {
  it("shows the 401 problem's message for a wrong admin token", async () => {
    const { fetch } = api();
    vi.stubGlobal("fetch", fetch);
    window.history.replaceState(null, "", "/billing/#view=operator");
    render(<App />);
    const field = screen.getByLabelText("Admin token");
    expect(field.getAttribute("type")).toBe("password");
    fireEvent.change(field, { target: { value: "guess" } });
    fireEvent.click(screen.getByRole("button", { name: "Sign in" }));
    expect((await screen.findByRole("alert")).textContent).toBe("The admin token is wrong.");
    expect(screen.queryByRole("table")).toBeNull();
    expect(sessionStorage.getItem(ADMIN_TOKEN_KEY)).toBe("guess");
  });

  it("lists clients with their quotas, charts the chosen one and downloads the CSV with the token", async () => {
    const { fetch, calls } = api();
    vi.stubGlobal("fetch", fetch);
    sessionStorage.setItem(ADMIN_TOKEN_KEY, ADMIN);
    window.history.replaceState(null, "", "/billing/#view=operator");
    render(<App />);

    const table = await screen.findByRole("table", { name: "Clients and their quotas" });
    const bar = within(table).getByRole("progressbar", { name: "client2, per hour" });
    expect(bar.getAttribute("aria-valuenow")).toBe("95");
    expect(bar.getAttribute("aria-valuemax")).toBe("100");
    expect(within(table).getAllByText("renews", { exact: false })).toHaveLength(3);
    expect(await screen.findByRole("heading", { name: "Usage of client1 per day" })).toBeTruthy();

    fireEvent.click(within(table).getByRole("button", { name: "Usage of client2" }));
    expect(await screen.findByRole("heading", { name: "Usage of client2 per day" })).toBeTruthy();
    await waitFor(() => expect(calls.some((c) => c.path === "api/clients/client2/usage")).toBe(true));
    expect((screen.getByLabelText("Client") as HTMLSelectElement).value).toBe("client2");

    const saved: Blob[] = [];
    const createObjectURL = vi.fn((b: Blob) => {
      saved.push(b);
      return "blob:csv";
    });
    vi.stubGlobal("URL", Object.assign(URL, { createObjectURL, revokeObjectURL: vi.fn() }));
    const click = vi.spyOn(HTMLAnchorElement.prototype, "click").mockImplementation(() => {});
    fireEvent.click(screen.getByRole("button", { name: "Download CSV of all clients" }));
    await waitFor(() => expect(click).toHaveBeenCalled());

    const csv = calls.find((c) => c.path === "api/usage")!;
    expect(csv.query.get("format")).toBe("csv");
    expect(csv.query.get("tz")).toBe("UTC");
    expect(csv.query.get("from")).toMatch(/^\d{4}-\d{2}-\d{2}$/);
    expect(csv.headers.get("Authorization")).toBe(`Bearer ${ADMIN}`);
    expect(await saved[0].text()).toBe(CSV);
    const anchor = click.mock.contexts[0] as HTMLAnchorElement;
    expect(anchor.download).toMatch(/^usage-all-\d{4}-\d{2}-\d{2}-to-\d{4}-\d{2}-\d{2}\.csv$/);
    for (const c of calls) expect(c.headers.get("Authorization")).toBe(`Bearer ${ADMIN}`);
  });

  it("filters clients near a limit", async () => {
    const { fetch, calls } = api();
    vi.stubGlobal("fetch", fetch);
    sessionStorage.setItem(ADMIN_TOKEN_KEY, ADMIN);
    window.history.replaceState(null, "", "/billing/#view=operator");
    render(<App />);
    fireEvent.click(await screen.findByLabelText("Only clients at 80% or more of a quota"));
    await waitFor(() => expect(calls.some((c) => c.query.get("near_limit") === "0.8")).toBe(true));
  });
});
