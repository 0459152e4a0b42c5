import { useEffect, useRef } from "preact/hooks";

/**
 * Live updates (docs/web.md#live-updates): one EventSource on /web/events per
 * tab, shared by every page that calls `useLive`. The server says only that
 * something changed (kind, pool); a page fetches again what it shows.
 */

/** What the server sends on each change. */
export interface LiveChange {
  kind: "vm" | "checkout" | "queue" | "booking" | "resync";
  pool: string | null;
}

type Listener = (change: LiveChange) => void;

const listeners = new Set<Listener>();
let source: EventSource | null = null;
let retry: ReturnType<typeof setTimeout> | null = null;
let failures = 0;

/** Whether the stream is open, on <html data-live> (a test waits on it; a style may show it). */
function mark(state: "open" | "closed" | "connecting"): void {
  document.documentElement.dataset.live = state;
}

function tell(change: LiveChange): void {
  for (const l of listeners) l(change);
}

function connect(): void {
  retry = null;
  mark("connecting");
  const es = new EventSource("/web/events");
  source = es;
  es.addEventListener("open", () => {
    failures = 0;
    mark("open");
    // Changes made before the stream opened (or while it was down) were not sent: fetch again once.
    tell({ kind: "resync", pool: null });
  });
  es.addEventListener("change", (e) => {
    try {
      tell(JSON.parse((e as MessageEvent<string>).data) as LiveChange);
    } catch {
      tell({ kind: "resync", pool: null });
    }
  });
  es.addEventListener("error", () => {
    // The browser reconnects by itself after a dropped stream (readyState CONNECTING); after a refusal
    // (401 signed out, 429 too many tabs, 503 stopping) it gives up (CLOSED): retry with backoff.
    if (es.readyState !== EventSource.CLOSED) {
      mark("connecting");
      return;
    }
    mark("closed");
    es.close();
    if (source === es) source = null;
    if (listeners.size > 0 && retry === null) {
      failures++;
      retry = setTimeout(connect, Math.min(30_000, 1000 * 2 ** Math.min(failures, 5)));
    }
  });
}

function subscribe(listener: Listener): () => void {
  listeners.add(listener);
  if (!source && retry === null) connect();
  return () => {
    listeners.delete(listener);
    if (listeners.size === 0) {
      source?.close();
      source = null;
      if (retry !== null) clearTimeout(retry);
      retry = null;
      mark("closed");
    }
  };
}

/** At most one call per this many ms: a burst of changes (a booking of 20 VMs) makes one fetch, not 20. */
const THROTTLE_MS = 250;

/**
 * Calls `onChange` when something changed that the page may show (at once for
 * the first change, then at most every 250 ms, never dropping the last one).
 * `pool`, if given, ignores changes of other pools.
 */
export function useLive(onChange: () => void, pool?: string): void {
  const latest = useRef(onChange);
  latest.current = onChange;
  useEffect(() => {
    let last = 0;
    let pending: ReturnType<typeof setTimeout> | null = null;
    const fire = () => {
      pending = null;
      last = Date.now();
      latest.current();
    };
    const unsubscribe = subscribe((change) => {
      if (pool !== undefined && change.pool !== null && change.pool !== pool) return;
      if (pending !== null) return;
      const wait = last + THROTTLE_MS - Date.now();
      if (wait <= 0) fire();
      else pending = setTimeout(fire, wait);
    });
    return () => {
      unsubscribe();
      if (pending !== null) clearTimeout(pending);
    };
  }, [pool]);
}
