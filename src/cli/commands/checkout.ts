import type { CheckedOutVm } from "../../core/types.js";
import type { QueuePlace } from "../../core/waitlist.js";
import type { CreatingVm } from "../../core/provision/request.js";
import { UsageError } from "../args.js";
import { done, outcomeOf, type Context, type Outcome, type Prepare, type RemotePrepare } from "../command.js";
import { EXIT, failure, type Failure } from "../failures.js";
import { when } from "../table.js";
import { endText, lengthText } from "../times.js";
import { flag, leaseOption, noteOption, optionalUser, poolOption, requiredUser, stringValue, timeoutOption, recipientActor } from "../values.js";
import { vmresCommand } from "../invocation.js";
import { IMAGE_NAME } from "../../core/names.js";
import { withCheckedOutAt } from "../deprecated-keys.js";

/**
 * `vmres checkout --user ID [--pool P] [--for D] [--note TEXT] [--wait [--timeout D]]`:
 * lends a VM and prints how to reach it. With --wait, when none is free, it
 * joins the pool's queue to take the first VM that comes its way and waits for it.
 */
export const prepareCheckout: Prepare = (input) => {
  const user = requiredUser(input);
  const pool = poolOption(input);
  const note = noteOption(input);
  const forMs = leaseOption(input, "for");
  const wait = flag(input, "wait");
  const timeoutMs = timeoutOption(input);
  if (timeoutMs !== undefined && !wait) throw new UsageError(`--timeout goes with --wait: ${vmresCommand()} checkout --user ID --wait --timeout 30m`);
  const restore = restoreOption(input);
  if (restore !== undefined && wait) throw new UsageError("--restore creates a VM for you, there is no queue to wait in: leave out --wait");
  return async (ctx) => {
    const [{ checkoutFromPool }, { withDrizzle }] = await Promise.all([import("../../core/provision/request.js"), import("../database.js")]);
    const actor = recipientActor(user);
    const result = await checkoutFromPool(ctx.core, actor, { pool, note, forMs, restore });
    if (wait && !result.ok && (result.refusal.code === "no_vm_free" || result.refusal.code === "pool_full")) {
      return waitForVm(await withDrizzle(ctx), user, { pool: result.refusal.pool, note, forMs, timeoutMs });
    }
    if (!result.ok) return outcomeOf(result, user, () => "");
    if (result.value.kind === "creating") return created(await withDrizzle(ctx), user, result.value.creating);
    // The VM, as before provisioned pools: --json prints the same object either way.
    return granted(result.value.vm, user);
  };
};

/** The longest wait one request asks the service for (its limit); a longer --wait asks again. */
const LONGEST_REQUEST_WAIT_MS = 30 * 60_000;

/**
 * Over the API: `POST /v1/checkouts` as the token's person. With --wait, the
 * request itself waits (`{"wait": …}`, at most 30 min per request, asked again
 * until --timeout); Ctrl-C closes the request, and the service then leaves the
 * queue for the caller unless the VM came first.
 */
export const remoteCheckout: RemotePrepare = (input) => {
  const user = optionalUser(input);
  const pool = poolOption(input);
  const note = noteOption(input);
  leaseOption(input, "for");
  const lease = stringValue(input, "for")?.trim();
  const wait = flag(input, "wait");
  const timeoutMs = timeoutOption(input);
  if (timeoutMs !== undefined && !wait) throw new UsageError("--timeout goes with --wait: vmres checkout --wait --timeout 30m");
  const restore = restoreOption(input);
  if (restore !== undefined && wait) throw new UsageError("--restore creates a VM for you, there is no queue to wait in: leave out --wait");
  return async (remote) => {
    const [{ call }, { actingAs }, shapes] = await Promise.all([import("../remote/api.js"), import("../remote/person.js"), import("../remote/shapes.js")]);
    const who = await actingAs(remote, user, { needName: true });
    if ("kind" in who) return who;
    const name = who.name ?? "you";
    const body = { ...(pool === undefined ? {} : { pool }), ...(note === undefined ? {} : { note }), ...(lease === undefined ? {} : { for: lease }), ...(restore === undefined ? {} : { restore }) };
    const deadline = timeoutMs === undefined ? Infinity : Date.now() + timeoutMs;
    const stop = wait ? stopSignal() : null;
    const aborter = new AbortController();
    const onStop = () => aborter.abort();
    try {
      let said = false;
      for (;;) {
        const left = deadline - Date.now();
        const waitMs = wait ? Math.min(LONGEST_REQUEST_WAIT_MS, Math.max(1000, left)) : undefined;
        const request = waitMs === undefined ? body : { ...body, wait: `${Math.ceil(waitMs / 1000)}s` };
        if (wait && !said) {
          said = true;
          process.stderr.write(`Asking for a VM${pool ? ` of pool "${pool}"` : ""}; waiting for one${timeoutMs === undefined ? "" : ` up to ${lengthText(timeoutMs)}`} if none is free (Ctrl-C stops)…\n`);
        }
        if (wait) process.once("SIGINT", onStop).once("SIGTERM", onStop);
        let answer;
        try {
          answer = await call(remote, (init) => remote.client.POST("/v1/checkouts", { ...init, body: request }), { changes: true, signal: aborter.signal });
        } catch (err) {
          if (stop?.signal == null && !aborter.signal.aborted) throw err;
          return failure(EXIT.refused, "wait_interrupted", `interrupted (${stop?.signal ?? "SIGINT"}): the request was closed, and the service takes ${name} out of the queue; nothing was checked out.`);
        } finally {
          process.off("SIGINT", onStop).off("SIGTERM", onStop);
        }
        if ("kind" in answer) return answer;
        if (answer.ok) {
          const body = answer.value;
          // 202: a provisioned pool's VM still being created after the service's wait (direct mode says the same, exit 3).
          if (!("id" in body)) {
            return failure(EXIT.refused, "job_pending", `${body.instance} is still being created for ${name} in pool ${body.pool} (job ${body.jobId}); it is ${name}'s once ready: vmres list shows it then.`, {
              jobId: body.jobId,
              instance: body.instance,
            });
          }
          return granted(shapes.checkedOutVm(body), name);
        }
        if (!wait || answer.refusal.code !== "no_vm_free") return { ok: false, refusal: answer.refusal, userId: who.name };
        if (Date.now() >= deadline) {
          return failure(EXIT.refused, "wait_timeout", `no VM came within ${lengthText(timeoutMs ?? 0)}: ${name} is out of the queue of pool "${answer.refusal.pool}"; nothing was checked out.`, {
            pool: answer.refusal.pool,
            inQueue: false,
          });
        }
      }
    } finally {
      stop?.dispose();
    }
  };
};
/** `--restore` alone (true) or with an image name; a malformed name is a usage error. */
function restoreOption(input: Parameters<Prepare>[0]): true | string | undefined {
  const value = input.options.restore;
  if (value === undefined || value === true) return value === true ? true : undefined;
  if (typeof value === "string" && IMAGE_NAME.test(value)) return value;
  throw new UsageError(`--restore: ${JSON.stringify(value)} is not an image name (like cloud-alice-12; ${vmresCommand()} images --user ID lists yours)`);
}

/** A VM being created for this caller: say so, run the create (or let the service), then print it like any checkout. */
async function created(ctx: Context, user: string, creating: CreatingVm): Promise<Outcome | Failure> {
  const from = creating.restoredFrom ? ` from your image ${creating.restoredFrom}` : "";
  process.stderr.write(`Creating your VM ${creating.instance} in pool ${creating.pool}${from} (job ${creating.jobId})…\n`);
  const { waitForJob } = await import("./provision-wait.js");
  const waited = await waitForJob(ctx, creating.jobId, creating.pool, (line) => process.stderr.write(`${line}\n`));
  if (waited) return waited;
  const { openCheckoutOf } = await import("../../core/provision/queries.js");
  const vm = await openCheckoutOf(ctx.core, creating.instance);
  if (!vm) return failure(EXIT.unexpected, "vm_missing", `${creating.instance} was created but holds no checkout of ${user}`);
  return granted(vm, user);
}

export function describeCheckout(vm: CheckedOutVm, user: string): string {
  return [
    `Checked out ${vm.name} (pool ${vm.pool}, checkout ${vm.checkoutId}) for ${user} at ${when(vm.startedAt)}.`,
    `Lease ends: ${endText(vm.endsAt)}.${vm.endsAt ? ` Extend it with ${vmresCommand()} extend ${vm.name} --user ${user} [--by 2h]` : ""}`,
    ...(vm.bookedFrom ? [`The lease is cut short: ${vm.name} is booked from ${endText(vm.bookedFrom)}, so it ends at the booking's start and cannot be extended past it.`] : []),
    sshLine(vm),
    `Check it in when done: ${vmresCommand()} checkin ${vm.name} --user ${user}`,
    ...(vm.cleanupBlocked ? [cleanupBlockedWarning(vm.pool)] : []),
  ].join("\n");
}

/** Said at checkout and booking while the pool's cleanup cannot run: what a check-in will do then, and the way out. */
export function cleanupBlockedWarning(pool: string): string {
  return (
    `Warning: cleanup is blocked in pool ${pool} (vmres cannot use its SSH key): VMs checked in there stay in cleaning ` +
    `until an admin runs ${vmresCommand()} cleanup done VM --reason "…" or ${vmresCommand()} pool set ${pool} --cleanup none.`
  );
}

/** The line to paste into a terminal. */
export const sshLine = (vm: Pick<CheckedOutVm, "sshUser" | "ip" | "sshPort">) => `ssh ${vm.sshUser}@${vm.ip} -p ${vm.sshPort}`;

interface WaitRequest {
  pool: string;
  note: string | undefined;
  forMs: number | undefined;
  timeoutMs: number | undefined;
}

/**
 * Waits in the pool's queue for the first VM that comes to this person
 * (`waitForCheckout`, the same as the API's `wait`): woken by the database when
 * a VM of the pool may have become free, never sweeping itself. The VM comes
 * from the match it then tries (a returned or added VM), so a VM freed by a
 * lease that ended or by a cleanup needs the service (which runs both) running.
 * On timeout, SIGINT or SIGTERM it leaves the queue, unless the VM came first,
 * which it then prints: a VM granted is never left behind unsaid.
 */
async function waitForVm({ core, config }: Context, user: string, request: WaitRequest): Promise<Outcome | Failure> {
  const { waitForCheckout } = await import("../../core/wait-for-checkout.js");
  const { lazyLogger } = await import("../log.js");
  const actor = recipientActor(user);
  const say = (text: string) => process.stderr.write(`${text}\n`);
  const stop = stopSignal();
  try {
    const waited = await waitForCheckout(
      core,
      actor,
      { pool: request.pool, note: request.note, forMs: request.forMs },
      {
        timeoutMs: request.timeoutMs ?? Infinity,
        signal: stop.abort,
        log: lazyLogger(config.LOG_LEVEL === "info" ? "warn" : config.LOG_LEVEL, "vmres-cli"),
        onJoined: (place) =>
          say(
            `No VM is free in pool "${place.pool}": ${place.already ? `${user} was already in its queue` : `${user} joined its queue`}, ` +
              `at position ${place.position}. Waiting${request.timeoutMs === undefined ? "" : ` up to ${lengthText(request.timeoutMs)}`} (Ctrl-C leaves the queue)…`,
          ),
        onPosition: (position) => say(`Now at position ${position} in the queue of pool "${request.pool}"…`),
      },
    );
    if (!waited.ok) return { ok: false, refusal: waited.refusal, userId: user };
    const { end, place, position, inQueue } = waited.value;
    if (end.kind === "granted") return granted(end.vm, user);
    if (end.kind === "ended") return waitEnded(end.state, place);
    const why = end.kind === "stopped" ? `interrupted (${stop.signal ?? "SIGTERM"})` : `no VM came within ${lengthText(request.timeoutMs ?? 0)}`;
    const code = end.kind === "stopped" ? "wait_interrupted" : "wait_timeout";
    const queue = inQueue
      ? `${user} keeps the place in the queue of pool "${place.pool}" taken before (${vmresCommand()} unwait --user ${user} --pool ${place.pool} leaves it)`
      : `${user} left the queue of pool "${place.pool}"`;
    return failure(EXIT.refused, code, `${why}: ${queue}; nothing was checked out.`, { pool: place.pool, position, inQueue });
  } finally {
    stop.dispose();
  }
}

/** A VM lent: the words, and for --json the VM (with the deprecated `checkedOutAt` beside `startedAt`). */
function granted(vm: CheckedOutVm, user: string): Outcome {
  return done(withCheckedOutAt(vm), describeCheckout(vm, user));
}

/** The wait ended without a VM, by something else than this caller. */
function waitEnded(state: string, place: QueuePlace): Failure {
  const because: Record<string, string> = {
    gave_up: "its turn came but the person already holds as many VMs as the pool's quota allows",
    left: `the person left the queue (${vmresCommand()} unwait, or /vm unwait in Slack)`,
    passed: "the person passed on the VM offered",
    lapsed: "the VM offered was not taken within the claim window",
  };
  return failure(EXIT.refused, `wait_${state}`, `the wait in pool "${place.pool}" ended without a VM: ${because[state] ?? state}. Nothing was checked out.`, {
    pool: place.pool,
    state,
  });
}

/** SIGINT/SIGTERM while waiting: noted (so the queue is left cleanly), and the wait aborted. */
function stopSignal() {
  const aborter = new AbortController();
  const state = {
    signal: null as NodeJS.Signals | null,
    /** Aborted at the first signal. */
    abort: aborter.signal,
    dispose: () => {
      process.off("SIGINT", on);
      process.off("SIGTERM", on);
    },
  };
  const on = (signal: NodeJS.Signals) => {
    // A second Ctrl-C while leaving the queue: the default, end at once.
    if (state.signal !== null) process.exit(130);
    state.signal = signal;
    aborter.abort();
  };
  process.on("SIGINT", on);
  process.on("SIGTERM", on);
  return state;
}
