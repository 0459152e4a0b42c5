/**
 * The final block: every figure of the four phases in one place, and which
 * of them break an invariant (those decide the exit code). Duplicate DMs
 * after kill -9 are measured and shown, not judged: a fix is under way.
 * Phase 4 is judged per property (answers, database, process, leaks), each
 * PASS or FAIL with the cases that failed it.
 */
import type { ContentionFigures } from "./soak-contention.js";
import { codes } from "./soak-contention.js";
import type { ApiFigures, ApiResult } from "./soak-hostile-api.js";
import type { HostileFigures } from "./soak-hostile.js";
import type { KillFigures } from "./soak-kill.js";

const n = (value: number) => value.toLocaleString("en-US");

export function summary(
  contention: ContentionFigures | null,
  kills: KillFigures | null,
  hostile: HostileFigures | null,
  api: ApiFigures | null,
  seconds: number,
): { lines: string[]; clean: boolean } {
  const lines: string[] = [`=== Summary (whole soak ${seconds.toFixed(0)} s) ===`];
  const violations: string[] = [];
  const judge = (what: string, count: number) => {
    if (count > 0) violations.push(`${what}: ${n(count)}`);
    return n(count);
  };

  if (contention) {
    const c = contention;
    const log = c.log;
    lines.push(
      `1. contention (${c.seconds.toFixed(0)} s): checkouts attempted ${n(c.checkout.attempted)}, succeeded ${n(c.checkout.succeeded)}, ` +
        `refused ${codes(c.checkout.refused)}; errors ${codes(c.checkout.errors)}`,
      `   check-ins attempted ${n(c.checkin.attempted)}, succeeded ${n(c.checkin.succeeded)}, refused ${codes(c.checkin.refused)}, errors ${codes(c.checkin.errors)}; ` +
        `intruder check-ins ${n(c.intruder.attempted)}, succeeded ${judge("intruder check-ins that succeeded", c.intruder.succeeded + c.intruderEvents)}`,
      `   double allocations ${judge("double allocations (phase 1)", log.doubleCheckouts)}, quota breaches ${judge("quota breaches in the events replay (phase 1)", log.quotaBreaches)} (events replay) + ` +
        `${judge("quota breaches in live snapshots (phase 1)", c.liveBreaches)} (${n(c.liveSamples)} live snapshots), check-ins without checkout ${judge("check-ins without a checkout (phase 1)", log.checkinsWithoutCheckout)}, ` +
        `wrong previous holder ${judge("check-ins naming the wrong holder (phase 1)", log.wrongPreviousHolder)}, state/log mismatches ${judge("VMs disagreeing with the log (phase 1)", log.stateMismatches)}`,
      `   successes seen by clients but not in the events log: checkouts ${judge("checkouts seen but not logged (phase 1)", c.seenNotLogged)}, check-ins ${judge("check-ins seen but not logged (phase 1)", c.checkinsNotLogged)}; ` +
        `worker processes failed ${judge("worker processes failed", c.workersFailed)}; check-ins refused to their holder ${judge("check-ins refused to their holder (phase 1)", Object.values(c.checkin.refused).reduce((a, b) => a + b, 0))}`,
    );
  }
  if (kills) {
    const k = kills;
    const cli = [...k.outcomes].filter(([key]) => key.startsWith("cli exit code")).map(([key, v]) => `${key.replace("cli exit code ", "")}×${n(v)}`).join(", ") || "none";
    lines.push(
      `2. kill -9: ${k.kills} kills during Slack and CLI load; checkouts seen to succeed ${n(k.ledger.seenCheckouts)} (check-ins ${n(k.ledger.seenCheckins)}); answers never received (service killed meanwhile, or no reply within 8 s): ` +
        `${n(k.ledger.uncertainCheckouts)} checkouts, ${n(k.ledger.uncertainCheckins)} check-ins; CLI exit codes ${cli}`,
      `   lost checkouts ${judge("lost checkouts", k.lost.lost)}; seen but not logged ${judge("checkouts seen but not logged (phase 2)", k.seenNotLogged)}; ` +
        `double allocations ${judge("double allocations (whole run)", k.log.doubleCheckouts)}; quota breaches ${judge("quota breaches in the events replay (whole run)", k.log.quotaBreaches)} (events replay) + ` +
        `${judge("quota breaches in live snapshots (phase 2)", k.liveBreaches)} (${n(k.liveSamples)} live snapshots); check-ins without checkout ${judge("check-ins without a checkout (whole run)", k.log.checkinsWithoutCheckout)}; ` +
        `wrong previous holder ${judge("check-ins naming the wrong holder (whole run)", k.log.wrongPreviousHolder)}; state/log mismatches ${judge("VMs disagreeing with the log (whole run)", k.log.stateMismatches)}`,
      `   outbox: ${n(k.outbox.notices)} notices, ${n(k.outbox.delivered)} delivered, ${n(k.outbox.retrying)} retrying, stuck ${judge("outbox notices stuck", k.outbox.stuck)}; ` +
        `'unexpected error' replies ${judge("'unexpected error' replies (phase 2)", k.unexpectedReplies)}; client anomalies ${judge("client anomalies (phase 2)", k.ledger.anomalies.length)}`,
      `   checkout DMs: ${n(k.dms.checkouts)} checkouts in the events log, exactly one DM ${n(k.dms.exactlyOne)}, none ${judge("checkouts without a DM", k.outbox.retrying + k.outbox.stuck > 0 ? 0 : k.dms.missing)}` +
        `${k.outbox.retrying + k.outbox.stuck > 0 ? ` (${n(k.dms.missing)}, outbox not drained)` : ""}, ` +
        `duplicated ${n(k.dms.duplicated)} (${n(k.dms.extraDms)} extra DMs; measured, not judged: a fix is under way)`,
    );
  }
  if (hostile) {
    const h = hostile;
    lines.push(
      `3. hostile inputs: ${h.inputs}; changed state ${judge("hostile inputs that changed state", h.changedState)}; replays that acted once ${h.replaysActedOnce} of ` +
        `${h.results.filter((r) => r.replay).length}, more than once ${judge("replays that acted more than once", h.replaysActedMoreThanOnce)}; crashed the process ${judge("hostile inputs that crashed the service", h.crashed)}; ` +
        `'unexpected error' replies ${judge("'unexpected error' replies (phase 3)", h.unexpectedReplies)}; live mentions from the input echoed ${judge("echoed mentions", h.mentionLeaks)}`,
    );
  }
  if (api) {
    const failed = apiProperties(api.results);
    lines.push(`4. hostile API requests: ${n(api.results.length)} cases (${n(api.results.filter((r) => r.hidden).length)} with HIDE_HOLDERS on)`);
    const unprepared = api.results.filter((r) => r.setupFailed !== "");
    lines.push(`   cases prepared: ${unprepared.length === 0 ? "PASS" : `FAIL in ${n(unprepared.length)} (${unprepared.map((r) => `${r.name}: ${r.setupFailed}`).join("; ")})`}`);
    if (unprepared.length > 0) violations.push(`API cases that could not be prepared: ${n(unprepared.length)}`);
    for (const p of failed) {
      lines.push(`   ${p.what}: ${p.failed.length === 0 ? "PASS" : `FAIL in ${n(p.failed.length)} (${p.failed.join("; ")})`}`);
      if (p.failed.length > 0) violations.push(`API cases where ${p.short}: ${n(p.failed.length)}`);
    }
  }
  lines.push(violations.length === 0 ? "RESULT: every invariant held." : `RESULT: invariants broken: ${violations.join("; ")}`);
  return { lines, clean: violations.length === 0 };
}

/** Phase 4's four properties, each with the cases that broke it (a case whose setup failed is counted above, not here). */
function apiProperties(results: ApiResult[]): { what: string; short: string; failed: string[] }[] {
  const named = (r: ApiResult) => `${r.name}${r.hidden ? " [hidden]" : ""}`;
  const which = (broke: (r: ApiResult) => boolean) => results.filter((r) => r.setupFailed === "" && broke(r)).map(named);
  return [
    { what: "answers what a correct service says (status, code, headers)", short: "the answer was wrong", failed: which((r) => r.misses.length > 0) },
    { what: "database changed only as the case may change it", short: "the database changed", failed: which((r) => r.changed !== "") },
    { what: "process survived and answered /healthz", short: "the service crashed", failed: which((r) => r.crashed) },
    { what: "nothing leaked (token values, hidden names and notes, cleanup output)", short: "something leaked", failed: which((r) => r.leaks.length > 0) },
  ];
}
