import { useEffect, useRef, useState } from "preact/hooks";
import type { components } from "../../../src/client/index.js";
import { personName, when } from "../format.js";
import { useLive } from "../live.js";
import { problemText } from "../problem.js";
import { navigate } from "../router.js";
import { usePage } from "../session.js";
import { ACTIONS, Listing, Table, useListing, useVersion } from "../ui.js";
import { tellMine } from "./just-done.js";
import "./pages.css";

type Pool = components["schemas"]["Pool"];

/** Every pool: its VMs by state, free now, its queue, its next booking; check out or join the queue from here. */
export function PoolsPage() {
  const { api, timeZone } = usePage();
  const [asking, setAsking] = useState<Pool | null>(null);
  // Loaded again whenever something may have changed (live updates too).
  const [version, reload] = useVersion();
  const listing = useListing(() => api.GET("/v1/pools"), version);
  useLive(reload);
  return (
    <>
      <h1>Pools</h1>
      <Listing
        state={listing}
        empty={<p>No pools yet: an admin adds VMs with <code>vmres pool add</code>.</p>}
      >
        {(pools: Pool[]) => (
          <div class="scroll">
            <Table
              class="pools"
              caption={<caption class="muted">{pools.length === 1 ? "1 pool" : `${pools.length} pools`}</caption>}
              cols={["Pool", "Free now", "Checked out", "Held", "Cleaning", "Out of service", "Total", "Queue", "Next booking", ACTIONS]}
              rows={pools}
              row={(p) => (
                <tr key={p.name}>
                  <th scope="row">
                    {p.name}
                    {p.cleanupBlocked && (
                      <p class="warning">
                        Cleanup blocked: VMs checked in here wait in cleaning until an admin acts.
                      </p>
                    )}
                  </th>
                  <td>{p.counts.available}</td>
                  <td>{p.counts.checked_out}</td>
                  <td>{p.counts.held}</td>
                  <td>{p.counts.cleaning}</td>
                  <td>{p.counts.maintenance + p.counts.quarantined}</td>
                  <td>{p.total}</td>
                  <td>{queueWords(p)}</td>
                  <td>{p.nextBooking ? bookingWords(p.nextBooking, timeZone) : <span class="muted">none</span>}</td>
                  <td>
                    <button type="button" onClick={() => setAsking(p)} aria-label={`${offersQueue(p) ? "Join the queue" : "Check out"}: pool ${p.name}`}>
                      {offersQueue(p) ? "Join the queue" : "Check out"}
                    </button>
                  </td>
                </tr>
              )}
            />
          </div>
        )}
      </Listing>
      {asking && (
        <CheckoutDialog
          pool={asking}
          onClose={() => {
            setAsking(null);
            reload();
          }}
        />
      )}
    </>
  );
}

function queueWords(p: Pool): string {
  if (p.waiting + p.offered === 0) return "empty";
  return p.offered > 0 ? `${p.waiting} waiting, ${p.offered} offered` : `${p.waiting} waiting`;
}

function bookingWords(b: NonNullable<Pool["nextBooking"]>, timeZone: string): string {
  const who = b.person ? ` by ${personName(b.person)}` : "";
  return `${b.label}${who}: ${b.count === 1 ? "1 VM" : `${b.count} VMs`}, ${when(b.from, timeZone)} – ${when(b.to, timeZone)}`;
}

/** 4h, 1d12h, 90m: a pool's lease as people write it. */
export function durationWords(ms: number): string {
  const m = Math.round(ms / 60_000);
  const [d, h, min] = [Math.floor(m / 1440), Math.floor((m % 1440) / 60), m % 60];
  return `${d ? `${d}d` : ""}${h ? `${h}h` : ""}${min ? `${min}m` : ""}` || "0m";
}

/** The refusals after which joining the queue is what a person can do next. */
const NONE_FREE = new Set(["no_vm_free", "pool_full"]);

/** The button a pool's row offers: a provisioned pool creates a VM when none is ready, so it always offers Check out. */
const offersQueue = (p: Pool): boolean => p.kind === "static" && p.counts.available === 0;

/**
 * Check out (or, with none free, join the queue) in a modal dialog: the lease, a note, and in a
 * provisioned pool whether to restore the person's saved image. The core's refusal is shown inside
 * it (with "Join the queue instead" when none is free); a success goes to the Mine page, which says
 * what was lent.
 */
function CheckoutDialog({ pool, onClose }: { pool: Pool; onClose: () => void }) {
  const { api } = usePage();
  const dialog = useRef<HTMLDialogElement>(null);
  const [lease, setLease] = useState("");
  const [note, setNote] = useState("");
  const [restore, setRestore] = useState(false);
  const [busy, setBusy] = useState(false);
  const [refusal, setRefusal] = useState<{ text: string; noneFree: boolean } | null>(null);
  const [join, setJoin] = useState(offersQueue(pool));
  useEffect(() => {
    dialog.current?.showModal();
  }, []);
  const refused = (error: unknown) => {
    const code = error && typeof error === "object" && "code" in error ? String(error.code) : "";
    setRefusal({ text: problemText(error), noneFree: NONE_FREE.has(code) });
  };
  const send = async (asJoin: boolean) => {
    setBusy(true);
    setRefusal(null);
    const body = { pool: pool.name, ...(lease.trim() ? { for: lease.trim() } : {}), ...(note.trim() ? { note: note.trim() } : {}) };
    if (asJoin) {
      const { data, error } = await api.POST("/v1/queues", { body });
      setBusy(false);
      if (!data) return refused(error);
      tellMine({ kind: "queued", place: data });
    } else {
      const { data, error, response } = await api.POST("/v1/checkouts", { body: { ...body, ...(restore ? { restore: true as const } : {}) } });
      setBusy(false);
      if (!data) return refused(error);
      tellMine(response.status === 202 ? { kind: "creating", creating: data as components["schemas"]["Creating"] } : { kind: "lent", vm: data as components["schemas"]["CheckedOut"] });
    }
    dialog.current?.close();
    navigate("/mine");
  };
  const submit = (event: Event) => {
    event.preventDefault();
    void send(join);
  };
  const title = join ? `Join the queue of pool ${pool.name}` : `Check out a VM of pool ${pool.name}`;
  return (
    <dialog ref={dialog} aria-labelledby="checkout-title" onClose={onClose} class="ask">
      <form onSubmit={submit}>
        <h2 id="checkout-title">{title}</h2>
        {join && <p>No VM is free now: you will be offered the next one that frees up (Slack tells you, and the Mine page shows it).</p>}
        <label>
          Lease
          <input name="lease" value={lease} onInput={(e) => setLease(e.currentTarget.value)} placeholder={durationWords(pool.leaseMs)} aria-describedby="lease-hint" />
        </label>
        <span id="lease-hint" class="muted hint">
          Like 90m, 4h or 1d12h; empty: the pool's {durationWords(pool.leaseMs)} (at most {durationWords(pool.maxLeaseMs)}).
        </span>
        <label>
          Note (optional)
          <input name="note" value={note} onInput={(e) => setNote(e.currentTarget.value)} maxLength={500} />
        </label>
        {pool.kind === "provisioned" && !join && (
          <label class="check">
            <input type="checkbox" checked={restore} onChange={(e) => setRestore(e.currentTarget.checked)} />
            Restore my latest saved image of this pool
          </label>
        )}
        {refusal && <p role="alert">{refusal.text}</p>}
        <div class="buttons">
          <button type="submit" disabled={busy}>
            {join ? "Join the queue" : "Check out"}
          </button>
          {refusal?.noneFree && !join && (
            <button
              type="button"
              disabled={busy}
              onClick={() => {
                setJoin(true);
                void send(true);
              }}
            >
              Join the queue instead
            </button>
          )}
          <button type="button" class="secondary" onClick={() => dialog.current?.close()}>
            Cancel
          </button>
        </div>
      </form>
    </dialog>
  );
}
