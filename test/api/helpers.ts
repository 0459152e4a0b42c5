import { sql } from "drizzle-orm";
import { addPerson } from "../../src/core/people.js";
import { createToken } from "../../src/core/tokens.js";
import type { Core } from "../../src/core/types.js";
import { startHarness, type Harness } from "../slack/harness.js";

export { addVms, eventually, slash, type Harness } from "../slack/harness.js";

const OPERATOR = { person: "operator", source: "cli" } as const;

/** The whole service (API, Slack, sweeps) on a fresh database; `env` overrides the test settings. */
export async function startApiHarness(env: Record<string, string> = {}): Promise<Harness> {
  return startHarness({ API_RATE_LIMIT: "100000/min", ...env });
}

/** Adds a person (or service) and makes them a token; returns the token's value and id. */
export async function personWithToken(core: Core, name: string, opts: { admin?: boolean; kind?: "person" | "service"; slackId?: string } = {}): Promise<{ token: string; id: number; personId: number }> {
  const added = await addPerson(core, OPERATOR, { name, kind: opts.kind ?? "person", admin: opts.admin ?? false, slackUserId: opts.slackId });
  if (!added.ok) throw new Error(`addPerson ${name}: ${JSON.stringify(added.refusal)}`);
  const made = await createToken(core, OPERATOR, { user: name, label: "test" });
  if (!made.ok) throw new Error(`createToken ${name}: ${JSON.stringify(made.refusal)}`);
  return { token: made.value.token, id: made.value.id, personId: added.value.id };
}

export interface Answer {
  status: number;
  headers: Headers;
  // Tests read fields of any answer; each asserts what it expects.
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  body: any;
}

/** One request over real HTTP; `body` as JSON unless `raw` is given. */
export async function call(
  h: Harness,
  method: string,
  path: string,
  opts: { token?: string | null; body?: unknown; raw?: string; headers?: Record<string, string> } = {},
): Promise<Answer> {
  const headers: Record<string, string> = { ...opts.headers };
  if (opts.token) headers.authorization = `Bearer ${opts.token}`;
  let body: string | undefined;
  if (opts.raw !== undefined) body = opts.raw;
  else if (opts.body !== undefined) body = JSON.stringify(opts.body);
  if (body !== undefined && !Object.keys(headers).some((k) => k.toLowerCase() === "content-type")) headers["content-type"] = "application/json";
  const res = await fetch(h.url + path, { method, headers, body });
  const text = await res.text();
  let parsed: unknown = text;
  try {
    parsed = text === "" ? null : JSON.parse(text);
  } catch {
    // not JSON: kept as text
  }
  return { status: res.status, headers: res.headers, body: parsed };
}

/** What a test checks did not change: open checkouts, VM states, tokens, people, events. */
export async function snapshot(core: Core): Promise<string> {
  const [row] = await core.db.execute<{ s: string }>(sql`select concat_ws('|',
      (select string_agg(id || ':' || vm_id || ':' || person_id || ':' || coalesce(ended_at::text, 'open') || ':' || coalesce(ends_at::text, '-'), ',' order by id) from checkouts),
      (select string_agg(name || ':' || state, ',' order by name) from vms),
      (select string_agg(id || ':' || coalesce(revoked_at::text, '-'), ',' order by id) from api_tokens),
      (select string_agg(name || ':' || is_admin, ',' order by name) from people),
      (select count(*)::text from events),
      (select count(*)::text from waiters)) as s`);
  return row?.s ?? "";
}
