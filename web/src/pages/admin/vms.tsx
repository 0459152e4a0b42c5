import { useState } from "preact/hooks";
import type { components } from "../../../../src/client/index.js";
import { usePage } from "../../session.js";
import { ListingTable, Section, useListing } from "../../ui.js";
import { ConfirmButton, OutcomeLine, useActions, useWhen } from "./shared.js";

type Checkout = components["schemas"]["Checkout"];
export interface SectionProps {
  version: number;
  refresh: () => void;
}

const personName = (p: { name: string; displayName: string | null } | null) => (p ? (p.displayName ?? p.name) : "hidden");

/** Quarantined and maintenance VMs, with the last cleanup error: Retry cleanup, Repaired. */
export function AttentionVms({ version, refresh }: SectionProps) {
  const { api } = usePage();
  const when = useWhen();
  const { outcome, run } = useActions();
  const quarantined = useListing(() => api.GET("/v1/vms", { params: { query: { state: "quarantined" } } }), version);
  const maintenance = useListing(() => api.GET("/v1/vms", { params: { query: { state: "maintenance" } } }), version);
  const state = { data: quarantined.data && maintenance.data ? [...quarantined.data, ...maintenance.data] : null, error: quarantined.error ?? maintenance.error };
  const retry = (vm: string) =>
    run(api.POST("/v1/vms/{name}/cleanup", { params: { path: { name: vm } } }), (t) => `${t.vm} is being cleaned again (${t.from} → ${t.to}).`, refresh);
  const repaired = (vm: string) =>
    run(api.PATCH("/v1/vms/{name}", { params: { path: { name: vm } }, body: { state: "available" } }), () => `${vm} is available again.`, refresh);
  return (
    <Section id="attention" title="Quarantined and in maintenance">
      <OutcomeLine outcome={outcome} />
      <ListingTable
        state={state}
        empty="No VM is quarantined or in maintenance."
        cols={["VM", "Pool", "State", "Since", "Last cleanup error", "Actions"]}
        row={(v) => (
          <tr key={v.name}>
            <th scope="row">{v.name}</th>
            <td>{v.pool}</td>
            <td>{v.state}</td>
            <td>{when(v.stateChangedAt)}</td>
            <td>{v.cleanupLastError ? <code>{v.cleanupLastError}</code> : <span class="muted">none</span>}</td>
            <td>
              {v.state === "quarantined" && (
                <button type="button" aria-label={`Retry cleanup of ${v.name}`} onClick={() => void retry(v.name)}>
                  Retry cleanup
                </button>
              )}{" "}
              <button type="button" class="secondary" aria-label={`${v.name} is repaired`} onClick={() => void repaired(v.name)}>
                Repaired
              </button>
            </td>
          </tr>
        )}
      />
    </Section>
  );
}

/** VMs stuck in cleaning in a pool whose cleanup cannot run: End cleanup, with a reason on record. */
export function BlockedCleanups({ version, refresh }: SectionProps) {
  const { api } = usePage();
  const when = useWhen();
  const { outcome, run } = useActions();
  const [reasons, setReasons] = useState<Record<string, string>>({});
  const pools = useListing(() => api.GET("/v1/pools"), version);
  const cleaning = useListing(() => api.GET("/v1/vms", { params: { query: { state: "cleaning" } } }), version);
  const blocked = new Set((pools.data ?? []).filter((p) => p.cleanupBlocked).map((p) => p.name));
  const state = { data: pools.data && cleaning.data ? cleaning.data.filter((v) => blocked.has(v.pool)) : null, error: pools.error ?? cleaning.error };
  const end = (vm: string) =>
    run(
      api.POST("/v1/vms/{name}/cleanup-done", { params: { path: { name: vm } }, body: { reason: reasons[vm] ?? "" } }),
      (d) => `${d.vm}'s cleanup is ended by hand: ${d.to}.`,
      refresh,
    );
  return (
    <Section id="blocked" title="Cleanups that cannot run">
      <OutcomeLine outcome={outcome} />
      <ListingTable
        state={state}
        empty="No VM waits in a pool whose cleanup cannot run."
        cols={["VM", "Pool", "Cleaning since", "Why it waits", "End cleanup"]}
        row={(v) => (
          <tr key={v.name}>
            <th scope="row">{v.name}</th>
            <td>{v.pool}</td>
            <td>{when(v.stateChangedAt)}</td>
            <td>{v.cleanupLastError ?? "the pool's cleanup cannot run (vmres cannot use its SSH key)"}</td>
            <td>
              <form
                onSubmit={(e) => {
                  e.preventDefault();
                  void end(v.name);
                }}
              >
                <label>
                  Reason (on record)
                  <input required value={reasons[v.name] ?? ""} onInput={(e) => setReasons({ ...reasons, [v.name]: e.currentTarget.value })} placeholder="wiped /tmp by hand" />
                </label>
                <button type="submit" aria-label={`End cleanup of ${v.name}`}>
                  End cleanup
                </button>
              </form>
            </td>
          </tr>
        )}
      />
    </Section>
  );
}

/** Drain any VM by name (a list of every VM to pick from). */
export function DrainVm({ version, refresh }: SectionProps) {
  const { api } = usePage();
  const { outcome, run } = useActions();
  const [name, setName] = useState("");
  const vms = useListing(() => api.GET("/v1/vms"), version);
  const drain = () =>
    run(
      api.PATCH("/v1/vms/{name}", { params: { path: { name: name.trim() } }, body: { state: "maintenance" } }),
      (c) => (c.transition ? `${c.vm} is drained (${c.transition.from} → ${c.transition.to}).` : `${c.vm} is in maintenance already.`),
      () => {
        setName("");
        refresh();
      },
    );
  return (
    <Section id="drain" title="Drain a VM">
      <form
        onSubmit={(e) => {
          e.preventDefault();
          void drain();
        }}
      >
        <label>
          VM name
          <input required list="all-vms" value={name} onInput={(e) => setName(e.currentTarget.value)} />
        </label>
        <datalist id="all-vms">
          {(vms.data ?? []).filter((v) => v.state !== "maintenance" && v.state !== "retired").map((v) => (
            <option key={v.name} value={v.name}>{`${v.pool}, ${v.state}`}</option>
          ))}
        </datalist>
        <button type="submit">Drain</button>
      </form>
      <p class="muted">A drained VM takes no new checkout; a VM checked out stays with its holder until check-in.</p>
      <OutcomeLine outcome={outcome} />
    </Section>
  );
}

/** Open checkouts, with Force check-in (on record; the holder is told). */
export function OpenCheckouts({ version, refresh }: SectionProps) {
  const { api } = usePage();
  const when = useWhen();
  const { outcome, run } = useActions();
  const open = useListing(() => api.GET("/v1/checkouts", { params: { query: { open: "true", limit: 500 } } }), version);
  const force = (c: Checkout) =>
    run(
      api.DELETE("/v1/checkouts/{id}", { params: { path: { id: c.id }, query: { force: "true" } } }),
      (d) => `${d.vm} is checked in${d.previousHolder ? ` from ${personName(d.previousHolder)}` : ""}, on record; they are told.`,
      refresh,
    );
  return (
    <Section id="checkouts" title="Checked out">
      <OutcomeLine outcome={outcome} />
      <ListingTable
        state={open}
        empty="Nothing is checked out."
        cols={["VM", "Pool", "Holder", "Since", "Lease ends", "Force check-in"]}
        row={(c) => (
          <tr key={c.id}>
            <th scope="row">{c.vm}</th>
            <td>{c.pool}</td>
            <td>{personName(c.person)}</td>
            <td>{when(c.startedAt)}</td>
            <td>{c.endsAt ? when(c.endsAt) : "pinned"}</td>
            <td>
              <ConfirmButton
                label="Force check-in"
                name={`Force check-in of ${c.vm}`}
                question={`Check ${c.vm} in from ${personName(c.person)}? They are told, and it is on record.`}
                confirm="Yes, check it in"
                onConfirm={() => force(c)}
              />
            </td>
          </tr>
        )}
      />
    </Section>
  );
}
