/**
 * The people of phase 2: Slack users typing `/vm checkout` and `/vm checkin`
 * (signed requests to the service) and CLI users running the compiled CLI,
 * all on the same pools and partly the same users. Each remembers what it was
 * told: a checkout it saw succeed, a check-in it saw succeed, and requests
 * whose answer was lost because the service was killed meanwhile.
 */
import type { Database } from "../src/db/client.js";
import { slashCommand } from "../test/helpers/slack-requests.js";
import { Random, sleep } from "./soak-env.js";
import type { SeenCheckout } from "./soak-invariants.js";
import { textOf, type ServiceRig } from "./soak-service.js";

/** What all clients learned, shared (one JS thread: no locking needed). */
export class Ledger {
  /** user → VM → checkout time (epoch ms), for VMs the user is known to hold. */
  readonly held = new Map<string, Map<string, number>>();
  readonly seenCheckouts: SeenCheckout[] = [];
  readonly seenCheckins: { vm: string; user: string }[] = [];
  /** Requests sent whose outcome the sender never learned. */
  readonly uncertainCheckouts: { user: string; pool: string }[] = [];
  readonly uncertainCheckins: { vm: string; user: string }[] = [];
  /** VMs found held by a user who never saw their checkout succeed (the answer was lost), adopted on "quota reached". */
  adopted = 0;
  /** Surprises: a reply that contradicts the database, a check-in of a held VM refused. */
  readonly anomalies: string[] = [];
  /** Outcomes by adapter and kind ("slack checkout: ok"). */
  readonly outcomes = new Map<string, number>();

  constructor(readonly users: string[]) {
    for (const u of users) this.held.set(u, new Map());
  }

  count(key: string): void {
    this.outcomes.set(key, (this.outcomes.get(key) ?? 0) + 1);
  }

  mine(user: string): Map<string, number> {
    const m = this.held.get(user);
    if (!m) throw new Error(`unknown user ${user}`);
    return m;
  }

  /** A checkout seen to succeed: its time comes from the row, which only this user can change now. */
  async gotVm(database: Database, user: string, vm: string, atMs: number | null): Promise<void> {
    let at = atMs;
    if (at === null) {
      const [row] = await database.sql<{ holder: string | null; ms: string | null }[]>`
        select p.slack_user_id as holder, floor(extract(epoch from c.started_at) * 1000)::bigint::text as ms
        from vms v left join checkouts c on c.id = v.checkout_id left join people p on p.id = c.person_id
        where v.name = ${vm}`;
      if (row?.holder !== user || row.ms === null) {
        this.anomalies.push(`${user} was told ${vm} is theirs, but it is held by ${row?.holder ?? "nobody"}`);
        return;
      }
      at = Number(row.ms);
    }
    this.seenCheckouts.push({ vm, user, atMs: at });
    this.mine(user).set(vm, at);
  }

  /**
   * On "quota reached": whatever the user holds but was never told of came from
   * a lost answer. A VM this user's clients knew of when the query was sent is
   * not adopted even if it is gone from their books by the time the answer
   * comes: a check-in of it may have completed meanwhile, after the read.
   */
  async adopt(database: Database, user: string, inFlight: Set<string>): Promise<void> {
    const mine = this.mine(user);
    // Also left alone: a VM whose check-in by this user was sent but never answered; the
    // service may still act on it late (a slow machine), and would then take it back.
    const asked = this.uncertainCheckins.filter((c) => c.user === user).map((c) => c.vm);
    const known = new Set([...mine.keys(), ...inFlight, ...asked]);
    const rows = await database.sql<{ name: string; ms: string }[]>`
      select v.name, floor(extract(epoch from c.started_at) * 1000)::bigint::text as ms
      from checkouts c join people p on p.id = c.person_id join vms v on v.id = c.vm_id
      where p.slack_user_id = ${user} and c.ended_at is null`;
    for (const r of rows) {
      if (known.has(r.name) || mine.has(r.name) || inFlight.has(r.name)) continue;
      mine.set(r.name, Number(r.ms));
      this.adopted++;
    }
  }
}

/** A reply's words mapped to an outcome: "ok", a refusal code, "busy", "unexpected_error", or "other". */
export function replyOutcome(text: string): { outcome: string; vm?: string } {
  const yours = /^(\S+) is yours:/m.exec(text);
  if (yours) return { outcome: "ok", vm: yours[1] };
  if (/\bis checked in\./.test(text)) return { outcome: "ok" };
  if (/No VM is free/.test(text)) return { outcome: "no_vm_free" };
  if (/You already hold/.test(text)) return { outcome: "quota_reached" };
  if (/vmres is busy/.test(text)) return { outcome: "busy" };
  if (/unexpected error/.test(text)) return { outcome: "unexpected_error" };
  if (/already acted on/.test(text)) return { outcome: "duplicate" };
  if (/checked out by someone else|is held by/.test(text)) return { outcome: "not_holder" };
  if (/is not checked out/.test(text)) return { outcome: "not_checked_out" };
  return { outcome: "other" };
}

/** What a client needs: the rig, the database for look-ups, the ledger, which VMs are being checked in. */
export interface ClientContext {
  rig: ServiceRig;
  database: Database;
  ledger: Ledger;
  pools: string[];
  inFlight: Set<string>;
  stopped: () => boolean;
}

type Attempt = { outcome: string; vm?: string; atMs?: number; uncertain?: boolean; notSent?: boolean };

/** One client loop: Slack (`via: "slack"`) or CLI; runs until stopped. */
export async function clientLoop(ctx: ClientContext, via: "slack" | "cli", seed: number): Promise<void> {
  const random = new Random(seed);
  const { ledger } = ctx;
  while (!ctx.stopped()) {
    const user = random.pick(ledger.users);
    const mine = ledger.mine(user);
    if (mine.size > 0 && random.next() < 0.5) {
      const vm = random.pick([...mine.keys()]);
      const at = mine.get(vm) ?? 0;
      mine.delete(vm);
      ctx.inFlight.add(vm);
      const r = via === "slack" ? await slackAsk(ctx, user, `checkin ${vm}`) : await cliAsk(ctx, ["checkin", vm, "--user", user, "--json"]);
      ctx.inFlight.delete(vm);
      ledger.count(`${via} checkin: ${outcomeWords(r)}`);
      if (r.outcome === "ok") ledger.seenCheckins.push({ vm, user });
      else if (r.uncertain || r.outcome === "unexpected_error") ledger.uncertainCheckins.push({ vm, user });
      else if (r.notSent || r.outcome === "busy") mine.set(vm, at);
      else ledger.anomalies.push(`${via} check-in of ${vm} by its holder ${user} was refused: ${r.outcome}`);
    } else {
      const pool = random.pick(ctx.pools);
      const r = via === "slack" ? await slackAsk(ctx, user, `checkout ${pool}`) : await cliAsk(ctx, ["checkout", "--user", user, "--pool", pool, "--json"]);
      ledger.count(`${via} checkout: ${outcomeWords(r)}`);
      if (r.outcome === "ok" && r.vm) await ledger.gotVm(ctx.database, user, r.vm, r.atMs ?? null);
      else if (r.outcome === "ok") ledger.anomalies.push(`${via} checkout for ${user} succeeded without naming the VM`);
      else if (r.outcome === "quota_reached") await ledger.adopt(ctx.database, user, ctx.inFlight);
      else if (r.uncertain || r.outcome === "unexpected_error") ledger.uncertainCheckouts.push({ user, pool });
    }
    await sleep(r0(random, via));
  }
}

function outcomeWords(r: Attempt): string {
  if (r.uncertain) return `answer lost (${r.outcome})`;
  if (r.outcome === "refused_connection") return "not delivered (service down)";
  if (r.outcome === "starting") return "not delivered (503, service starting)";
  return r.outcome;
}

/** A pause between two commands of one client; a CLI run is itself slow enough. */
const r0 = (random: Random, via: "slack" | "cli") => (via === "slack" ? random.int(10, 60) : random.int(0, 20));

async function slackAsk(ctx: ClientContext, user: string, text: string): Promise<Attempt> {
  const { id, url } = ctx.rig.newResponseUrl();
  const delivery = await ctx.rig.deliver(slashCommand({ text, user_id: user, user_name: user.toLowerCase(), response_url: url }), id);
  if (delivery.kind === "refused_connection" || delivery.kind === "starting") {
    await sleep(200);
    return { outcome: delivery.kind, notSent: true };
  }
  if (delivery.kind === "lost") return { outcome: delivery.why, uncertain: true };
  if (delivery.status !== 200 || !delivery.reply) return { outcome: `http_${delivery.status}`, uncertain: true };
  return replyOutcome(textOf(delivery.reply.body));
}

async function cliAsk(ctx: ClientContext, args: string[]): Promise<Attempt> {
  const run = await ctx.rig.cli(args);
  ctx.ledger.count(`cli exit code ${run.code}`);
  let parsed: Record<string, unknown> = {};
  try {
    parsed = JSON.parse(run.stdout) as Record<string, unknown>;
  } catch {
    // No JSON (a crash): judged by the exit code alone.
  }
  switch (run.code) {
    case 0:
      return { outcome: "ok", vm: typeof parsed.name === "string" ? parsed.name : undefined, atMs: typeof parsed.startedAt === "string" ? Date.parse(parsed.startedAt) : undefined };
    case 3:
      return { outcome: String((parsed.error as { code?: unknown } | undefined)?.code ?? "refused") };
    case 4:
      return { outcome: "busy" };
    case 1:
      ctx.ledger.anomalies.push(`CLI ${args.slice(0, 2).join(" ")} exited 1: ${run.stderr.trim().split("\n")[0]?.slice(0, 200) ?? ""}`);
      return { outcome: "unexpected_error" };
    default:
      return { outcome: `exit_${run.code}`, uncertain: true };
  }
}
