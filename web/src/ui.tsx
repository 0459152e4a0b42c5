import { useCallback, useEffect, useRef, useState } from "preact/hooks";
import type { ComponentChildren } from "preact";
import { problemText } from "./problem.js";

/** What an openapi-fetch call answers: the body, or the problem. */
export type Answer<T> = { data?: T; error?: unknown };

/** What a page shows while it loads: the body, or the refusal in the core's words. */
export type Loaded<T> = { data: T | null; error: string | null };

/**
 * A listing loaded from /v1: loaded again whenever `version` changes (after an action or a live
 * update) or `key` does (a new filter, another VM). An answer is shown if it is newer than the one
 * shown and was asked for the current `key`: a reload does not throw away the answer still on its
 * way, so a page whose pools change faster than /v1 answers still shows each answer in turn
 * (before, every live update dropped the answer in flight, and under such a stream the page kept
 * its old rows), while an answer for a filter no longer set is never shown.
 */
export function useListing<T>(load: () => Promise<Answer<T>>, version: unknown, key: unknown = null): Loaded<T> {
  const [state, setState] = useState<Loaded<T>>({ data: null, error: null });
  const asked = useRef({ key, sent: 0, shown: 0, mounted: true });
  asked.current.key = key;
  useEffect(
    () => () => {
      asked.current.mounted = false;
    },
    [],
  );
  useEffect(() => {
    const a = asked.current;
    const mine = ++a.sent;
    const show = (next: Loaded<T>) => {
      if (!a.mounted || a.key !== key || mine < a.shown) return;
      a.shown = mine;
      setState(next);
    };
    void load().then(
      ({ data, error }) => show(data !== undefined ? { data, error: null } : { data: null, error: problemText(error) }),
      (err: unknown) => show({ data: null, error: `vmres could not be reached: ${String(err)}` }),
    );
    // `load` is a new closure each render; `version` and `key` say when to load again.
  }, [version, key]);
  return state;
}

/** A version for `useListing`, and what bumps it (after a change made here or a live update). */
export function useVersion(): [number, () => void] {
  const [version, setVersion] = useState(0);
  return [version, useCallback(() => setVersion((v) => v + 1), [])];
}

/** A refusal said in place, or nothing. */
export function Alert({ text }: { text: string | null }) {
  return text ? <p role="alert">{text}</p> : null;
}

/**
 * A listing: its refusal, "Loading…" (or `loading`) until it comes, an empty sentence
 * (a string is said muted), or what `children` draws of its rows.
 */
export function Listing<T>({
  state,
  empty,
  loading = <p>Loading…</p>,
  children,
}: {
  state: Loaded<T[]>;
  empty: ComponentChildren;
  loading?: ComponentChildren;
  children: (rows: T[]) => ComponentChildren;
}) {
  return (
    <>
      <Alert text={state.error} />
      {state.data === null && !state.error && loading}
      {state.data?.length === 0 && (typeof empty === "string" ? <p class="muted">{empty}</p> : empty)}
      {state.data && state.data.length > 0 && children(state.data)}
    </>
  );
}

/** A listing shown as a table (its states as Listing's, its rows as Table's). */
export function ListingTable<T>({
  state,
  empty,
  loading,
  cols,
  row,
}: {
  state: Loaded<T[]>;
  empty: ComponentChildren;
  loading?: ComponentChildren;
  cols: ComponentChildren[];
  row: (r: T) => ComponentChildren;
}) {
  return (
    <Listing state={state} empty={empty} {...(loading !== undefined ? { loading } : {})}>
      {(rows: T[]) => <Table cols={cols} rows={rows} row={row} />}
    </Listing>
  );
}

/**
 * A person's own destructive action asked twice: the first click asks `question` in place,
 * with `confirm` and "Keep it". `busy` (the caller's) disables the buttons while something runs.
 */
export function AskFirst({
  label,
  name,
  group,
  question,
  confirm,
  busy = false,
  onConfirm,
}: {
  label: string;
  name: string;
  group: string;
  question: string;
  confirm: string;
  busy?: boolean;
  onConfirm: () => Promise<void>;
}) {
  const [asking, setAsking] = useState(false);
  if (!asking) {
    return (
      <button type="button" class="danger" disabled={busy} onClick={() => setAsking(true)} aria-label={name}>
        {label}
      </button>
    );
  }
  return (
    <div role="group" aria-label={group} class="inline-form">
      <span>{question}</span>
      <button type="button" class="danger" disabled={busy} onClick={() => void onConfirm().finally(() => setAsking(false))}>
        {confirm}
      </button>
      <button type="button" class="secondary" onClick={() => setAsking(false)}>
        Keep it
      </button>
    </div>
  );
}

/** A column heading said only to screen readers (the column of a row's buttons). */
export const ACTIONS = <span class="visually-hidden">Actions</span>;

/** A section named by its heading. */
export function Section({ id, title, children }: { id: string; title: ComponentChildren; children: ComponentChildren }) {
  return (
    <section aria-labelledby={id}>
      <h2 id={id}>{title}</h2>
      {children}
    </section>
  );
}

/** A table: its caption, its head, then what `row` draws of each row (a <tr key=…>). */
export function Table<T>({ cols, rows, row, caption, class: className }: { cols: ComponentChildren[]; rows: T[]; row: (r: T) => ComponentChildren; caption?: ComponentChildren; class?: string }) {
  return (
    <table class={className}>
      {caption}
      <Head cols={cols} />
      <tbody>{rows.map(row)}</tbody>
    </table>
  );
}

/** A table's head: one column heading each. */
export function Head({ cols }: { cols: ComponentChildren[] }) {
  return (
    <thead>
      <tr>
        {cols.map((c, i) => (
          <th key={i} scope="col">
            {c}
          </th>
        ))}
      </tr>
    </thead>
  );
}
