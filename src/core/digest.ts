import { enqueueNotices } from "./notices.js";
import { readReport, reportParams, type AdminReport } from "./report.js";
import type { Core } from "./types.js";

/** What one tick of the digest did: queued it (with the report), or found it taken care of (`another`: a replica is at it now; `sent`: it was queued for this period already). */
export type DigestOutcome = { queued: true; report: AdminReport } | { queued: false; why: "another" | "sent" };

/**
 * Queues the admin digest of one scheduled time, once across replicas and
 * restarts: the `digests` row keyed by the period is inserted in the same
 * transaction as the outbox notice, so either both exist or neither does, and
 * a second insert for the period finds the first. The advisory lock lets a
 * replica ticking at the same moment skip at once instead of waiting on the
 * row. `notify: false` (no Slack here) records the digest without a notice;
 * the caller logs the report. The report is vmres's own read, not a person's:
 * no admin check.
 *
 * The report is read first, in one read-only snapshot of its own (as `vmres report`
 * reads it; its queries are drizzle's), unless the period's digest is on record
 * already; the write is one postgres.js transaction (docs/architecture.md, "One
 * idiom for writes").
 */
export async function queueDigest(core: Core, period: Date, sentBy: string, opts: { notify: boolean }): Promise<DigestOutcome> {
  const key = period.toISOString();
  const pg = core.db.$client;
  const [known] = await pg<{ sent: boolean }[]>`select exists (select 1 from digests where period = ${key}) as sent`;
  if (known?.sent) return { queued: false, why: "sent" };
  const report = await core.db.transaction((tx) => readReport(tx, reportParams(core)), { isolationLevel: "repeatable read", accessMode: "read only" });
  return pg.begin(async (tx): Promise<DigestOutcome> => {
    const [lock] = await tx<{ locked: boolean }[]>`select pg_try_advisory_xact_lock(hashtextextended('vmres:admin_digest', 0)) as locked`;
    if (!lock?.locked) return { queued: false, why: "another" };
    const inserted = await tx`insert into digests (period, sent_by) values (${key}, ${sentBy}) on conflict (period) do nothing returning period`;
    if (inserted.length === 0) return { queued: false, why: "sent" };
    if (opts.notify) await enqueueNotices(tx, [{ kind: "admin_digest", period: key, report }]);
    return { queued: true, report };
  });
}
