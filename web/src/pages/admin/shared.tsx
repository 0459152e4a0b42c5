import { useEffect, useRef, useState } from "preact/hooks";
import { problemText } from "../../problem.js";
import { usePage } from "../../session.js";
import type { Answer } from "../../ui.js";

/** How an action went: said next to where it was asked (refusals inline, in the core's words). */
export type Outcome = { ok: boolean; text: string } | null;

/** Runs an action: its success text, or the refusal's; `done` reloads the listings. */
async function act<T>(call: Promise<Answer<T>>, success: (data: T) => string, done: () => void): Promise<Outcome> {
  try {
    const { data, error } = await call;
    if (data === undefined) return { ok: false, text: problemText(error) };
    done();
    return { ok: true, text: success(data) };
  } catch (err) {
    return { ok: false, text: `vmres could not be reached: ${String(err)}` };
  }
}

/** A section's last outcome, and `run`, which does an action and says how it went (`done` after a success). */
export function useActions(): { outcome: Outcome; run: <T>(call: Promise<Answer<T>>, success: (data: T) => string, done: () => void) => Promise<void> } {
  const [outcome, setOutcome] = useState<Outcome>(null);
  return { outcome, run: async (call, success, done) => setOutcome(await act(call, success, done)) };
}

/** The outcome of the section's last action: a status for a success, an alert for a refusal. */
export function OutcomeLine({ outcome }: { outcome: Outcome }) {
  return (
    <div role="status" aria-live="polite">
      {outcome && (outcome.ok ? <p class="ok">{outcome.text}</p> : <p class="error">{outcome.text}</p>)}
    </div>
  );
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
