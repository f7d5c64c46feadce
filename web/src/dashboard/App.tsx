import { useEffect, useState } from "react";
import { ClientView } from "./ClientView";
import { OperatorView } from "./OperatorView";
import { CLIENT_TOKEN_KEY, parseFragment, storeToken, type View } from "./session";

/**
 * takeFragment reads `#token=...` and `#view=...` once at start: a token is moved into
 * sessionStorage and removed from the address bar and history.
 */
function takeFragment(): View {
  const { token, view } = parseFragment(window.location.hash);
  if (token) {
    storeToken(CLIENT_TOKEN_KEY, token);
    const { pathname, search } = window.location;
    window.history.replaceState(null, "", `${pathname}${search}#view=client`);
    return "client";
  }
  return view ?? "client";
}

/** App is the dashboard page: a client view and an operator view of the usage API at baseUrl. */
export function App({ baseUrl = "./" }: { baseUrl?: string }) {
  const [view, setView] = useState<View>(takeFragment);
  useEffect(() => {
    const onHash = () => {
      const v = parseFragment(window.location.hash).view;
      if (v) setView(v);
    };
    window.addEventListener("hashchange", onHash);
    return () => window.removeEventListener("hashchange", onHash);
  }, []);

  return (
    <>
      <header className="db-header">
        <h1>API usage</h1>
        <nav aria-label="Views">
          <a href="#view=client" aria-current={view === "client" ? "page" : undefined}>
            My usage
          </a>
          <a href="#view=operator" aria-current={view === "operator" ? "page" : undefined}>
            Operator
          </a>
        </nav>
      </header>
      <main className="db-main">
        {view === "client" ? <ClientView baseUrl={baseUrl} /> : <OperatorView baseUrl={baseUrl} />}
      </main>
    </>
  );
}
