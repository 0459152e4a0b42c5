import { useState } from "preact/hooks";
import type { components } from "../../../src/client/index.js";
import { personName, STATE_WORDS, VM_STATES, when, type VmState } from "../format.js";
import { useLive } from "../live.js";
import { usePage } from "../session.js";
import { Listing, Table, useListing, useVersion } from "../ui.js";
import "./pages.css";

type Vm = components["schemas"]["Vm"];
type VmEvent = components["schemas"]["VmEvent"];

/** Rows per page: a thousand VMs are ten pages, each drawn at once. */
export const PAGE_SIZE = 100;

interface Filter {
  pool: string;
  state: VmState | "";
  tag: string;
  page: number;
}

/** The filter as the URL's query string keeps it (so a link or a reload shows the same rows). */
function readFilter(): Filter {
  const q = new URLSearchParams(location.search);
  const state = q.get("state") ?? "";
  const page = Number(q.get("page") ?? "1");
  return {
    pool: q.get("pool") ?? "",
    state: (VM_STATES as string[]).includes(state) ? (state as VmState) : "",
    tag: q.get("tag") ?? "",
    page: Number.isInteger(page) && page >= 1 ? page : 1,
  };
}

function writeFilter(f: Filter): void {
  const q = new URLSearchParams();
  if (f.pool) q.set("pool", f.pool);
  if (f.state) q.set("state", f.state);
  if (f.tag) q.set("tag", f.tag);
  if (f.page > 1) q.set("page", String(f.page));
  const search = q.toString();
  history.replaceState(null, "", `/vms${search ? `?${search}` : ""}`);
}

/** Every VM, filtered by pool, state and tag, a page of them at a time; a row opens the VM's history. */
export function VmsPage() {
  const { api, timeZone } = usePage();
  const [filter, setFilterState] = useState<Filter>(readFilter);
  const [open, setOpen] = useState<string | null>(null);
  const setFilter = (f: Filter) => {
    writeFilter(f);
    setFilterState(f);
  };
  const [version, reload] = useVersion();
  useLive(reload);
  // Read again on every live update; the VMs also on a new filter.
  const asked = `${filter.pool} ${filter.state} ${filter.tag}`;
  const query = { ...(filter.pool ? { pool: filter.pool } : {}), ...(filter.state ? { state: filter.state } : {}), ...(filter.tag ? { tag: filter.tag } : {}) };
  const listed = useListing(() => api.GET("/v1/vms", { params: { query } }), version, asked);
  const known = useListing(() => api.GET("/v1/pools"), version);
  const vms = listed.data;
  const pools = (known.data ?? []).map((p) => p.name);

  const pages = vms ? Math.max(1, Math.ceil(vms.length / PAGE_SIZE)) : 1;
  const page = Math.min(filter.page, pages);
  const shown = vms ? vms.slice((page - 1) * PAGE_SIZE, page * PAGE_SIZE) : [];
  const goTo = (n: number) => {
    setFilter({ ...filter, page: n });
    setOpen(null);
  };
  return (
    <>
      <h1>VMs</h1>
      <form class="filters" role="search" aria-label="Filter the VMs" onSubmit={(e) => e.preventDefault()}>
        <label>
          Pool
          <select value={filter.pool} onChange={(e) => setFilter({ ...filter, pool: e.currentTarget.value, page: 1 })}>
            <option value="">every pool</option>
            {[...new Set([...pools, ...(filter.pool ? [filter.pool] : [])])].map((p) => (
              <option key={p} value={p}>
                {p}
              </option>
            ))}
          </select>
        </label>
        <label>
          State
          <select value={filter.state} onChange={(e) => setFilter({ ...filter, state: e.currentTarget.value as VmState | "", page: 1 })}>
            <option value="">every state</option>
            {VM_STATES.map((s) => (
              <option key={s} value={s}>
                {STATE_WORDS[s]}
              </option>
            ))}
          </select>
        </label>
        <label>
          Tag
          <input value={filter.tag} onChange={(e) => setFilter({ ...filter, tag: e.currentTarget.value.trim(), page: 1 })} placeholder="any tag" maxLength={63} />
        </label>
      </form>
      <Listing state={listed} empty={<p>No VM matches this filter.</p>}>
        {(vms: Vm[]) => (
          <>
            <Pager where="top" page={page} pages={pages} count={vms.length} goTo={goTo} />
            <div class="scroll">
              <Table
                class="vms"
                caption={<caption class="visually-hidden">VMs, page {page} of {pages}</caption>}
                cols={["VM", "Pool", "State", "Holder", "Lease ends", "Note", "Tags", <span class="visually-hidden">History</span>]}
                rows={shown}
                row={(vm) => (
                  <VmRow key={vm.name} vm={vm} timeZone={timeZone} open={open === vm.name} toggle={() => setOpen(open === vm.name ? null : vm.name)} />
                )}
              />
            </div>
            {pages > 1 && <Pager where="bottom" page={page} pages={pages} count={vms.length} goTo={goTo} />}
          </>
        )}
      </Listing>
    </>
  );
}

function holderWords(vm: Vm): string {
  if (vm.holder) return personName(vm.holder);
  if (vm.state === "checked_out") return "hidden";
  if (vm.state === "held" && vm.heldFor) return vm.heldFor.person ? `held for ${personName(vm.heldFor.person)}` : "held (hidden)";
  return "";
}

function VmRow({ vm, timeZone, open, toggle }: { vm: Vm; timeZone: string; open: boolean; toggle: () => void }) {
  return (
    <>
      <tr>
        <th scope="row">{vm.name}</th>
        <td>{vm.pool}</td>
        <td>{STATE_WORDS[vm.state]}</td>
        <td>{holderWords(vm)}</td>
        <td>{vm.state === "checked_out" ? when(vm.endsAt, timeZone) : ""}</td>
        <td>{vm.note ?? ""}</td>
        <td>{vm.tags.join(", ")}</td>
        <td>
          <button type="button" class="secondary" aria-expanded={open} aria-controls={`history-${vm.name}`} onClick={toggle} aria-label={`History of ${vm.name}`}>
            History
          </button>
        </td>
      </tr>
      {open && (
        <tr class="history" id={`history-${vm.name}`}>
          <td colSpan={8}>
            <History vm={vm.name} timeZone={timeZone} />
          </td>
        </tr>
      )}
    </>
  );
}

/** A VM's last events, newest first (GET /v1/vms/{name}/events; refused to non-admins under HIDE_HOLDERS). */
function History({ vm, timeZone }: { vm: string; timeZone: string }) {
  const { api } = usePage();
  const events = useListing(() => api.GET("/v1/vms/{name}/events", { params: { path: { name: vm }, query: { limit: 20 } } }), null, vm);
  return (
    <Listing state={events} loading={<p>Loading the history of {vm}…</p>} empty={<p>{vm} has no history yet.</p>}>
      {(events: VmEvent[]) => (
        <section aria-label={`History of ${vm}`}>
          <h2 class="visually-hidden">History of {vm}</h2>
          <ol>
            {events.map((e, i) => (
              <li key={i}>
                <time dateTime={e.at}>{when(e.at, timeZone)}</time>: {e.kind.replace(/_/g, " ")} by {e.person ? personName(e.person) : e.actor} <span class="muted">({e.source})</span>
              </li>
            ))}
          </ol>
        </section>
      )}
    </Listing>
  );
}

function Pager({ where, page, pages, count, goTo }: { where: string; page: number; pages: number; count: number; goTo: (n: number) => void }) {
  const first = (page - 1) * PAGE_SIZE + 1;
  const last = Math.min(page * PAGE_SIZE, count);
  return (
    <nav class="pager" aria-label={`Pages of VMs (${where})`}>
      <button type="button" class="secondary" disabled={page <= 1} onClick={() => goTo(page - 1)}>
        Previous
      </button>
      <span>
        {first}–{last} of {count} VMs (page {page} of {pages})
      </span>
      <button type="button" class="secondary" disabled={page >= pages} onClick={() => goTo(page + 1)}>
        Next
      </button>
    </nav>
  );
}
