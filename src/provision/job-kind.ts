import { renewClaim, takeBackStaleClaims } from "../core/claims.js";
import { claimDueJobs, failJob, type JobClaim } from "../core/provision/jobs.js";
import type { Core } from "../core/types.js";
import { backoffDelayMs } from "../core/backoff.js";
import type { JobKind } from "../jobs/runner.js";
import type { Logger } from "../log.js";
import { ProviderError, type Provider } from "./provider.js";
import { runJob, type FinishJob } from "./run-job.js";
import type { ProvisionSettings } from "./settings.js";

/** How each job attempt ended, for logs and tests. */
export type JobOutcome = "done" | "lost" | "retry" | "failed";

/** The longest wait between two attempts of a provider job. */
const BACKOFF_MAX_MS = 3_600_000;

/**
 * Provider jobs as a kind of the job runner: the `provider_jobs` row is the
 * job, its SQL is the core's (src/core/provision/jobs.ts), the provider calls
 * are run-job.ts. A pool narrows the claim (a CLI waiting for its own job).
 */
export function providerJobKind(opts: {
  core: Core;
  log: Logger;
  instanceId: string;
  settings: ProvisionSettings;
  provider: (claim: JobClaim) => Promise<Provider>;
  onOutcome?: (claim: JobClaim, outcome: JobOutcome) => void;
}): JobKind<JobClaim, FinishJob, string | null> {
  const { core, log, instanceId, settings } = opts;
  const context = (claim: JobClaim) => ({
    job: claim.id,
    kind: claim.kind,
    pool: claim.pool,
    instance: claim.instance?.name,
    image: claim.image?.name,
    attempt: claim.attempts + 1,
  });
  return {
    name: "provider",
    claim: (limit, pool) => claimDueJobs(core.db.$client, instanceId, limit, pool ?? null),
    renew: (claim) => renewClaim(core.db.$client, "provider", claim.id, claim),
    async run(claim, ctx) {
      const provider = await opts.provider(claim);
      return runJob(core, provider, claim, settings, ctx.exclusive);
    },
    async complete(claim, finish) {
      const outcome: JobOutcome = await finish();
      if (outcome === "lost") log.warn(context(claim), "provider job done, but its claim was taken over meanwhile");
      else log.info(context(claim), "provider job done");
      opts.onOutcome?.(claim, outcome);
      return outcome;
    },
    async fail(claim, err) {
      const error = err instanceof Error ? err.message : String(err);
      // A refusal (what the provider met is not ours) would be refused again: it fails now and the admins hear of it now.
      const maxAttempts = err instanceof ProviderError && err.permanent ? claim.attempts + 1 : settings.maxAttempts;
      const failure = await failJob(core.db.$client, claim, error, {
        maxAttempts,
        retryDelayMs: (failures) => backoffDelayMs(failures, { baseMs: settings.backoffMs, maxMs: BACKOFF_MAX_MS, jitter: "full" }),
      });
      const outcome: JobOutcome = "lost" in failure ? "lost" : failure.retried ? "retry" : "failed";
      if (outcome === "failed") log.error({ ...context(claim), err }, "provider job failed for good; the person and the admins are told");
      else log.warn({ ...context(claim), err, outcome }, "provider job attempt failed");
      opts.onOutcome?.(claim, outcome);
      return outcome;
    },
    async takeOver() {
      const reset = await takeBackStaleClaims(core.db.$client, "provider", settings.claimTimeoutMs);
      if (reset.length > 0) log.warn({ jobs: reset.map((r) => ({ id: r.id, claimedBy: r.claimedBy })) }, "provider jobs whose process died are due again");
    },
    describe: context,
  };
}
