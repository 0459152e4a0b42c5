import type { CheckinDone } from "../../core/checkin.js";
import type { ImageSummary, InstanceSummary, JobSummary } from "../../core/provision/queries.js";
import type { CreatingVm } from "../../core/provision/request.js";
import { context, section, plain, type SlackMessage } from "./blocks.js";
import { escape } from "./format.js";

/** A checkout that creates its VM: said at once; the DM with the IP and SSH line follows when SSH answers. */
export function creatingReply(c: CreatingVm): SlackMessage {
  const from = c.restoredFrom ? ` from your image *${escape(c.restoredFrom)}*` : "";
  return {
    text: `Creating your VM ${c.instance}…`,
    blocks: [
      section(`:hourglass_flowing_sand: Creating your VM *${escape(c.instance)}* in pool *${escape(c.pool)}*${from}… You get a DM with its IP and SSH line as soon as it answers.`),
    ],
  };
}

/** What check-in does to a provisioned instance, in words for the one who checked it in. */
export function instanceReleaseWords(done: CheckinDone): string | null {
  switch (done.instance?.action) {
    case "save":
      return `vmres saves it as your image *${escape(done.instance.image)}*, then deletes it; \`/vm checkout ${escape(done.pool)} --restore\` brings it back as you left it.`;
    case "delete":
      return "vmres deletes it (the next person gets a fresh one).";
    case "clean":
      return "vmres wipes /tmp; then it goes back to the pool.";
    case undefined:
      return null;
  }
}

export function imagesReply(images: ImageSummary[], mine: boolean): SlackMessage {
  if (images.length === 0) {
    return plain(mine ? ":information_source: You have no saved images. `/vm checkin VM --keep` saves one in a provisioned pool." : ":information_source: No saved images.");
  }
  const lines = images.slice(0, 40).map((i) => {
    const dirty = i.state === "dirty" ? " (replaced by a newer save; deleted after IMAGE_RETENTION)" : i.state === "ready" ? "" : ` (${escape(i.state)})`;
    return `• *${escape(i.name)}* · pool ${escape(i.pool)}${mine ? "" : ` · ${escape(i.owner)}`} · saved ${escape(i.createdAt.slice(0, 16))}${dirty}`;
  });
  return {
    text: `${images.length} saved images`,
    blocks: [section(lines.join("\n")), context("`/vm checkout POOL --restore` uses your latest; `--restore NAME` a given one; `/vm images delete NAME` deletes one.")],
  };
}

export function instancesReply(rows: InstanceSummary[]): SlackMessage {
  if (rows.length === 0) return plain(":information_source: No instances in provisioned pools.");
  const lines = rows.slice(0, 40).map(
    (i) => `• *${escape(i.name)}* · ${escape(i.pool)} · ${escape(i.state)}${i.vmState ? `/${escape(i.vmState)}` : ""}${i.ip ? ` · ${i.ip}` : ""}${i.lastError ? ` · :warning: \`${escape(i.lastError.slice(0, 200))}\`` : ""}`,
  );
  return { text: `${rows.length} instances`, blocks: [section(lines.join("\n"))] };
}

export function jobsReply(rows: JobSummary[], failed: boolean): SlackMessage {
  if (rows.length === 0) return plain(failed ? ":white_check_mark: No failed provider jobs." : ":information_source: No provider jobs.");
  const lines = rows.slice(0, 30).map(
    (j) =>
      `• *${j.id}* ${j.kind} ${escape(j.instance ?? j.image ?? "")} · ${j.state}${j.claimedBy ? " (running)" : ""} · ${j.attempts} attempts${j.lastError ? ` · \`${escape(j.lastError.slice(0, 200))}\`` : ""}`,
  );
  return {
    text: `${rows.length} provider jobs`,
    blocks: [section(lines.join("\n")), context("Admins: `/vm jobs retry ID` runs a failed job again; `/vm jobs abandon ID` gives it up.")],
  };
}
