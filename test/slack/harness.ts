/**
 * The whole service in-process, as `npm start` runs it, with Slack pointed at
 * the fake Web API: tests talk to it only over HTTP, as Slack does, and read
 * what it sent Slack from the fake's recordings.
 */
import { sql } from "drizzle-orm";
import { setTimeout as sleep } from "node:timers/promises";
import { addVm } from "../../src/core/admin.js";
import type { Core } from "../../src/core/types.js";
import { loadConfig } from "../../src/config.js";
import { startService, type RunningService } from "../../src/service/service.js";
import { freshDatabase } from "../helpers/db.js";
import { createLogger } from "../../src/log.js";
import { FakeSlack, RESPONSE_URL, dmChannelFor, isDmTo, type SlackCall } from "../helpers/fake-slack.js";
import { sendSigned, slashCommand, type SendOptions, type SlackRequest } from "../helpers/slack-requests.js";

export const SECRET = "test-signing-secret";
export const ADMIN = { id: "U0ADMIN01", name: "root" } as const;
export const ADMIN_CHANNEL = "C0ADMINS1";

export interface Harness {
  fake: FakeSlack;
  service: RunningService;
  core: Core;
  database: Awaited<ReturnType<typeof freshDatabase>>;
  url: string;
  send(request: SlackRequest, options?: Partial<SendOptions>): Promise<Awaited<ReturnType<typeof sendSigned>>>;
  /** Stops the service and starts a new one on the same database, as a deploy or a crash-and-restart would; `meanwhile` runs while it is down. */
  restart(meanwhile?: () => Promise<void>): Promise<void>;
  stop(): Promise<void>;
}

/** Settings that make retries fast; any can be overridden. The cleanup worker is kept from polling (no SSH in these tests). */
export function testEnv(fake: FakeSlack, databaseUrl: string): Record<string, string> {
  return {
    DATABASE_URL: databaseUrl,
    PORT: "0",
    LOG_LEVEL: "silent",
    VMS_FILE: "/nonexistent/vms.yml",
    SLACK_API_URL: fake.url,
    SLACK_SIGNING_SECRET: SECRET,
    SLACK_BOT_TOKEN: "xoxb-test",
    SLACK_ADMIN_CHANNEL: ADMIN_CHANNEL,
    SLACK_ADMINS: ADMIN.id,
    SLACK_API_TIMEOUT_MS: "2000",
    SLACK_CONNECT_RETRY_BASE_MS: "50",
    OUTBOX_POLL_INTERVAL_MS: "50",
    OUTBOX_BACKOFF_BASE_MS: "50",
    OUTBOX_BACKOFF_MAX_MS: "300",
    OUTBOX_CLAIM_TIMEOUT_MS: "6000",
    SSH_PRIVATE_KEY_FILE: "/nonexistent/id_ed25519",
    // No cleanup here: LISTEN/NOTIFY would wake a worker at every check-in, and without a key it
    // would queue a cleanup_blocked alert and hold claims the tests do not expect.
    CLEANUP_WORKER: "off",
    CLEANUP_POLL_INTERVAL_MS: "600000",
    RECONCILE_CRON: "0 0 1 1 *",
  };
}

/** Starts a fake Slack (unless given), a fresh database and the service; `env` overrides the test settings. */
export async function startHarness(env: Record<string, string> = {}, fake?: FakeSlack): Promise<Harness> {
  const slack = fake ?? (await FakeSlack.start());
  const database = await freshDatabase();
  const config = loadConfig({ ...testEnv(slack, database.url), ...env }, null);
  // The tests provoke failures on purpose; their warnings would only bury a real problem's output.
  const log = createLogger(config.LOG_LEVEL, "test-service");
  const first = await startService(config, log);
  const h: Harness = {
    fake: slack,
    service: first,
    core: first.context.core,
    database,
    url: `http://127.0.0.1:${first.port}`,
    send: (request, options) => sendSigned(h.url, request, { secret: SECRET, ...options }),
    async restart(meanwhile) {
      await h.service.stop();
      await meanwhile?.();
      h.service = await startService(config, log);
      h.core = h.service.context.core;
      h.url = `http://127.0.0.1:${h.service.port}`;
    },
    async stop() {
      await h.service.stop();
      await database.close();
      await slack.close();
    },
  };
  return h;
}

/** Adds `count` VMs to a pool. Loopback addresses: nothing in these tests may reach another host. */
export async function addVms(core: Core, pool: string, count: number, prefix = pool): Promise<string[]> {
  const names: string[] = [];
  for (let i = 1; i <= count; i++) {
    const name = `${prefix}-${i}`;
    const r = await addVm(core, { person: "operator", source: "cli" }, { name, ip: `127.0.0.${(i % 250) + 1}`, pool, sshUser: "root", sshPort: 22, hostKeyFingerprint: null, tags: [] });
    if (!r.ok) throw new Error(`addVm ${name}: ${JSON.stringify(r.refusal)}`);
    names.push(name);
  }
  return names;
}

/** Polls `check` until it holds, failing with `what` after the timeout. */
export async function eventually(what: string, check: () => Promise<boolean>, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`not within ${timeoutMs} ms: ${what}`);
    await sleep(20);
  }
}

/** Waits until every queued notice is delivered (so "exactly once" can be counted). */
export async function outboxDrained(core: Core, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const [row] = await core.db.execute<{ n: number; errors: string | null }>(
      // Who holds each claim and since when, and when it is due: a stuck notice says why it is stuck.
      sql`select count(*)::int as n, string_agg(kind || ': ' || coalesce(last_error, 'no error yet')
          || ', claimed by ' || coalesce(claimed_by || ' ' || round(extract(epoch from now() - claimed_at))::text || ' s ago', 'nobody')
          || ', due in ' || greatest(0, round(extract(epoch from next_attempt_at - now())))::text || ' s'
          || ', ' || attempts::text || ' attempts', '; ') as errors
        from outbox where delivered_at is null`,
    );
    if (row?.n === 0) return;
    if (Date.now() > deadline) throw new Error(`outbox not drained within ${timeoutMs} ms: ${row?.n} left (${row?.errors})`);
    await sleep(20);
  }
}

let responses = 0;

/** Types `/vm <text>` as `user`, as Slack delivers it, and returns the ephemeral answer. */
export async function slash(h: Harness, text: string, user: string): Promise<SlackCall> {
  const id = `cmd-${++responses}`;
  const res = await h.send(slashCommand({ text, user_id: user, response_url: h.fake.responseUrl(id) }));
  if (res.status !== 200) throw new Error(`/vm ${text} answered ${res.status}`);
  return replyTo(h.fake, id);
}

/** The ephemeral answer posted to a response_url. */
export async function replyTo(fake: FakeSlack, responseId: string): Promise<SlackCall> {
  const [reply] = await fake.waitFor((c) => c.method === RESPONSE_URL && c.responseId === responseId && c.failure === undefined);
  if (!reply) throw new Error("no reply");
  return reply;
}

/** Successful posts to a user's DM. */
export function dmsTo(fake: FakeSlack, user: string): SlackCall[] {
  return fake.calls("chat.postMessage").filter((c) => c.failure === undefined && isDmTo(c.body.channel, user));
}

/** Waits for the n-th successful DM to a user. */
export async function waitForDm(fake: FakeSlack, user: string, count = 1): Promise<SlackCall[]> {
  return fake.waitFor((c) => c.method === "chat.postMessage" && c.failure === undefined && isDmTo(c.body.channel, user), { count });
}

/** Every text in a message or reply: its fallback text and each block's text and fields, for assertions on wording. */
export function textOf(body: Record<string, unknown>): string {
  const parts: string[] = [typeof body.text === "string" ? body.text : ""];
  const visit = (value: unknown): void => {
    if (Array.isArray(value)) value.forEach(visit);
    else if (value && typeof value === "object") {
      for (const [k, v] of Object.entries(value)) {
        if (k === "text" && typeof v === "string") parts.push(v);
        else visit(v);
      }
    }
  };
  visit(body.blocks);
  visit(body.view);
  return parts.join("\n");
}

/** The buttons in a message or view: action_id and value. */
export function buttonsOf(body: Record<string, unknown>): { action_id: string; value: string }[] {
  const found: { action_id: string; value: string }[] = [];
  const visit = (value: unknown): void => {
    if (Array.isArray(value)) value.forEach(visit);
    else if (value && typeof value === "object") {
      const o = value as Record<string, unknown>;
      if (o.type === "button" && typeof o.action_id === "string") found.push({ action_id: o.action_id, value: String(o.value ?? "") });
      for (const v of Object.values(o)) visit(v);
    }
  };
  visit(body.blocks);
  visit(body.view);
  return found;
}

/** One VM's state and holder, straight from the database. */
export async function vmRow(core: Core, name: string): Promise<{ state: string; holder: string | null } | undefined> {
  const [row] = await core.db.execute<{ state: string; holder: string | null }>(sql`select state, (select p.slack_user_id from checkouts c join people p on p.id = c.person_id where c.id = vms.checkout_id) as holder from vms where name = ${name}`);
  return row;
}

export { dmChannelFor, isDmTo };
