import { randomUUID } from "node:crypto";
import { hostname } from "node:os";
import type postgres from "postgres";
import { listenForWakeups, QUEUE_CHANNEL, type StopListening } from "../db/notify.js";
import type { WaiterState } from "../db/schema.js";
import { createLogger, type Logger } from "../log.js";
import { cleanupBlockedIn } from "./cleanup/blocked-pools.js";
import { resolvePerson } from "./people.js";
import { matchQueue } from "./sweep-leases.js";
import { ok, refuse, type Actor, type CheckedOutVm, type Core, type Result } from "./types.js";
import { endWait, joinQueue, takeOffer, waitOutcome, type QueuePlace } from "./waitlist.js";

/**
 * Waiting for a VM: the one implementation behind the API's checkout with
 * `wait` and the CLI's `checkout --wait`.
 *
 * The request joins the pool's queue with auto-take and then sleeps. It sweeps
 * nothing: the database wakes it (`NOTIFY vmres_queue, '<pool>'`, drizzle/0016)
 * when a VM of its pool became available or a place of the pool's queue changed
 * state, and it then tries once: the match step of its pool (one read when
 * nothing is free) and a look at its own place. A process listens once for all
 * its waiting requests, and renews their liveness (the `waits` rows) in one
 * statement per HEARTBEAT_MS; a place whose request is no longer alive gets no
 * VM (src/core/sweep-leases.ts), so a stopped or killed waiter never has a VM
 * granted that nobody sees.
 */

/** Default of API_WAITS_PER_PERSON. */
export const DEFAULT_WAITS_PER_PERSON = 4;
/** How often a waiting process renews the liveness of its waits. */
export const HEARTBEAT_MS = 10_000;
/** How long a wait stays alive without a renewal: three missed heartbeats. */
export const ALIVE_MS = 3 * HEARTBEAT_MS;
/** Every this many heartbeats each wait also looks once unwoken: the net under a notification lost in a reconnect. */
const LOOK_EVERY_HEARTBEATS = 6;

export interface WaitRequest {
  pool: string;
  note?: string | undefined;
  forMs?: number | undefined;
}

export interface WaitOptions {
  /** The longest wait (Infinity: until a VM comes or `signal`). */
  timeoutMs: number;
  /** Ends the wait early (the client went away, Ctrl-C, the service stops); the caller knows why. */
  signal?: AbortSignal | undefined;
  /** Told once the place is taken (the CLI says where it stands). */
  onJoined?: ((place: QueuePlace & { already: boolean }) => void) | undefined;
  /** Told each time the place's position in the queue changes (the CLI prints it). */
  onPosition?: ((position: number) => void) | undefined;
  log?: Logger | undefined;
}

/** How a wait ended. */
export type WaitEnd =
  | { kind: "granted"; vm: CheckedOutVm }
  | { kind: "timeout" }
  /** `signal` aborted. */
  | { kind: "stopped" }
  /** Ended by something else than this request: gave_up (at quota when its turn came), left, passed, lapsed. */
  | { kind: "ended"; state: WaiterState };

export interface WaitOutcome {
  end: WaitEnd;
  /** The place as joined (`already`: it was there before this request). */
  place: QueuePlace & { already: boolean };
  /** The last position seen. */
  position: number;
  /** Whether the place is still in the queue after this request: one joined before without auto-take (Slack, `vmres wait`), or one another live request of the person still waits on. */
  inQueue: boolean;
}

/**
 * Joins `request.pool`'s queue to take the first VM that comes to this person
 * and waits for it, woken by the database. Refused beyond the person's
 * `core.waitsPerPerson` waits at once (`too_many_waits`), and with the join's
 * own refusals (unknown pool, bad note or lease). When it ends without a VM it
 * leaves the queue, unless the place was one the person took before without
 * auto-take or another of their requests still waits on it; a VM granted
 * meanwhile is the outcome, never left unsaid.
 */
export async function waitForCheckout(core: Core, actor: Actor, request: WaitRequest, opts: WaitOptions): Promise<Result<WaitOutcome>> {
  const me = await resolvePerson(core, actor.person);
  if (!me.ok) return me;
  const sql = core.db.$client;
  const room = roomOf(sql, opts.log);
  const limit = core.waitsPerPerson ?? DEFAULT_WAITS_PER_PERSON;
  // The wait is alive before its place exists, so no match ever sees the place without it.
  const started = await sql.begin(async (tx): Promise<Result<number>> => {
    await tx`select pg_advisory_xact_lock(hashtextextended(${"vmres:waits:" + me.value.id}, 0))`;
    await tx`delete from waits where person_id = ${me.value.id} and alive_until <= now()`;
    const [live] = await tx<{ n: number }[]>`select count(*)::int as n from waits where person_id = ${me.value.id}`;
    if ((live?.n ?? 0) >= limit) return refuse({ code: "too_many_waits", person: me.value.name, limit });
    const [row] = await tx<{ id: string }[]>`
      insert into waits (person_id, pool, owner, alive_until) values (${me.value.id}, ${request.pool}, ${room.owner}, now() + make_interval(secs => ${ALIVE_MS / 1000}))
      returning id`;
    return ok(Number(row!.id));
  });
  if (!started.ok) return started;
  const waitId = started.value;
  const wait = room.add(waitId, request.pool);
  let place: (QueuePlace & { already: boolean }) | null = null;
  try {
    const joined = await joinQueue(core, actor, { pool: request.pool, autoTake: true, forMs: request.forMs, note: request.note });
    if (!joined.ok) return joined;
    place = joined.value;
    opts.onJoined?.(place);
    let position = place.position;
    const deadline = Date.now() + opts.timeoutMs;
    let end: WaitEnd | null = null;
    for (;;) {
      wait.woken = false;
      await matchQueue(core, place.pool).catch((err: unknown) => room.log.warn({ err, pool: place?.pool }, "matching a pool's queue failed; trying again at the next wake-up"));
      const now = await waitOutcome(core, place.waiterId);
      if (now.state === "taken" && now.checkout) {
        end = { kind: "granted", vm: now.checkout };
        break;
      }
      // Joined earlier without auto-take (in Slack, or `vmres wait`): the VM is offered; take it, as this caller asked for one.
      if (now.state === "offered") {
        const taken = await takeOffer(core, actor, place.waiterId);
        if (taken.ok) {
          end = { kind: "granted", vm: taken.value };
          break;
        }
        if (taken.refusal.code !== "offer_over") return taken;
        continue;
      }
      if (now.state !== "waiting") {
        end = { kind: "ended", state: now.state };
        break;
      }
      if (now.position !== null && now.position !== position) {
        position = now.position;
        opts.onPosition?.(position);
      }
      if (opts.signal?.aborted) {
        end = { kind: "stopped" };
        break;
      }
      if (Date.now() >= deadline) {
        end = { kind: "timeout" };
        break;
      }
      await wait.sleep(deadline - Date.now(), opts.signal);
    }
    const inQueue = await finish(core, sql, me.value, waitId, place.pool, actor);
    if (end.kind !== "granted") {
      // The VM may have come between the last look and leaving: then it is the answer.
      const last = await waitOutcome(core, place.waiterId);
      if (last.state === "taken" && last.checkout) end = { kind: "granted", vm: last.checkout };
    }
    // Warned as a checkout that did not wait is: once checked in, the VM may stay in cleaning.
    if (end.kind === "granted") end = { kind: "granted", vm: { ...end.vm, cleanupBlocked: await cleanupBlockedIn(core.db, end.vm.pool) } };
    return ok({ end, place, position, inQueue });
  } catch (err) {
    // The database failed mid-wait: try not to leave a place behind (best effort: it may be away;
    // the place is no longer alive anyway once its wait row expires).
    await finish(core, sql, me.value, waitId, request.pool, actor).catch(() => undefined);
    throw err;
  } finally {
    room.remove(waitId);
    // Refused by the join: the place never was; drop the wait row.
    if (place === null) await sql`delete from waits where id = ${waitId}`.catch(() => undefined);
  }
}

/**
 * Ends this request's wait: its row goes, and its auto-take place leaves the
 * queue unless another live request of the person still waits on it. A place
 * joined without auto-take (Slack, `vmres wait`) stays: it was the person's
 * before. Returns whether a place remains in the queue.
 */
async function finish(core: Core, sql: postgres.Sql, me: { id: number; name: string }, waitId: number, pool: string, actor: Actor): Promise<boolean> {
  return sql.begin(async (tx) => {
    await tx`select pg_advisory_xact_lock(hashtextextended(${"vmres:waits:" + me.id}, 0))`;
    await tx`delete from waits where id = ${waitId}`;
    const [w] = await tx<{ id: string; auto_take: boolean; others: boolean }[]>`
      select w.id, w.auto_take,
             exists (select 1 from waits l where l.person_id = w.person_id and l.pool = w.pool and l.alive_until > now()) as others
      from waiters w where w.person_id = ${me.id} and w.pool = ${pool} and w.state in ('waiting', 'offered')
      for update`;
    if (!w) return false;
    if (!w.auto_take || w.others) return true;
    await endWait(tx, core, Number(w.id), "left", { name: me.name, source: actor.source });
    return false;
  });
}

/** One waiting request as its process's room knows it. */
interface Waiting {
  pool: string;
  /** Set by a wake-up; cleared before each look, so one arriving during a look is not lost. */
  woken: boolean;
  wake(): void;
  /** Until woken, `ms` passed or `signal` aborted; at once when woken since the last look. */
  sleep(ms: number, signal: AbortSignal | undefined): Promise<void>;
}

/**
 * The waits of one process (per database pool): one LISTEN for all of them,
 * one heartbeat statement for all of them.
 */
class WaitRoom {
  readonly owner = `${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`;
  private readonly waits = new Map<number, Waiting>();
  private listening: Promise<StopListening> | null = null;
  private timer: NodeJS.Timeout | null = null;
  private beats = 0;

  constructor(
    private readonly sql: postgres.Sql,
    readonly log: Logger,
  ) {}

  add(id: number, pool: string): Waiting {
    let resolve: (() => void) | null = null;
    const waiting: Waiting = {
      pool,
      woken: false,
      wake: () => {
        waiting.woken = true;
        resolve?.();
      },
      sleep: (ms, signal) =>
        new Promise<void>((done) => {
          if (waiting.woken || signal?.aborted) return done();
          const finish = () => {
            clearTimeout(timer);
            signal?.removeEventListener("abort", finish);
            resolve = null;
            done();
          };
          const timer = setTimeout(finish, Math.max(0, Math.min(ms, 2 ** 31 - 1)));
          signal?.addEventListener("abort", finish, { once: true });
          resolve = finish;
        }),
    };
    this.waits.set(id, waiting);
    // Listening starts with the first wait and stays (one connection, kept by the pool until it closes).
    this.listening ??= listenForWakeups(this.sql, QUEUE_CHANNEL, (pool) => this.wake(pool), this.log);
    if (this.timer === null) {
      this.timer = setInterval(() => this.heartbeat(), HEARTBEAT_MS);
      this.timer.unref();
    }
    return waiting;
  }

  remove(id: number): void {
    this.waits.delete(id);
    if (this.waits.size === 0 && this.timer !== null) {
      clearInterval(this.timer);
      this.timer = null;
    }
  }

  /** A notification names its pool; none (listening (re)started) wakes every wait. */
  private wake(pool: string | undefined): void {
    for (const w of this.waits.values()) if (pool === undefined || pool === "" || w.pool === pool) w.wake();
  }

  private heartbeat(): void {
    if (this.waits.size === 0) return;
    this.sql`update waits set alive_until = now() + make_interval(secs => ${ALIVE_MS / 1000}) where owner = ${this.owner}`.catch((err: unknown) =>
      this.log.warn({ err }, "renewing waiting requests failed; they stay alive for ALIVE_MS after the last renewal"),
    );
    if (++this.beats % LOOK_EVERY_HEARTBEATS === 0) this.wake(undefined);
  }
}

const rooms = new WeakMap<postgres.Sql, WaitRoom>();

function roomOf(sql: postgres.Sql, log: Logger | undefined): WaitRoom {
  let room = rooms.get(sql);
  if (!room) {
    room = new WaitRoom(sql, log ?? createLogger("silent"));
    rooms.set(sql, room);
  }
  return room;
}
