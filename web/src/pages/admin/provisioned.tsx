import { useState } from "preact/hooks";
import { usePage } from "../../session.js";
import { ListingTable, Section, useListing } from "../../ui.js";
import { ConfirmButton, OutcomeLine, useActions, useWhen } from "./shared.js";
import type { SectionProps } from "./vms.js";


/** Provider jobs, newest first; a failed one can be retried or abandoned. */
export function ProviderJobs({ version, refresh }: SectionProps) {
  const { api } = usePage();
  const when = useWhen();
  const { outcome, run } = useActions();
  const [failedOnly, setFailedOnly] = useState(false);
  const jobs = useListing(() => api.GET("/v1/provider-jobs", { params: { query: { failed: failedOnly ? "true" : "false", limit: 100 } } }), version, failedOnly);
  const said = (j: { id: number; kind: string; action: string }) => `Job ${j.id} (${j.kind}) is ${j.action === "retried" ? "queued again" : "abandoned"}.`;
  const retry = (id: number) => run(api.POST("/v1/provider-jobs/{id}/retry", { params: { path: { id } } }), said, refresh);
  const abandon = (id: number) => run(api.POST("/v1/provider-jobs/{id}/abandon", { params: { path: { id } } }), said, refresh);
  return (
    <Section id="jobs" title="Provider jobs">
      <p>
        <input id="failed-only" type="checkbox" checked={failedOnly} onChange={(e) => setFailedOnly(e.currentTarget.checked)} /> <label for="failed-only">Only failed jobs</label>
      </p>
      <OutcomeLine outcome={outcome} />
      <ListingTable
        state={jobs}
        empty={failedOnly ? "No failed jobs." : "No provider jobs."}
        cols={["Job", "Kind", "State", "Pool", "Instance or image", "Attempts", "Created", "Last error", "Actions"]}
        row={(j) => (
          <tr key={j.id}>
            <th scope="row">{j.id}</th>
            <td>{j.kind}</td>
            <td>{j.claimedBy ? `${j.state} (running)` : j.state}</td>
            <td>{j.pool}</td>
            <td>{j.instance ?? j.image ?? "–"}</td>
            <td>{j.attempts}</td>
            <td>{when(j.createdAt)}</td>
            <td>{j.lastError ? <code>{j.lastError}</code> : ""}</td>
            <td>
              {j.state === "failed" && (
                <>
                  <button type="button" aria-label={`Retry job ${j.id}`} onClick={() => void retry(j.id)}>
                    Retry
                  </button>{" "}
                  <ConfirmButton
                    label="Abandon"
                    name={`Abandon job ${j.id}`}
                    question={`Give up job ${j.id} (${j.kind})?${j.kind === "save" ? " The instance is deleted without its image." : ""}`}
                    confirm="Yes, abandon it"
                    onConfirm={() => abandon(j.id)}
                  />
                </>
              )}
            </td>
          </tr>
        )}
      />
    </Section>
  );
}

/** Instances of provisioned pools. */
export function Instances({ version }: SectionProps) {
  const { api } = usePage();
  const when = useWhen();
  const instances = useListing(() => api.GET("/v1/instances"), version);
  return (
    <Section id="instances" title="Instances">
      <ListingTable
        state={instances}
        empty="No instances."
        cols={["Instance", "Pool", "State", "VM", "IP", "For", "From", "Created", "Last error"]}
        row={(i) => (
          <tr key={i.name}>
            <th scope="row">{i.name}</th>
            <td>{i.pool}</td>
            <td>{i.state}</td>
            <td>{i.vmState ?? "–"}</td>
            <td>{i.ip ?? "–"}</td>
            <td>{i.forPerson ?? "anyone"}</td>
            <td>{i.source}</td>
            <td>{when(i.createdAt)}</td>
            <td>{i.lastError ? <code>{i.lastError}</code> : ""}</td>
          </tr>
        )}
      />
    </Section>
  );
}

/** Everyone's saved images, with Delete. */
export function Images({ version, refresh }: SectionProps) {
  const { api } = usePage();
  const when = useWhen();
  const { outcome, run } = useActions();
  const images = useListing(() => api.GET("/v1/images"), version);
  const remove = (name: string) =>
    run(api.DELETE("/v1/images/{name}", { params: { path: { name } } }), (d) => `Deleting image ${d.image} (pool ${d.pool}).`, refresh);
  return (
    <Section id="images" title="Images">
      <OutcomeLine outcome={outcome} />
      <ListingTable
        state={images}
        empty="No saved images."
        cols={["Image", "Pool", "Owner", "State", "Saved", "Last error", "Delete"]}
        row={(i) => (
          <tr key={i.name}>
            <th scope="row">{i.name}</th>
            <td>{i.pool}</td>
            <td>{i.owner}</td>
            <td>{i.state}</td>
            <td>{when(i.createdAt)}</td>
            <td>{i.lastError ? <code>{i.lastError}</code> : ""}</td>
            <td>
              {(i.state === "ready" || i.state === "dirty") && (
                <ConfirmButton label="Delete" name={`Delete image ${i.name}`} question={`Delete ${i.owner}'s image ${i.name}? It cannot be restored after.`} confirm="Yes, delete it" onConfirm={() => remove(i.name)} />
              )}
            </td>
          </tr>
        )}
      />
    </Section>
  );
}
