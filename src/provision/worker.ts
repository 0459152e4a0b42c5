import { sql } from "drizzle-orm";
import { installationId } from "../core/provision/installation.js";
import { claimDueJobs, failJob, resetStaleJobClaims, type JobClaim } from "../core/provision/jobs.js";
import { reportUnknownInstances, sweepImages, topUpPools, unknownInstances } from "../core/provision/maintain.js";
import { provisionedPools } from "../core/provision/pools.js";
import type { Core } from "../core/types.js";
import type { Logger } from "../log.js";
import { ProviderError, type Provider } from "./provider.js";
import { providerFor } from "./providers.js";
import { runJob } from "./run-job.js";
import type { ProvisionSettings } from "./settings.js";

/** How each job attempt ended, for logs and tests. */
export type JobOutcome = "done" | "lost" | "retry" | "failed";

/**
 * Runs provider jobs: claims due ones (committed claim), calls the provider
 * outside any transaction while renewing the claim, and records the outcome.
 * `maintain()` is the provisioner's reconciler: stale claims back to due, pools
 * topped up to min_idle, old images swept, providers listed for unknown
 * instances. The service runs both on a timer; a CLI waiting for its VM runs
 * `runDue` itself, so it needs no service.
 */
export class ProvisionWorker {
  private running = new Set<Promise<unknown>>();
  private timer: NodeJS.Timeout | null = null;
  private stopped = false;
  private lastListing = 0;
  private reported = new Set<string>();
  private installation: Promise<string> | null = null;
  pollError: string | null = null;

  constructor(
    private readonly opts: {
      core: Core;
      log: Logger;
      instanceId: string;
      settings: ProvisionSettings;
      /** Tests wrap providers (to fail or stall a step); default: the pool's own. `installation`: this installation's id. */
      providerFor?: (claim: Pick<JobClaim, "pool" | "provider" | "providerSettings">, installation: string) => Provider;
      onOutcome?: (claim: JobClaim, outcome: JobOutcome) => void;
    },
  ) {}

  get runningCount(): number {
    return this.running.size;
  }

  private async provider(claim: Pick<JobClaim, "pool" | "provider" | "providerSettings">): Promise<Provider> {
    // Read once per process (it never changes); a failed read is tried again next time.
    this.installation ??= installationId(this.opts.core.db).catch((err: unknown) => {
      this.installation = null;
      throw err;
    });
    const installation = await this.installation;
    return this.opts.providerFor?.(claim, installation) ?? providerFor(claim.pool, claim.provider, claim.providerSettings, this.opts.settings.providerTimeoutMs, installation);
  }

  /** Claims what is due (up to the free concurrency) and runs it; resolves when those jobs end. Returns how many ran. */
  async runDue(pool: string | null = null): Promise<number> {
    const free = this.opts.settings.concurrency - this.running.size;
    const claims = await claimDueJobs(this.opts.core.db, this.opts.instanceId, free, pool);
    await Promise.all(claims.map((claim) => this.track(this.attempt(claim))));
    return claims.length;
  }

  private async track<T>(work: Promise<T>): Promise<T> {
    this.running.add(work);
    try {
      return await work;
    } finally {
      this.running.delete(work);
    }
  }

  private async attempt(claim: JobClaim): Promise<JobOutcome> {
    const { core, log, settings } = this.opts;
    const context = { job: claim.id, kind: claim.kind, pool: claim.pool, instance: claim.instance?.name, image: claim.image?.name, attempt: claim.attempts + 1 };
    const renewal = renewClaim(core, claim, settings.claimTimeoutMs);
    let outcome: JobOutcome;
    try {
      const provider = await this.provider(claim);
      const result = await runJob(core, provider, claim, settings).finally(() => renewal.stop());
      outcome = result;
      if (result === "lost") log.warn(context, "provider job done, but its claim was taken over meanwhile");
      else log.info(context, "provider job done");
    } catch (err) {
      await renewal.stop();
      const error = err instanceof Error ? err.message : String(err);
      // A refusal (what the provider met is not ours) would be refused again: it fails now and the admins hear of it now.
      const maxAttempts = err instanceof ProviderError && err.permanent ? claim.attempts + 1 : settings.maxAttempts;
      const failure = await failJob(core.db, claim, error, { maxAttempts, backoffMs: settings.backoffMs });
      outcome = "lost" in failure ? "lost" : failure.retried ? "retry" : "failed";
      if (outcome === "failed") log.error({ ...context, err }, "provider job failed for good; the person and the admins are told");
      else log.warn({ ...context, err, outcome }, "provider job attempt failed");
    }
    this.opts.onOutcome?.(claim, outcome);
    return outcome;
  }

  /** The provisioner's reconciler; each part logs and survives the others' failures. */
  async maintain(): Promise<void> {
    const { core, log, settings } = this.opts;
    const parts: [string, () => Promise<unknown>][] = [
      ["reset stale claims", async () => {
        const reset = await resetStaleJobClaims(core.db, settings.claimTimeoutMs);
        if (reset.length > 0) log.warn({ jobs: reset }, "provider jobs whose process died are due again");
      }],
      ["top up", async () => {
        const made = await topUpPools(core);
        if (made.length > 0) log.info({ instances: made }, "creating instances to keep pools at min_idle");
      }],
      ["sweep images", async () => {
        const doomed = await sweepImages(core, settings.imageRetentionMs);
        if (doomed.length > 0) log.info({ images: doomed }, "deleting images past IMAGE_RETENTION or beyond max_images");
      }],
      ["list providers", () => this.listProviders()],
    ];
    for (const [what, part] of parts) {
      try {
        await part();
      } catch (err) {
        log.error({ err }, `provisioner: could not ${what}`);
      }
    }
  }

  /** Every PROVIDER_LIST_INTERVAL_MS: instances with our labels (docker: this installation's) that vmres has no live row for are reported (and deleted with PROVIDER_ORPHANS=delete). */
  async listProviders(force = false): Promise<string[]> {
    const { core, log, settings } = this.opts;
    if (!force && Date.now() - this.lastListing < settings.listIntervalMs) return [];
    this.lastListing = Date.now();
    const found: string[] = [];
    for (const pool of await provisionedPools(core.db)) {
      const provider = await this.provider({ pool: pool.name, provider: pool.provider, providerSettings: pool.providerSettings });
      const listed = await provider.list(pool.name);
      const unknown = new Set(await unknownInstances(core, pool.name, listed.map((m) => m.name)));
      const strays = listed.filter((m) => unknown.has(m.name));
      if (strays.length === 0) continue;
      const deleting = settings.orphans === "delete";
      if (deleting) for (const stray of strays) await provider.delete(stray.ref);
      const fresh = strays.map((s) => s.name).filter((n) => deleting || !this.reported.has(n));
      for (const n of fresh) this.reported.add(n);
      log.warn({ pool: pool.name, instances: strays.map((s) => s.name), deleted: deleting }, "instances with the vmres label that vmres has no record of");
      await reportUnknownInstances(core, pool.name, fresh, deleting);
      found.push(...strays.map((s) => s.name));
    }
    return found;
  }

  start(): void {
    const tick = async () => {
      if (this.stopped) return;
      try {
        await this.maintain();
        // Not awaited: a long create must not hold back the claims of other jobs.
        void this.runDue().catch((err: unknown) => this.opts.log.error({ err }, "provisioner: could not claim jobs"));
        this.pollError = null;
      } catch (err) {
        this.pollError = err instanceof Error ? err.message : String(err);
      }
      if (!this.stopped) this.timer = setTimeout(() => void tick(), this.opts.settings.pollMs);
    };
    void tick();
  }

  /** Stops claiming and waits for running jobs (their claims lapse and are taken over if this takes too long). */
  async stop(graceMs = 10_000): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    await Promise.race([Promise.allSettled([...this.running]), new Promise((r) => setTimeout(r, graceMs).unref())]);
  }
}

/**
 * Keeps a claim fresh while its provider calls run (every quarter of the
 * timeout), so the timeout can be short and a dead process's job is taken
 * over soon. `stop()` waits for a renewal in flight, so the finish compares
 * the claim time the database holds.
 */
function renewClaim(core: Core, claim: JobClaim, timeoutMs: number): { stop(): Promise<void> } {
  let inFlight: Promise<unknown> = Promise.resolve();
  const timer = setInterval(() => {
    inFlight = inFlight.then(async () => {
      const [row] = await core.db.execute<{ claimed_at: string }>(sql`
        update provider_jobs set claimed_at = now()
        where id = ${claim.id} and state = 'queued' and claimed_by = ${claim.claimedBy} and claimed_at = ${claim.claimedAt}::timestamptz
        returning claimed_at::text as claimed_at`);
      if (row) claim.claimedAt = row.claimed_at;
    }).catch(() => undefined);
  }, Math.max(50, Math.floor(timeoutMs / 4)));
  return {
    async stop() {
      clearInterval(timer);
      await inFlight;
    },
  };
}
