import type { ImageSummary, InstanceSummary, JobSummary } from "../../core/provision/queries.js";
import { UsageError } from "../args.js";
import { outcomeOf, type Prepare } from "../command.js";
import { table, when } from "../table.js";
import { adminActor, flag, optionalUser, requiredUser, userActor, userOf } from "../values.js";
import { vmresCommand } from "../invocation.js";
import { IMAGE_NAME } from "../../core/names.js";
import type { Actor } from "../../core/types.js";

/** Direct mode reads the database itself: what it lists, it lists as the operator. */
const OPERATOR: Actor = { person: "operator", source: "cli" };

/** `vmres images [--user ID]`: saved images, newest first. */
export const prepareImages: Prepare = (input) => {
  const user = optionalUser(input);
  return async ({ core }) => {
    const { listImages } = await import("../../core/provision/queries.js");
    // Direct mode reads the database as the operator: everyone's images, or --user's.
    return outcomeOf(await listImages(core, OPERATOR, { user }), user ?? null, describeImages);
  };
};

function describeImages(images: ImageSummary[]): string {
  if (images.length === 0) return "No saved images.";
  return table(
    ["IMAGE", "POOL", "OWNER", "STATE", "SAVED", "REF", "ERROR"],
    images.map((i) => [i.name, i.pool, i.owner, i.state, when(i.createdAt), i.providerRef ?? "-", i.lastError ?? ""]),
  );
}

/** `vmres images delete NAME --user ID`. */
export const prepareImagesDelete: Prepare = (input) => {
  const user = requiredUser(input);
  const name = String(input.args.NAME ?? "");
  if (!IMAGE_NAME.test(name)) throw new UsageError(`NAME: "${name}" is not an image name (like cloud-alice-12; ${vmresCommand()} images lists them)`);
  return async ({ core }) => {
    const { deleteImage } = await import("../../core/provision/admin.js");
    return outcomeOf(await deleteImage(core, userActor(user), name), user, (d) => `Deleting image ${d.image} (pool ${d.pool}).`);
  };
};

/** `vmres instances [--all]`. */
export const prepareInstances: Prepare = (input) => {
  const all = flag(input, "all");
  return async ({ core }) => {
    const { listInstances } = await import("../../core/provision/queries.js");
    return outcomeOf(await listInstances(core, OPERATOR, { all }), null, describeInstances);
  };
};

function describeInstances(rows: InstanceSummary[]): string {
  if (rows.length === 0) return "No instances.";
  return table(
    ["INSTANCE", "POOL", "STATE", "VM", "IP", "FOR", "FROM", "CREATED", "ERROR"],
    rows.map((i) => [i.name, i.pool, i.state, i.vmState ?? "-", i.ip ?? "-", i.forPerson ?? "-", i.source, when(i.createdAt), i.lastError ?? ""]),
  );
}

/** `vmres jobs [--failed]`. */
export const prepareJobs: Prepare = (input) => {
  const failed = flag(input, "failed");
  return async ({ core }) => {
    const { listJobs } = await import("../../core/provision/queries.js");
    return outcomeOf(await listJobs(core, OPERATOR, { failed }), null, (rows) => describeJobs(rows, failed));
  };
};

function describeJobs(rows: JobSummary[], failed: boolean): string {
  if (rows.length === 0) return failed ? "No failed jobs." : "No provider jobs.";
  return table(
    ["ID", "KIND", "STATE", "POOL", "TARGET", "ATTEMPTS", "CREATED", "ERROR"],
    rows.map((j) => [String(j.id), j.kind, j.claimedBy ? `${j.state} (running)` : j.state, j.pool, j.instance ?? j.image ?? "-", String(j.attempts), when(j.createdAt), j.lastError ?? ""]),
  );
}

function jobId(input: Parameters<Prepare>[0]): number {
  const raw = String(input.args.ID ?? "");
  if (!/^\d{1,15}$/.test(raw)) throw new UsageError(`ID: "${raw}" is not a job id (a number; ${vmresCommand()} jobs lists them)`);
  return Number(raw);
}

/** `vmres jobs retry ID` / `vmres jobs abandon ID` (admins). */
export const prepareJobsRetry: Prepare = (input) => {
  const actor = adminActor(input);
  const id = jobId(input);
  return async ({ core }) => {
    const { retryJob } = await import("../../core/provision/admin.js");
    return outcomeOf(await retryJob(core, actor, id), userOf(actor), (j) => `Job ${j.id} (${j.kind}) is queued again.`);
  };
};

export const prepareJobsAbandon: Prepare = (input) => {
  const actor = adminActor(input);
  const id = jobId(input);
  return async ({ core }) => {
    const { abandonJob } = await import("../../core/provision/admin.js");
    return outcomeOf(await abandonJob(core, actor, id), userOf(actor), (j) => `Job ${j.id} (${j.kind}) is abandoned.`);
  };
};
