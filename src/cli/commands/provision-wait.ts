import { hostname } from "node:os";
import type { Context } from "../command.js";
import { EXIT, failure, type Failure } from "../failures.js";
import { lazyLogger } from "../log.js";
import { vmresCommand } from "../invocation.js";

/**
 * Waits for a provider job (a create for this caller, a save) and runs due
 * jobs of the pool itself meanwhile, so the CLI needs no service; a service
 * running too is fine (claims decide who runs each job). Gives up after the
 * provider and SSH timeouts, leaving the job to the service. Null: done.
 */
export async function waitForJob(ctx: Context, jobId: number, pool: string, say: (line: string) => void): Promise<Failure | null> {
  const { ProvisionWorker } = await import("../../provision/worker.js");
  const { provisionSettingsFrom } = await import("../../provision/settings.js");
  const { jobState } = await import("../../core/provision/queries.js");
  const settings = provisionSettingsFrom(ctx.config);
  const worker = new ProvisionWorker({
    core: ctx.core,
    log: lazyLogger(ctx.config.LOG_LEVEL === "info" ? "warn" : ctx.config.LOG_LEVEL, "vmres-cli", ctx.config.LOG_FORMAT),
    instanceId: `cli:${hostname()}:${process.pid}`,
    settings,
  });
  const deadline = Date.now() + 3 * settings.providerTimeoutMs + settings.sshTimeoutMs;
  let attempts = 0;
  for (;;) {
    const state = await jobState(ctx.core, jobId);
    if (!state) return failure(EXIT.unexpected, "job_missing", `provider job ${jobId} is gone`);
    if (state.state === "done") return null;
    if (state.state === "failed" || state.state === "abandoned") {
      return failure(EXIT.refused, "job_failed", `provider job ${jobId} failed after ${state.attempts} attempts: ${state.lastError ?? "no error recorded"}`, { jobId });
    }
    if (state.attempts > attempts && state.lastError) {
      attempts = state.attempts;
      say(`attempt ${attempts} failed (${state.lastError}); retrying…`);
    }
    if (Date.now() > deadline) {
      return failure(EXIT.refused, "job_pending", `provider job ${jobId} is not done yet; vmres goes on with it (${vmresCommand()} jobs shows it)`, { jobId });
    }
    const ran = await worker.runDue(pool);
    if (ran === 0) await new Promise((r) => setTimeout(r, 250));
  }
}
