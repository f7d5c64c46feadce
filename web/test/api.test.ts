import { describe, expect, it } from "vitest";
import { ApiError, createClient } from "../src/api";
import { clientList, fakeFetch, json, problem, quotaReport, usageReport } from "./fixtures";

describe("createClient", () => {
  it("sends the token as a bearer header and asks for JSON", async () => {
    const { fetch, calls } = fakeFetch(() => json(quotaReport));
    const api = createClient({ baseUrl: "/billing/", token: "tok-123", fetch });
    await expect(api.me()).resolves.toEqual(quotaReport);
    expect(calls).toHaveLength(1);
    expect(calls[0].url).toBe("/billing/api/me");
    expect(calls[0].headers.get("Authorization")).toBe("Bearer tok-123");
    expect(calls[0].headers.get("Accept")).toBe("application/json");
  });

  it("sends no Authorization header without a token", async () => {
    const { fetch, calls } = fakeFetch(() => json(quotaReport));
    await createClient({ baseUrl: "/billing/", fetch }).me();
    expect(calls[0].headers.has("Authorization")).toBe(false);
  });

  it("builds paths below the mount point, with the range as query", async () => {
    const { fetch, calls } = fakeFetch(() => json(usageReport));
    const api = createClient({ baseUrl: "https://example.test/billing", fetch });
    await api.meUsage({ from: "2026-11-01", to: "2026-11-30", tz: "Europe/Berlin" });
    await api.clientUsage("team a/1", { from: "2026-11-01", to: "2026-11-30" });
    expect(calls[0].url).toBe("https://example.test/billing/api/me/usage?from=2026-11-01&to=2026-11-30&tz=Europe%2FBerlin");
    expect(calls[1].url).toBe("https://example.test/billing/api/clients/team%20a%2F1/usage?from=2026-11-01&to=2026-11-30");
  });

  it("reads the operator endpoints", async () => {
    const { fetch, calls } = fakeFetch((path) => (path === "api/clients" ? json(clientList) : json(quotaReport)));
    const api = createClient({ baseUrl: "./", token: "admin", fetch });
    await expect(api.clients({ nearLimit: 0.8 })).resolves.toEqual(clientList);
    await expect(api.client("client1")).resolves.toEqual(quotaReport);
    expect(calls.map((c) => c.url)).toEqual(["./api/clients?near_limit=0.8", "./api/clients/client1"]);
  });

  it("fetches CSV with format=csv and Accept: text/csv", async () => {
    const csv = "client,date,route,credits\nclient1,2026-11-01,/api/fetch-data,2\n";
    const { fetch, calls } = fakeFetch(
      () => new Response(csv, { headers: { "Content-Type": "text/csv; charset=utf-8" } }),
    );
    const api = createClient({ baseUrl: "/billing/", token: "admin", fetch });
    const blob = await api.usageCsv({ from: "2026-11-01", to: "2026-11-30", tz: "UTC" });
    expect(await blob.text()).toBe(csv);
    expect(calls[0].url).toBe("/billing/api/usage?from=2026-11-01&to=2026-11-30&tz=UTC&format=csv");
    expect(calls[0].headers.get("Accept")).toBe("text/csv");
    expect(calls[0].headers.get("Authorization")).toBe("Bearer admin");
  });

  it("rejects with the problem+json of an error answer", async () => {
    const { fetch } = fakeFetch(() => problem(401, "Unauthorized", "The token is wrong or has expired."));
    const err = await createClient({ baseUrl: "/billing/", token: "nope", fetch })
      .me()
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ApiError);
    const apiErr = err as ApiError;
    expect(apiErr.status).toBe(401);
    expect(apiErr.message).toBe("The token is wrong or has expired.");
    expect(apiErr.problem).toMatchObject({ title: "Unauthorized", status: 401, type: "about:blank" });
  });

  it("uses the title when a problem has no detail, and the status when the body is not JSON", async () => {
    const titled = fakeFetch(() => json({ title: "Bad range", status: 400 }, 400, "application/problem+json"));
    await expect(createClient({ baseUrl: "/", fetch: titled.fetch }).me()).rejects.toThrow("Bad range");

    const plain = fakeFetch(() => new Response("oops", { status: 502, statusText: "Bad Gateway" }));
    const err = (await createClient({ baseUrl: "/", fetch: plain.fetch })
      .me()
      .catch((e: unknown) => e)) as ApiError;
    expect(err.status).toBe(502);
    expect(err.message).toBe("Bad Gateway");
  });
});
