import type { AdminReport, ReportHold } from "../../core/report-schema.js";
import { personText } from "../../core/people.js";
import { UsageError } from "../args.js";
import { outcomeOf, type Prepare } from "../command.js";
import { table, when } from "../table.js";
import { lengthText } from "../times.js";
import { adminActor, stringValue, userOf } from "../values.js";

/** `vmres report [--days N] [--user ADMIN] [--json]`: the admin report (the digest DIGEST_CRON posts), from the database. */
export const prepareReport: Prepare = (input) => {
  const text = stringValue(input, "days");
  if (text !== undefined && (!/^\d{1,2}$/.test(text) || Number(text) < 1 || Number(text) > 30)) {
    throw new UsageError(`--days: ${JSON.stringify(text)} is not a number of days: use a whole number from 1 to 30, like --days 7`);
  }
  const days = text === undefined ? undefined : Number(text);
  const actor = adminActor(input);
  return async ({ core }) => {
    const { adminReport } = await import("../../core/report.js");
    return outcomeOf(await adminReport(core, actor, days === undefined ? {} : { days }), userOf(actor), describe);
  };
};

const ago = (since: Date, at: Date) => lengthText(Math.max(0, at.getTime() - since.getTime()), 2);
const more = (shown: number, total: number) => (total > shown ? [`…and ${total - shown} more`] : []);

function holds(list: (ReportHold & { usualMs?: number })[], at: Date): string {
  const usual = list.some((h) => h.usualMs !== undefined);
  return table(
    ["VM", "POOL", "PERSON", "SINCE", "FOR", ...(usual ? ["USUAL"] : []), "LEASE ENDS"],
    list.map((h) => [h.vm, h.pool, personText(h.person), when(h.since), ago(h.since, at), ...(usual ? [lengthText(h.usualMs ?? 0, 2)] : []), h.endsAt ? when(h.endsAt) : "pinned"]),
  );
}

/** The report as sections: a title, then a table or "none". */
function describe(r: AdminReport): string {
  const part = (title: string, rows: number, body: () => string, tail: string[] = []) => [`${title}:`, rows === 0 ? "  none" : [body(), ...tail].join("\n"), ""];
  const usualLine = r.pastUsual.pools
    .map((u) => `${u.pool} ${lengthText(u.usualMs, 2)} (${u.basis === "p90" ? `90th percentile of ${u.samples} checkouts` : "its lease: too few checkouts"})`)
    .join("; ");
  return [
    `Admin report, ${when(r.at)}`,
    "",
    ...part("Longest holds", r.longestHolds.length, () => holds(r.longestHolds, r.at)),
    ...part(`Holds past their pool's usual length (${r.pastUsual.total})`, r.pastUsual.holds.length, () => holds(r.pastUsual.holds, r.at), more(r.pastUsual.holds.length, r.pastUsual.total)),
    ...(usualLine ? [`  usual: ${usualLine}`, ""] : []),
    ...part(`VMs idle for 7 days (${r.idle.total})`, r.idle.vms.length, () =>
      table(["VM", "POOL", "FREE SINCE", "LAST CHECKOUT"], r.idle.vms.map((v) => [v.vm, v.pool, when(v.since), v.lastCheckoutAt ? when(v.lastCheckoutAt) : "never"])),
      more(r.idle.vms.length, r.idle.total),
    ),
    ...part("Queues", r.queues.length, () =>
      table(
        ["POOL", "WAITING", "LONGEST WAIT", "GOT A VM (7 DAYS)", "MEDIAN WAIT"],
        r.queues.map((q) => [q.pool, String(q.waiting), q.oldestSince ? ago(q.oldestSince, r.at) : "-", String(q.served), q.medianWaitMs === null ? "-" : lengthText(q.medianWaitMs, 2)]),
      ),
    ),
    ...part(`Quarantined (${r.quarantined.total})`, r.quarantined.vms.length, () =>
      table(["VM", "POOL", "SINCE", "ATTEMPTS", "LAST ERROR"], r.quarantined.vms.map((v) => [v.vm, v.pool, when(v.since), String(v.attempts), v.lastError ?? "-"])),
      more(r.quarantined.vms.length, r.quarantined.total),
    ),
    ...part(`Bookings in the next ${r.days === 1 ? "day" : `${r.days} days`} (${r.bookings.total})`, r.bookings.list.length, () =>
      table(["LABEL", "POOL", "COUNT", "PERSON", "FROM", "TO"], r.bookings.list.map((b) => [b.label, b.pool, String(b.count), personText(b.person), when(b.startsAt), when(b.endsAt)])),
      more(r.bookings.list.length, r.bookings.total),
    ),
    ...part(`Provider failures in the last day (${r.providerFailures.total})`, r.providerFailures.jobs.length, () =>
      table(["JOB", "KIND", "POOL", "INSTANCE", "FAILED", "ATTEMPTS", "ERROR"], r.providerFailures.jobs.map((j) => [String(j.id), j.kind, j.pool, j.instance ?? "-", when(j.failedAt), String(j.attempts), j.error ?? "-"])),
      more(r.providerFailures.jobs.length, r.providerFailures.total),
    ),
  ]
    .join("\n")
    .trimEnd();
}
