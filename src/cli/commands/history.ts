import type { HistoryEntry } from "../../core/queries.js";
import { personText } from "../../core/people.js";
import { outcomeOf, outcomeOfAnswer, type Prepare, type RemotePrepare } from "../command.js";
import { table, when } from "../table.js";
import { vmArg } from "../values.js";

/** `vmres history VM`: what happened to a VM, newest first. */
export const prepareHistory: Prepare = (input) => {
  const vm = vmArg(input);
  return async ({ core }) => {
    const { vmHistory } = await import("../../core/queries.js");
    return outcomeOf(await vmHistory(core, { person: "operator", source: "cli" }, vm), null, (entries) => describeHistory(vm, entries));
  };
};

/** Over the API: `GET /v1/vms/{name}/events`. */
export const remoteHistory: RemotePrepare = (input) => {
  const vm = vmArg(input);
  return async (remote) => {
    const [{ call }, shapes] = await Promise.all([import("../remote/api.js"), import("../remote/shapes.js")]);
    const events = await call(remote, (init) => remote.client.GET("/v1/vms/{name}/events", { ...init, params: { path: { name: vm } } }));
    return outcomeOfAnswer(events, null, (list) => list.map(shapes.historyEntry), (entries) => describeHistory(vm, entries));
  };
};

function describeHistory(vm: string, entries: HistoryEntry[]): string {
  if (entries.length === 0) return `No events recorded for ${vm}.`;
  return table(
    ["AT", "ACTOR", "SOURCE", "EVENT", "DETAIL"],
    entries.map((e) => [when(e.at), e.person ? personText(e.person) : e.actor, e.source, e.kind, detailText(e.detail)]),
  );
}

/** `{"previousHolder":"U1"}` → `previousHolder=U1`: compact enough for one line. */
function detailText(detail: unknown): string {
  if (detail === null || typeof detail !== "object") return detail === null || detail === undefined ? "" : String(detail);
  return Object.entries(detail)
    .filter(([, v]) => v !== null && v !== undefined)
    .map(([k, v]) => `${k}=${typeof v === "string" ? v : JSON.stringify(v)}`)
    .join(" ");
}
