import { setTimeout as sleep } from "node:timers/promises";
import type { FastifyReply } from "fastify";
import { z } from "zod";
import { checkinById, type CheckinDone } from "../core/checkin.js";
import { openCheckoutById } from "../core/checkout-ended.js";
import { checkoutFromPool, type CreatingVm } from "../core/provision/request.js";
import { jobState, openCheckoutOf } from "../core/provision/queries.js";
import { changeLease, leaseRequestOf } from "../core/leases.js";
import { checkoutById } from "../core/pool-details.js";
import { listCheckouts, type CheckoutEntry } from "../core/queries.js";
import { refuse, type CheckedOutVm, type Core, type Result } from "../core/types.js";
import { waitForCheckout } from "../core/wait-for-checkout.js";
import { durationMs } from "./durations.js";
import { claimPendingKey, withFoldedKey, type AnswerOf } from "./idempotency.js";
import { httpProblem, refusalProblem } from "./problems.js";
import { actorOf, answer, iso, isoNow, json, responses, sendProblem } from "./respond.js";
import type { ApiDeps, V1 } from "./types.js";
import * as s from "./schemas.js";
import { sshLine } from "./vms.js";

/** The longest `wait` a checkout may ask for: beyond it, proxies and clients give up on the request anyway. */
export const MAX_WAIT_MS = 30 * 60_000;
/** How often a request waiting for a provider job looks at it. */
const WAIT_POLL_MS = 500;
/** Retry-After of a wait refused by API_WAITS_PER_PERSON: a waiting request lasts minutes. */
const TOO_MANY_WAITS_RETRY_S = 30;
/** Retry-After of a wait ended by the service stopping: a restart, or another replica, takes the retry. */
const SHUTDOWN_RETRY_S = 5;

export function checkedOutBody(vm: CheckedOutVm): z.infer<typeof s.checkedOut> {
  return {
    id: vm.checkoutId,
    vm: vm.name,
    pool: vm.pool,
    ip: vm.ip,
    sshUser: vm.sshUser,
    sshPort: vm.sshPort,
    ssh: sshLine(vm),
    startedAt: isoNow(vm.startedAt),
    endsAt: iso(vm.endsAt),
    note: vm.note,
    bookedFrom: iso(vm.bookedFrom ?? null),
    cleanupBlocked: vm.cleanupBlocked ?? false,
  };
}

export function checkoutBody(c: CheckoutEntry): z.infer<typeof s.checkout> {
  return { ...c, startedAt: isoNow(c.startedAt), endsAt: iso(c.endsAt), endedAt: iso(c.endedAt) };
}

const duration = durationMs;

/** A checkout's answer when a VM was lent at once: what the route sends, and what an Idempotency-Key keeps with the checkout. */
const lentAnswer: AnswerOf<CheckedOutVm> = (outcome) => (outcome.ok ? { status: 201, body: checkedOutBody(outcome.value) } : null);

type CheckinJob = { state: "done" | "failed" | "pending"; error: string | null } | null;

function checkinBody(done: CheckinDone, job: CheckinJob): z.infer<typeof s.checkinDone> {
  return {
    id: done.checkoutId,
    vm: done.vm,
    pool: done.pool,
    instance: done.instance
      ? {
          action: done.instance.action,
          image: "image" in done.instance ? done.instance.image : null,
          jobId: "jobId" in done.instance ? done.instance.jobId : null,
          saved: job === null ? null : job.state === "done",
          error: job?.error ?? null,
        }
      : null,
    forced: done.forced,
    previousHolder: done.previousHolder,
    nextState: done.nextState,
  };
}

/** A check-in's answer when decided in its transaction (not a save, which is answered once the image is saved): sent, and kept with the check-in. */
const checkinAnswer =
  (path: string): AnswerOf<CheckinDone> =>
  (outcome: Result<CheckinDone>) => {
    if (!outcome.ok) {
      const p = refusalProblem(outcome.refusal, path);
      return { status: p.status, body: p };
    }
    return outcome.value.instance?.action === "save" ? null : { status: 200, body: checkinBody(outcome.value, null) };
  };

export function checkoutRoutes(v1: V1, { core, log, shutdown = new AbortController().signal }: ApiDeps): void {
  v1.post(
    "/checkouts",
    {
      // The Idempotency-Key is claimed in the checkout's own transaction, and a lent VM's answer kept with its COMMIT.
      config: { foldsIdempotencyKey: true },
      schema: {
        operationId: "checkout",
        summary: "Check out a VM (optionally waiting for one; in a provisioned pool, created for you when none is ready)",
        description:
          "In a provisioned pool with no ready instance, the VM is created (or restored from your saved image with `restore`) and the request answers 201 once SSH answers on it. " +
          `A create taking longer than ${CREATE_WAIT_MS / 60_000} min answers 202 with the instance and its job: the VM is yours once ready (GET /v1/checkouts?open=true&user=me). A create that fails for good answers 502.`,
        tags: ["checkouts"],
        body: s.checkoutRequest,
        response: responses({ 201: json("the VM lent to you: how to reach it, and the lease", s.checkedOut), 202: json("the VM is still being created; it is yours once ready", s.creating) }, [404, 409, 422, 502, 503]),
      },
    },
    async (req, reply) => {
      const forMs = duration(req.body.for, "for");
      if (!forMs.ok) return (await claimPendingKey(req, reply)) ?? answer(req, reply, forMs, () => null);
      const waitMs = duration(req.body.wait, "wait", MAX_WAIT_MS);
      if (!waitMs.ok) return (await claimPendingKey(req, reply)) ?? answer(req, reply, waitMs, () => null);
      const actor = actorOf(req);
      const opts = { pool: req.body.pool, note: req.body.note, forMs: forMs.value };
      const gone = new AbortController();
      // Aborted only when the client left before the answer: every response closes, and an abort
      // builds an AbortError with its stack (a few % of the service's time per checkout in the bench's profile).
      reply.raw.once("close", () => {
        if (!reply.raw.writableFinished) gone.abort();
      });
      let any: AbortSignal | undefined;
      const ends = () => (any ??= AbortSignal.any([gone.signal, shutdown]));
      // A restore waits for a create, outside any transaction: its key is claimed first, on its own.
      const run = await withFoldedKey(req, reply, lentAnswer, (alongside) => checkoutFromPool(core, actor, { ...opts, restore: req.body.restore, alongside }), {
        fold: req.body.restore === undefined,
      });
      if ("replied" in run) return run.replied;
      const result = run.value;
      if (!result.ok && (result.refusal.code === "no_vm_free" || result.refusal.code === "pool_full") && waitMs.value !== undefined) {
        if (shutdown.aborted) return stopping(reply);
        const waited = await waitForCheckout(core, actor, { ...opts, pool: result.refusal.pool }, { timeoutMs: waitMs.value, signal: ends(), log });
        if (!waited.ok) {
          if (waited.refusal.code === "too_many_waits") void reply.header("retry-after", String(TOO_MANY_WAITS_RETRY_S));
          return answer(req, reply, waited, () => null);
        }
        const { end } = waited.value;
        if (end.kind === "granted") return reply.code(201).send(checkedOutBody(end.vm));
        // Out of the queue already (finished by the core); the retry, with the same Idempotency-Key too, runs anew.
        if (end.kind === "stopped" && shutdown.aborted) return stopping(reply);
        return answer(req, reply, result, () => null);
      }
      if (!result.ok) return answer(req, reply, result, () => null);
      if (result.value.kind === "ready") return reply.code(201).send(checkedOutBody(result.value.vm));
      const { creating } = result.value;
      const made = await untilCreated(core, creating, ends());
      if (made.vm) return reply.code(201).send(checkedOutBody(made.vm));
      if (made.failed !== null) {
        return sendProblem(reply, httpProblem("provision_failed", `creating ${creating.instance} in pool "${creating.pool}" failed for good: ${made.failed}; the person and the admins were told`, { jobId: creating.jobId }));
      }
      return reply.code(202).send({ instance: creating.instance, pool: creating.pool, jobId: creating.jobId, restoredFrom: creating.restoredFrom });
    },
  );

  v1.get(
    "/checkouts",
    {
      schema: {
        operationId: "listCheckouts",
        summary: "Checkouts, newest first",
        tags: ["checkouts"],
        querystring: z.strictObject({
          open: s.flagParam.optional().describe("true: only open ones"),
          user: z.string().max(200).optional().describe("only this person's (name or Slack ID); `me` for yourself"),
          vm: z.string().max(63).optional(),
          limit: z.coerce.number().int().min(1).max(1000).optional(),
        }),
        response: responses({ 200: json("checkouts, newest first", z.array(s.checkout)) }, [404, 422]),
      },
    },
    async (req, reply) => {
      const actor = actorOf(req);
      const person = req.query.user === undefined ? undefined : req.query.user === "me" ? actor.person : { lookup: req.query.user };
      const result = await listCheckouts(core, actor, { person, vm: req.query.vm, open: req.query.open, limit: req.query.limit });
      return answer(req, reply, result, (list) => list.map(checkoutBody));
    },
  );

  v1.get(
    "/checkouts/:id",
    {
      schema: { operationId: "getCheckout", summary: "One checkout", tags: ["checkouts"], params: s.idParam, response: responses({ 200: json("the checkout", s.checkout) }, [404]) },
    },
    async (req, reply) => answer(req, reply, await checkoutById(core, actorOf(req), req.params.id), checkoutBody),
  );

  v1.delete(
    "/checkouts/:id",
    {
      // The Idempotency-Key is claimed in the check-in's own transaction, and its answer kept with its COMMIT.
      config: { foldsIdempotencyKey: true },
      schema: {
        operationId: "checkin",
        summary: "Check in (admins: force=true checks in someone else's, on record; provisioned pools: keep=true saves the VM as your image first)",
        tags: ["checkouts"],
        params: s.idParam,
        querystring: z.strictObject({ force: s.flagParam.optional(), keep: s.flagParam.optional().describe("provisioned pools: save the instance as an image of yours, then delete it") }),
        response: responses({ 200: json("checked in: the VM is being cleaned (or retires)", s.checkinDone) }, [403, 404, 409, 410]),
      },
    },
    async (req, reply) => {
      const actor = actorOf(req);
      const options = { force: req.query.force ?? false, keep: req.query.keep ?? false };
      const run = await withFoldedKey(req, reply, checkinAnswer(req.url.split("?")[0]!), (alongside) => checkinById(core, actor, req.params.id, { ...options, alongside }));
      if ("replied" in run) return run.replied;
      const result = run.value;
      // Keep: the image is what the caller wants next (a restore right after must find it), so answer once it is saved.
      let job: CheckinJob = null;
      if (result.ok && result.value.instance?.action === "save") {
        const gone = new AbortController();
        reply.raw.once("close", () => {
          if (!reply.raw.writableFinished) gone.abort();
        });
        job = await untilJobEnds(core, result.value.instance.jobId, AbortSignal.any([gone.signal, shutdown]));
      }
      return answer(req, reply, result, (done) => checkinBody(done, job));
    },
  );

  v1.post(
    "/checkouts/:id/extend",
    {
      schema: {
        operationId: "extend",
        summary: "Extend the lease (by the pool's lease unless `by` says); admins: set `until` or `pin`",
        tags: ["checkouts"],
        params: s.idParam,
        body: s.extendRequest.optional(),
        response: responses({ 200: json("the lease's new end", s.leaseChange) }, [403, 404, 409, 410, 422]),
      },
    },
    async (req, reply) => {
      const by = duration(req.body?.by, "by");
      if (!by.ok) return answer(req, reply, by, () => null);
      const until = req.body?.until;
      const request = leaseRequestOf({ by: by.value, until: until === undefined ? undefined : new Date(until), pin: req.body?.pin });
      if ("several" in request) {
        return answer(req, reply, refuse({ code: "invalid_input", field: request.several[0]!, message: `give one of by, until and pin, not several (${request.several.join(" and ")})` }), () => null);
      }
      const actor = actorOf(req);
      const found = await openCheckoutById(core, actor, req.params.id);
      if (!found.ok) return answer(req, reply, found, () => null);
      const result = await changeLease(core, actor, found.value.vm, request, { checkoutId: found.value.id });
      return answer(req, reply, result, (c) => ({
        id: c.checkoutId,
        vm: c.vm,
        pool: c.pool,
        holder: c.holder,
        byAdmin: c.byAdmin,
        previousEndsAt: iso(c.previousEndsAt),
        endsAt: iso(c.endsAt),
      }));
    },
  );
}

/** How long a checkout waits for its VM to be created before answering 202. */
const CREATE_WAIT_MS = 10 * 60_000;

/** Waits while the service's provisioner creates the caller's VM: lent (its checkout), failed for good (the job's error), or neither yet (time up, or the client gone). */
async function untilCreated(core: Core, creating: CreatingVm, gone: AbortSignal): Promise<{ vm: CheckedOutVm | null; failed: string | null }> {
  const job = await untilJobEnds(core, creating.jobId, gone);
  if (job.state === "done") return { vm: await openCheckoutOf(core, creating.instance), failed: null };
  return { vm: null, failed: job.state === "pending" ? null : job.error };
}

/** Waits (up to CREATE_WAIT_MS, or until the client goes away) for a provider job the service's provisioner runs. */
async function untilJobEnds(core: Core, jobId: number, gone: AbortSignal): Promise<{ state: "done" | "failed" | "pending"; error: string | null }> {
  const deadline = Date.now() + CREATE_WAIT_MS;
  while (Date.now() < deadline && !gone.aborted) {
    const job = await jobState(core, jobId);
    if (job?.state === "done") return { state: "done", error: null };
    if (job === null || job.state === "failed" || job.state === "abandoned") return { state: "failed", error: job?.lastError ?? `job ${jobId} is gone` };
    await sleep(WAIT_POLL_MS, undefined, { signal: gone }).catch(() => undefined);
  }
  return { state: "pending", error: null };
}

/** A waiting request ended because the service stops: 503, retry shortly (elsewhere or after the restart). */
function stopping(reply: FastifyReply): FastifyReply {
  void reply.header("retry-after", String(SHUTDOWN_RETRY_S));
  return sendProblem(reply, httpProblem("shutting_down", `the service is stopping: this request stopped waiting and left the queue; nothing was checked out. Retry in ${SHUTDOWN_RETRY_S} s (the same Idempotency-Key runs anew)`));
}
