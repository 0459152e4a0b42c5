import { installationId } from "../core/provision/installation.js";
import type { JobClaim } from "../core/provision/jobs.js";
import { reportUnknownInstances, sweepImages, topUpPools, unknownInstances } from "../core/provision/maintain.js";
import { provisionedPools } from "../core/provision/pools.js";
import type { Core } from "../core/types.js";
import { PROVIDER_JOBS_CHANNEL } from "../db/notify.js";
import { JobRunner, type JobObserver } from "../jobs/runner.js";
import type { Logger } from "../log.js";
import { providerJobKind, type JobOutcome } from "./job-kind.js";
import type { Provider } from "./provider.js";
import { providerFor } from "./providers.js";
import type { FinishJob } from "./run-job.js";
import type { ProvisionSettings } from "./settings.js";

export type { JobOutcome } from "./job-kind.js";

/**
 * Runs provider jobs through the one job runner (src/jobs/runner.ts, the kind
 * in job-kind.ts): claims due ones (committed claim), calls the provider
 * outside any transaction while the runner renews the claim, and records the
 * outcome, and takes over the claims of dead processes. `maintain()` is the
 * provisioner's reconciler: pools topped up to min_idle, old images swept, providers listed for
 * unknown instances. The service runs both; a CLI waiting for its VM runs
 * `runDue` itself, so it needs no service.
 */
export class ProvisionWorker {
  private timer: NodeJS.Timeout | null = null;
  private stopped = false;
  private lastListing = 0;
  private reported = new Set<string>();
  private installation: Promise<string> | null = null;
  private readonly runner: JobRunner<JobClaim, FinishJob, string | null>;

  constructor(
    private readonly opts: {
      core: Core;
      log: Logger;
      instanceId: string;
      settings: ProvisionSettings;
      /** Tests wrap providers (to fail or stall a step); default: the pool's own. `installation`: this installation's id. */
      providerFor?: (claim: Pick<JobClaim, "pool" | "provider" | "providerSettings">, installation: string) => Provider;
      onOutcome?: (claim: JobClaim, outcome: JobOutcome) => void;
      /** The runner's metrics (runs, failures, duration by kind). */
      observe?: JobObserver;
    },
  ) {
    const { core, log, instanceId, settings } = opts;
    this.runner = new JobRunner({
      kind: providerJobKind({ core, log, instanceId, settings, provider: (claim) => this.provider(claim), ...(opts.onOutcome ? { onOutcome: opts.onOutcome } : {}) }),
      log,
      concurrency: settings.concurrency,
      pollIntervalMs: settings.pollMs,
      claimTimeoutMs: settings.claimTimeoutMs,
      jobTimeoutMs: providerJobTimeoutMs(settings),
      // Any process queuing a job (a CLI check-in with --keep, an admin's retry) wakes the runner at once (drizzle/0022).
      listen: { sql: core.db.$client, channel: PROVIDER_JOBS_CHANNEL },
      ...(opts.observe ? { observe: opts.observe } : {}),
    });
  }

  get runningCount(): number {
    return this.runner.runningCount;
  }

  get pollError(): string | null {
    return this.runner.pollError;
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
  runDue(pool: string | null = null): Promise<number> {
    return this.runner.runDue(pool);
  }

  /** The provisioner's reconciler; each part logs and survives the others' failures. */
  async maintain(): Promise<void> {
    const { core, log, settings } = this.opts;
    const parts: [string, () => Promise<unknown>][] = [
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

  /** Runs jobs as they come due (the runner's loop), and the reconciler every PROVISION_POLL_INTERVAL_MS. */
  start(): void {
    this.runner.start();
    const tick = async () => {
      if (this.stopped) return;
      await this.maintain();
      // Top-up and sweeps queue jobs: claim them now rather than at the next poll.
      this.runner.wake();
      if (!this.stopped) this.timer = setTimeout(() => void tick(), this.opts.settings.pollMs);
    };
    void tick();
  }

  /** Stops claiming and waits for running jobs (their claims lapse and are taken over if this takes too long). */
  async stop(graceMs = 10_000): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    await this.runner.stop(graceMs);
  }
}

/**
 * The runner's timeout of one provider job: each provider call has its own
 * (PROVIDER_TIMEOUT_MS) and a create's wait for SSH its own, so this is only
 * the net under them: a save makes three calls, a create one and the SSH wait.
 */
export function providerJobTimeoutMs(settings: Pick<ProvisionSettings, "providerTimeoutMs" | "sshTimeoutMs">): number {
  return 3 * settings.providerTimeoutMs + settings.sshTimeoutMs + 5_000;
}
