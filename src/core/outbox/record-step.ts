import type { Db, PgSql } from "../../db/client.js";
import { OUTBOX_CHANNEL } from "../../db/notify.js";
import type { Core } from "../types.js";
import type { Claimer } from "./notice-row.js";

/**
 * Records one delivered step (in the caller's transaction, with whatever the
 * step stores, such as the DM's ts) and renews the claim, so a notice of many
 * steps is never taken for abandoned while it makes progress.
 */
export async function recordStep(db: Db, id: number, claimer: Claimer, step: string): Promise<boolean> {
  return stepRecorded(db.$client, id, claimer, step);
}

/** recordStep in the caller's transaction. */
async function stepRecorded(tx: PgSql, id: number, claimer: Claimer, step: string): Promise<boolean> {
  const rows = await tx`
    update outbox set delivered_steps = array_append(delivered_steps, ${step}::text), claimed_at = now()
    where id = ${id} and claimed_by = ${claimer}
    returning id`;
  return rows.length > 0;
}

/**
 * Records a step right after Slack answered, in one transaction with what the step stores
 * (`record`: the DM's ts, a message to rewrite later); false when the claim was lost meanwhile.
 */
export async function recordStepWith(core: Core, id: number, claimer: Claimer, step: string, record?: (tx: PgSql) => Promise<void>): Promise<boolean> {
  return core.db.$client.begin(async (tx) => {
    await record?.(tx);
    return stepRecorded(tx, id, claimer, step);
  });
}

/** Records several notices' steps at once (a summary that stands for them all): the ids whose claims were still ours. */
export async function recordStepsOf(core: Core, claimer: Claimer, notices: { id: number; steps: string[] }[]): Promise<number[]> {
  return core.db.$client.begin(async (tx) => {
    const kept: number[] = [];
    for (const n of notices) {
      let still = true;
      for (const step of n.steps) still = still && (await stepRecorded(tx, n.id, claimer, step));
      if (still) kept.push(n.id);
    }
    return kept;
  });
}

/** Where the delivery runner listens for new notices: the outbox's channel on the core's connection pool. */
export function outboxWakeups(core: Core): { sql: Core["db"]["$client"]; channel: string } {
  return { sql: core.db.$client, channel: OUTBOX_CHANNEL };
}
