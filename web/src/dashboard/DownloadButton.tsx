import { useState } from "react";
import { saveBlob } from "./download";

interface DownloadButtonProps {
  label: string;
  filename: string;
  load: () => Promise<Blob>;
}

/** DownloadButton fetches a file with the page's token (a header, so no plain link) and saves it. */
export function DownloadButton({ label, filename, load }: DownloadButtonProps) {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState("");
  const click = async () => {
    setBusy(true);
    setError("");
    try {
      saveBlob(await load(), filename);
    } catch (e) {
      setError(e instanceof Error ? e.message : String(e));
    } finally {
      setBusy(false);
    }
  };
  return (
    <div className="db-download">
      <button type="button" onClick={click} disabled={busy}>
        {busy ? "Preparing…" : label}
      </button>
      {error && (
        <p className="ab-error" role="alert">
          {error}
        </p>
      )}
    </div>
  );
}
