import type { Core } from "../../core/types.js";
import type { Logger } from "../../log.js";
import { stepsFor } from "../deliveries/index.js";
import type { DmChannels } from "../deliveries/dm-channels.js";
import { ClaimLostError, type DeliveryContext } from "../deliveries/step.js";
import { stepPoster } from "../deliveries/step-poster.js";
import type { SlackSettings } from "../settings.js";
import type { WebClient } from "../slack-client.js";
import { staleAlertsSummary } from "../views/admin-alerts.js";
import { isRecorded, notPostedEntry } from "./expiry.js";
import { parseNotice } from "../../core/notices.js";
import type { Claimer, NoticeRow } from "../../core/outbox/notice-row.js";
import { recordStepsOf } from "../../core/outbox/record-step.js";
import { releaseNotices } from "../../core/outbox/release-notices.js";
import { renewNoticeClaim } from "../../core/outbox/renew-notice-claim.js";

/** The step name the summary message is tagged with (on its lowest notice), so a retry finds it rather than posting it again. */
export const STALE_SUMMARY_STEP = "stale_summary";

/** What summarising needs from the dispatcher. */
export interface SummaryDeps {
  core: Core;
  client: WebClient;
  dms: DmChannels;
  log: Logger;
  settings: SlackSettings;
  claimer: Claimer;
  contextFor: (row: NoticeRow) => DeliveryContext;
  /** Counts a failed attempt on notices, as for any failed delivery (backoff, Retry-After), making them due again together. */
  fail: (rows: NoticeRow[], err: unknown) => Promise<void>;
}

interface Gathered {
  row: NoticeRow;
  steps: string[];
  lines: string[];
}

/**
 * Tells the admin channel, in one message, every alert among `rows` (claimed
 * stale alerts, oldest first) whose admin-channel step is not on record yet;
 * then, in one transaction, records those steps as summarised. The message is
 * tagged with the lowest notice and looked for first when that notice may have
 * posted it already, so it is posted once however often this is retried. If
 * Slack refuses it, every gathered notice fails and is summarised again next
 * time. Returns the rows to deliver on (their other steps: an expired DM, a
 * Home), with what was recorded; rows whose summary failed are not returned.
 */
export async function summariseStaleAlerts(deps: SummaryDeps, rows: NoticeRow[]): Promise<NoticeRow[]> {
  const { core, claimer, log, settings } = deps;
  const channel = settings.adminChannel;
  const gathered = channel ? rows.map((row) => gather(deps, row)).filter((g) => g !== null) : [];
  const [lowest] = gathered;
  if (!channel || !lowest) return rows;
  const others = rows.filter((row) => !gathered.some((g) => g.row === row));

  const message = staleAlertsSummary(
    gathered.flatMap((g) => g.lines.map((line) => ({ line, ageMs: g.row.ageMs }))),
    settings.outbox.noticeMaxAgeMs,
  );
  const poster = stepPoster({
    client: deps.client,
    dms: deps.dms,
    log,
    tag: { noticeId: lowest.row.id, queuedAt: lowest.row.queuedAt, step: STALE_SUMMARY_STEP },
    mayBePosted: lowest.row.attempts > 0 || lowest.row.takenOver,
    renewClaim: () => renewNoticeClaim(core.db, lowest.row.id, claimer),
  });
  let ts: string;
  try {
    ({ ts } = await poster.toChannel(channel, message));
  } catch (err) {
    if (err instanceof ClaimLostError) {
      // Another process has the lowest notice now; give the rest back, to be summarised together next time.
      log.warn({ notice: lowest.row.id }, "outbox claim was taken over before the stale-alert summary was posted; leaving it for the next pass");
      await releaseNotices(core.db, gathered.map((g) => g.row.id), claimer, 0, null);
    } else {
      await deps.fail(gathered.map((g) => g.row), err);
    }
    return others;
  }

  let ours: Gathered[];
  try {
    // Right after Slack answered, every gathered alert at once: the summary stands for all of them.
    const kept = await recordStepsOf(core, claimer, gathered.map((g) => ({ id: g.row.id, steps: g.steps.map((step) => notPostedEntry(step, "summarised")) })));
    ours = gathered.filter((g) => kept.includes(g.row.id));
  } catch (err) {
    // Not recorded: each notice is retried, and the retry finds this summary by its tag instead of posting another.
    await deps.fail(gathered.map((g) => g.row), err);
    return others;
  }
  log.info(
    { channel, ts, notices: ours.map((g) => g.row.id), kinds: [...new Set(ours.map((g) => g.row.kind))] },
    `${gathered.length} alert(s) older than NOTICE_MAX_AGE told in one summary message instead of one by one`,
  );
  for (const g of gathered.filter((g) => !ours.includes(g))) {
    log.warn({ notice: g.row.id }, "outbox claim was taken over before the summary was recorded; its new owner summarises it again");
  }
  return [
    ...others,
    ...ours.map((g) => ({ ...g.row, deliveredSteps: [...g.row.deliveredSteps, ...g.steps.map((s) => notPostedEntry(s, "summarised"))] })),
  ].sort((a, b) => a.id - b.id);
}

/** The alert's admin-channel steps not on record yet, with their summary lines; null when it has none (or cannot be read). */
function gather(deps: SummaryDeps, row: NoticeRow): Gathered | null {
  if (!row.expired) return null;
  const parsed = parseNotice(row.kind, row.payload);
  if (!("notice" in parsed)) return null;
  const steps: string[] = [];
  const lines: string[] = [];
  for (const step of stepsFor(parsed.notice, deps.contextFor(row))) {
    if (!step.once || step.audience.kind !== "admins" || isRecorded(row.deliveredSteps, step.name)) continue;
    steps.push(step.name);
    lines.push(step.audience.staleLine);
  }
  return steps.length > 0 ? { row, steps, lines } : null;
}
