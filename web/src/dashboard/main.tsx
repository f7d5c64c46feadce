import { StrictMode } from "react";
import { createRoot } from "react-dom/client";
import "../styles.css";
import "./dashboard.css";
import { App } from "./App";

// The page is served at the mount point of the usage API, so the API is at "./api/...".
createRoot(document.getElementById("root")!).render(
  <StrictMode>
    <App baseUrl="./" />
  </StrictMode>,
);
