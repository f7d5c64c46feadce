import { useCallback, useState } from "react";

/** Where the dashboard keeps tokens: sessionStorage only, so they end with the tab. */
export const CLIENT_TOKEN_KEY = "apibilling.token";
export const ADMIN_TOKEN_KEY = "apibilling.adminToken";

export type View = "client" | "operator";

function read(key: string): string {
  try {
    return sessionStorage.getItem(key) ?? "";
  } catch {
    return ""; // storage disabled: the token lives in memory only
  }
}

/** storeToken keeps a token for this tab, or forgets it when empty. */
export function storeToken(key: string, token: string): void {
  try {
    if (token) sessionStorage.setItem(key, token);
    else sessionStorage.removeItem(key);
  } catch {
    // storage disabled
  }
}

/** useStoredToken is a token kept in sessionStorage under key. */
export function useStoredToken(key: string): [string, (token: string) => void] {
  const [token, setToken] = useState(() => read(key));
  const set = useCallback(
    (t: string) => {
      const clean = t.trim();
      storeToken(key, clean);
      setToken(clean);
    },
    [key],
  );
  return [token, set];
}

/** Fragment holds what the page's URL fragment says: `#token=...` and `#view=client|operator`. */
export interface Fragment {
  token?: string;
  view?: View;
}

/** parseFragment reads `#token=...&view=...` from a location hash. */
export function parseFragment(hash: string): Fragment {
  const params = new URLSearchParams(hash.replace(/^#/, ""));
  const view = params.get("view");
  return {
    token: params.get("token") || undefined,
    view: view === "client" || view === "operator" ? view : undefined,
  };
}
