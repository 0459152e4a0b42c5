import { personText } from "../../core/people.js";
import type { CheckoutEntry } from "../../core/queries.js";
import { UsageError } from "../args.js";
import { outcomeOf, outcomeOfAnswer, type Prepare, type RemotePrepare } from "../command.js";
import { table, when } from "../table.js";
import { flag, optionalUser, stringValue, vmArgOptional } from "../values.js";

/** `vmres checkouts [--user ID] [--vm NAME] [--open]`: lendings, newest first, with their ids. */
export const prepareCheckouts: Prepare = (input) => {
  const { user, vm, open, max } = filters(input);
  return async ({ core }) => {
    const { listCheckouts } = await import("../../core/queries.js");
    const result = await listCheckouts(core, { person: "operator", source: "cli" }, { person: user === undefined ? undefined : { lookup: user }, vm, open, limit: max });
    return outcomeOf(result, user ?? null, (entries) => describe(entries, open));
  };
};

/** Over the API: `GET /v1/checkouts` with the same filters (anyone's, as the service lets this token's person read them). */
export const remoteCheckouts: RemotePrepare = (input) => {
  const { user, vm, open, max } = filters(input);
  return async (remote) => {
    const [{ call }, shapes] = await Promise.all([import("../remote/api.js"), import("../remote/shapes.js")]);
    const query = { limit: max, ...(user === undefined ? {} : { user }), ...(vm === undefined ? {} : { vm }), ...(open ? { open: "true" as const } : {}) };
    const list = await call(remote, (init) => remote.client.GET("/v1/checkouts", { ...init, params: { query } }));
    return outcomeOfAnswer(list, user ?? null, (l) => l.map(shapes.checkoutEntry), (entries) => describe(entries, open));
  };
};

function filters(input: Parameters<Prepare>[0]) {
  const user = optionalUser(input);
  const vm = vmArgOptional(input, "vm");
  const open = flag(input, "open");
  const limit = stringValue(input, "limit");
  if (limit !== undefined && !/^\d{1,4}$/.test(limit)) throw new UsageError(`--limit: ${JSON.stringify(limit)} is not a count: use a whole number from 1 to 1000`);
  const max = limit === undefined ? 100 : Number(limit);
  if (max < 1 || max > 1000) throw new UsageError(`--limit: ${max} is out of range: use a whole number from 1 to 1000`);
  return { user, vm, open, max };
}

function describe(entries: CheckoutEntry[], open: boolean): string {
  if (entries.length === 0) return open ? "No VM is checked out." : "No checkouts recorded.";
  return table(
    ["ID", "VM", "POOL", "PERSON", "STARTED", "ENDS", "ENDED", "HOW", "NOTE"],
    entries.map((c) => [
      String(c.id),
      c.vm,
      c.pool,
      personText(c.person),
      when(c.startedAt),
      c.endsAt ? when(c.endsAt) : "-",
      c.endedAt ? when(c.endedAt) : "open",
      c.endReason ? `${c.endReason.replace(/_/g, " ")}${c.endedBy && c.endedBy !== c.person.name ? ` by ${c.endedBy}` : ""}` : "-",
      c.note ?? "",
    ]),
  );
}
