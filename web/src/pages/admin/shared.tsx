import { useEffect, useRef, useState } from "preact/hooks";
import type { ComponentChildren } from "preact";
import { problemText } from "../../problem.js";
import { usePage } from "../../session.js";

/** What an openapi-fetch call answers: the body, or the problem. */
type Answer<T> = { data?: T; error?: unknown };

/** A listing loaded from /v1, loaded again whenever `version` changes (after an action). */
export function useListing<T>(load: () => Promise<Answer<T>>, version: number): { data: T | null; error: string | null } {
  const [state, setState] = useState<{ data: T | null; error: string | null }>({ data: null, error: null });
  useEffect(() => {
    let live = true;
    void load().then(
      ({ data, error }) => live && setState(data !== undefined ? { data, error: null } : { data: null, error: problemText(error) }),
      (err: unknown) => live && setState({ data: null, error: `vmres could not be reached: ${String(err)}` }),
    );
    return () => {
      live = false;
    };
    // `load` is a new closure each render; `version` says when to load again.
  }, [version]);
  return state;
}

/** How an action went: said next to where it was asked (refusals inline, in the core's words). */
export type Outcome = { ok: boolean; text: string } | null;

/** Runs an action: its success text, or the refusal's; `done` reloads the listings. */
export async function act<T>(call: Promise<Answer<T>>, success: (data: T) => string, done: () => void): Promise<Outcome> {
  try {
    const { data, error } = await call;
    if (data === undefined) return { ok: false, text: problemText(error) };
    done();
    return { ok: true, text: success(data) };
  } catch (err) {
    return { ok: false, text: `vmres could not be reached: ${String(err)}` };
  }
}

/** The outcome of the section's last action: a status for a success, an alert for a refusal. */
export function OutcomeLine({ outcome }: { outcome: Outcome }) {
  return (
    <div role="status" aria-live="polite">
      {outcome && (outcome.ok ? <p class="ok">{outcome.text}</p> : <p class="error">{outcome.text}</p>)}
    </div>
  );
}

/** A section's listing: loading, its refusal, an empty sentence, or the table. */
export function Listing<T>({ state, empty, children }: { state: { data: T[] | null; error: string | null }; empty: string; children: (rows: T[]) => ComponentChildren }) {
  if (state.error) return <p role="alert">{state.error}</p>;
  if (state.data === null) return <p>Loading…</p>;
  if (state.data.length === 0) return <p class="muted">{empty}</p>;
  return <>{children(state.data)}</>;
}

/**
 * A destructive action asked twice: the first click asks "Really …?" in place,
 * with the action and Cancel (focus on Cancel, so Enter by habit does nothing harmful).
 */
export function ConfirmButton({ label, name, question, confirm, onConfirm }: { label: string; name: string; question: string; confirm: string; onConfirm: () => Promise<void> }) {
  const [asking, setAsking] = useState(false);
  const [busy, setBusy] = useState(false);
  const cancelRef = useRef<HTMLButtonElement>(null);
  useEffect(() => {
    if (asking) cancelRef.current?.focus();
  }, [asking]);
  if (!asking) {
    return (
      <button type="button" class="secondary" aria-label={name} onClick={() => setAsking(true)}>
        {label}
      </button>
    );
  }
  return (
    <span role="group" aria-label={question}>
      <span>{question} </span>
      <button
        type="button"
        class="danger"
        disabled={busy}
        onClick={() => {
          setBusy(true);
          void onConfirm().finally(() => {
            setBusy(false);
            setAsking(false);
          });
        }}
      >
        {confirm}
      </button>{" "}
      <button type="button" class="secondary" ref={cancelRef} onClick={() => setAsking(false)}>
        Cancel
      </button>
    </span>
  );
}

/** Times in the person's zone. */
export function useWhen(): (iso: string | null) => string {
  const { timeZone } = usePage();
  const format = new Intl.DateTimeFormat(undefined, { timeZone, dateStyle: "medium", timeStyle: "short" });
  return (iso) => (iso === null ? "–" : format.format(new Date(iso)));
}
