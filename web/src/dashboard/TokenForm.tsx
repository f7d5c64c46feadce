import { useId, useState, type FormEvent } from "react";

interface TokenFormProps {
  label: string;
  hint: string;
  token: string;
  onSave: (token: string) => void;
}

/** TokenForm asks for a bearer token in a password field; the token is kept for this tab only. */
export function TokenForm({ label, hint, token, onSave }: TokenFormProps) {
  const [draft, setDraft] = useState(token);
  const inputId = useId();
  const hintId = useId();
  const submit = (e: FormEvent) => {
    e.preventDefault();
    onSave(draft);
  };
  return (
    <form className="db-token" onSubmit={submit}>
      <label htmlFor={inputId}>{label}</label>
      <div className="db-token-row">
        <input
          id={inputId}
          type="password"
          autoComplete="off"
          spellCheck={false}
          aria-describedby={hintId}
          value={draft}
          onChange={(e) => setDraft(e.target.value)}
        />
        <button type="submit">{token ? "Use this token" : "Sign in"}</button>
        {token && (
          <button
            type="button"
            className="db-secondary"
            onClick={() => {
              setDraft("");
              onSave("");
            }}
          >
            Forget token
          </button>
        )}
      </div>
      <p id={hintId} className="db-hint">
        {hint}
      </p>
    </form>
  );
}
