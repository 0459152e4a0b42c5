/**
 * Captures what the core sends, and checks the pgbench script generated from it
 * (core-pgbench-script.ts) against it: before the cells, one
 * checkout + check-in runs through src/core on a client of its own whose
 * postgres.js `debug` hook records every statement as sent (text with $n, the
 * bound values, and the event-loop turn it went out in). The script is read the
 * way pgbench reads it (`:name` → a parameter, `::` left alone, `\gset` suffix
 * dropped). Both sides are whitespace-normalised and compared statement by
 * statement, and so are the round trips: statements the core sends in one turn
 * (pipelined) must be one \startpipeline … \endpipeline group in the script.
 *
 * `--` comments are left out on both sides (the script does not carry them).
 * A parameter the core bound as NULL may be written `null` in the script
 * (pgbench cannot bind NULL: its variables are strings, NULL becomes 'NULL').
 * The only other difference allowed is a declared stand-in (STAND_INS).
 */
import { LEASE_DEFAULTS } from "../src/core/leases.js";
import { drizzle } from "drizzle-orm/postgres-js";
import postgres from "postgres";
import { checkin } from "../src/core/checkin.js";
import { checkout } from "../src/core/checkout.js";
import type { Core } from "../src/core/types.js";
import * as schema from "../src/db/schema.js";
import type { CaptureFacts } from "./core-pgbench-script.js";

export interface SentStatement {
  text: string;
  params: unknown[];
  /** Event-loop turn the statement was built and queued in; equal turns = sent without waiting in between. */
  turn: number;
}

export interface ScriptStatement {
  /** As pgbench sends it: every `:name` replaced by a parameter (shown as `?`). */
  text: string;
  /** The variable behind each parameter, in order. */
  vars: string[];
  /** Round trip: statements of one \startpipeline block share it. */
  group: number;
  /** 1-based line where the statement starts. */
  line: number;
  /** Inside \if … \endif: per-client setup, not part of the cycle. */
  setup: boolean;
}

export interface SqlCheck {
  ok: boolean;
  /** What was compared, or where it differs. */
  lines: string[];
  /** For each script variable, the value the core bound at that place (first occurrence). */
  values: Map<string, unknown>;
  /** What one core cycle sends. */
  shape: { statements: number; roundTrips: number; commits: number; writes: number };
}

/**
 * Script text that stands for core text, and why. pgbench cannot \gset inside a
 * pipeline, so after the one-round-trip checkout the script cannot keep the name
 * the core's caller passes to checkin(); its check-in finds that VM by the
 * person's open checkout in the same statement (no extra round trip; one more
 * index lookup, checkouts_open_by_person, for the server).
 */
/** The stand-in for the check-in's lock by VM name, as the generated script writes it. */
export const VM_NAME_STAND_IN = "v.id = (select o.vm_id from checkouts o where o.person_id = :person_id and o.ended_at is null)";

/**
 * The stand-ins for the ids the check-in's row lock read: the core sends the lock with BEGIN and
 * binds the ids it read in the end's statement, sent with COMMIT; pgbench cannot \gset inside a
 * pipeline, so the script's end finds them by the person's open checkout (one more index lookup each).
 */
export const CHECKOUT_ID_STAND_IN = "(select o.id from checkouts o where o.person_id = :person_id and o.ended_at is null)";
export const VM_ID_STAND_IN = "(select o.vm_id from checkouts o where o.person_id = :person_id and o.ended_at is null)";

const STAND_INS = [
  { script: VM_NAME_STAND_IN.replace(":person_id", "?"), scriptVars: 1, core: "v.name = ?", coreVar: "co_name" },
  { script: CHECKOUT_ID_STAND_IN.replace(":person_id", "?"), scriptVars: 1, core: "?", coreVar: "ci_checkout_id" },
  { script: VM_ID_STAND_IN.replace(":person_id", "?"), scriptVars: 1, core: "?", coreVar: "ci_id" },
] as const;

/** The script statement as the core would send it: each stand-in replaced by the core's text and variable. */
function withStandIns(s: ScriptStatement): ScriptStatement & { standIns: number } {
  let { text, vars } = s;
  let standIns = 0;
  for (const standIn of STAND_INS) {
    const at = text.indexOf(standIn.script);
    if (at < 0) continue;
    const before = [...text.slice(0, at)].filter((ch) => ch === "?").length;
    vars = [...vars.slice(0, before), standIn.coreVar, ...vars.slice(before + standIn.scriptVars)];
    text = text.slice(0, at) + standIn.core + text.slice(at + standIn.script.length);
    standIns++;
  }
  return { ...s, text, vars, standIns };
}

/** The capture's person and first checkout id: apart from every VM id and from each other, so each bound value has one role. */
const CAPTURE_PERSON = { id: 900_001, slackUserId: "UBENCHSQL" } as const;
const CAPTURE_CHECKOUTS_FROM = 5_000_000;

/**
 * Runs two cycles on a one-connection client (the first prepares the statements) and returns the
 * second's statements as sent, with what the cycle knew of its values (for the script's variables).
 */
export async function captureCoreSql(url: string, pool: string): Promise<{ sent: SentStatement[]; facts: CaptureFacts }> {
  let sent: SentStatement[] = [];
  let turn = 0;
  let ticking = true;
  const tick = () => {
    turn++;
    if (ticking) setImmediate(tick);
  };
  setImmediate(tick);
  const client = postgres(url, {
    max: 1,
    connection: { application_name: "vmres-bench-sql-check" },
    onnotice: () => {},
    debug: (_connection, text, params) => sent.push({ text, params: [...(params as unknown[])], turn }),
  });
  try {
    await client`insert into people (id, name, slack_user_id) values (${CAPTURE_PERSON.id}, ${CAPTURE_PERSON.slackUserId}, ${CAPTURE_PERSON.slackUserId}) on conflict do nothing`;
    await client`select setval(pg_get_serial_sequence('checkouts', 'id'), greatest((select last_value from checkouts_id_seq), ${CAPTURE_CHECKOUTS_FROM}))`;
    const core: Core = { db: drizzle(client, { schema }), people: new Map(), bootstrapAdmins: new Set(), exhaustedAlertIntervalMinutes: 60, hideHolders: false, leases: LEASE_DEFAULTS, defaultPool: pool, defaultQuota: 1 };
    const actor = { person: { slackUserId: CAPTURE_PERSON.slackUserId }, source: "slack" } as const;
    let facts: CaptureFacts | null = null;
    for (let i = 0; i < 2; i++) {
      sent = [];
      const out = await checkout(core, actor, { pool });
      if (!out.ok) throw new Error(`SQL check: checkout refused: ${JSON.stringify(out.refusal)}`);
      const back = await checkin(core, actor, out.value.name);
      if (!back.ok) throw new Error(`SQL check: checkin refused: ${JSON.stringify(back.refusal)}`);
      // The cycle's statements end here: this look-up is the capture's own, not the core's.
      const captured = sent;
      sent = [];
      const [vm] = await client<{ id: number }[]>`select id from vms where name = ${out.value.name}`;
      sent = captured;
      facts = {
        person: { id: CAPTURE_PERSON.id, name: CAPTURE_PERSON.slackUserId, slackUserId: CAPTURE_PERSON.slackUserId },
        lockKey: `vmres:person:${CAPTURE_PERSON.id}`,
        pool,
        vm: { id: vm!.id, name: out.value.name },
        checkoutId: out.value.checkoutId,
      };
    }
    return { sent, facts: facts! };
  } finally {
    ticking = false;
    await client.end({ timeout: 5 });
  }
}

/** Splits a pgbench script into its SQL commands, replacing variables as pgbench does. */
export function parseScript(source: string): ScriptStatement[] {
  const statements: ScriptStatement[] = [];
  let buffer: string[] = [];
  let start = 0;
  let depth = 0;
  let pipeline: number | null = null;
  let groups = 0;
  source.split("\n").forEach((raw, i) => {
    const line = stripComment(raw);
    const trimmed = line.trim();
    if (buffer.length === 0) {
      if (trimmed === "") return;
      if (trimmed.startsWith("\\")) {
        const command = trimmed.split(/\s+/)[0];
        if (command === "\\if") depth++;
        else if (command === "\\endif") depth--;
        else if (command === "\\startpipeline") pipeline = ++groups;
        else if (command === "\\endpipeline") pipeline = null;
        return;
      }
      start = i + 1;
    }
    const gset = /\\[ga]set(\s+\w+)?\s*$/.exec(line);
    buffer.push(gset ? line.slice(0, gset.index) : line);
    if (!gset && !trimmed.endsWith(";")) return;
    const { text, vars } = substituteVariables(buffer.join("\n"));
    statements.push({ text: normalise(text), vars, group: pipeline ?? ++groups, line: start, setup: depth > 0 });
    buffer = [];
  });
  if (buffer.length > 0) throw new Error(`pgbench script: unterminated statement at line ${start}`);
  return statements;
}

/** Compares the core's statements with the script's cycle (its statements outside \if blocks). */
export function compareSql(core: SentStatement[], script: ScriptStatement[]): SqlCheck {
  const cycle = script.filter((s) => !s.setup).map(withStandIns);
  const standIns = cycle.reduce((n, s) => n + s.standIns, 0);
  const values = new Map<string, unknown>();
  const problems: string[] = [];
  let nulls = 0;
  const n = Math.max(core.length, cycle.length);
  for (let i = 0; i < n && problems.length === 0; i++) {
    const c = core[i];
    const s = cycle[i];
    if (!c || !s) {
      problems.push(
        `statement ${i + 1}: ${c ? "the core sends more statements than the script has" : "the script has more statements than the core sends"}`,
        `  ${c ? `core:   ${short(normalise(c.text))}` : `script: line ${s?.line}: ${short(s?.text ?? "")}`}`,
      );
      break;
    }
    const coreText = normalise(withoutComments(c.text).replace(/\$(\d+)/g, (_, k: string) => (c.params[Number(k) - 1] === null ? "null" : "?")));
    if (coreText !== s.text) {
      const at = [...coreText].findIndex((ch, k) => ch !== s.text[k]);
      const from = Math.max(0, (at < 0 ? coreText.length : at) - 60);
      problems.push(
        `statement ${i + 1} (script line ${s.line}) differs at character ${at < 0 ? coreText.length : at}:`,
        `  core:   …${coreText.slice(from, from + 140)}…`,
        `  script: …${s.text.slice(from, from + 140)}…`,
      );
      break;
    }
    nulls += c.params.filter((p) => p === null).length;
    const bound = c.params.filter((p) => p !== null);
    s.vars.forEach((v, k) => values.has(v) || values.set(v, bound[k]));
  }
  const coreTrips = groupSizes(core.map((c) => c.turn));
  const scriptTrips = groupSizes(cycle.map((s) => s.group));
  const shape = {
    statements: core.length,
    roundTrips: coreTrips.length,
    commits: core.filter((c) => normalise(c.text).toLowerCase() === "commit").length,
    // UPDATE … SET and INSERT INTO clauses (each writes one row here; "for update" is not one).
    writes: core.reduce((n, c) => n + (c.text.match(/\bupdate\s+\w+(\s+\w+)?\s+set\b|\binsert\s+into\b/gi)?.length ?? 0), 0),
  };
  if (problems.length === 0 && coreTrips.join() !== scriptTrips.join()) {
    problems.push(
      `round trips differ (statements per round trip): core ${coreTrips.join(" ")}, script ${scriptTrips.join(" ")}` +
        " (statements the core sends together must be one \\startpipeline block)",
    );
  }
  if (problems.length > 0) return { ok: false, lines: problems, values, shape };
  return {
    ok: true,
    values,
    shape,
    lines: [
      `${core.length} statements in ${coreTrips.length} round trips (statements per round trip: ${coreTrips.join(" ")}), same texts after`,
      `whitespace normalisation; the core bound NULL at ${nulls} places the script writes null; ${script.length - cycle.length} per-client setup statement(s) skipped;`,
      `${standIns} declared stand-in(s): the script's check-in finds the VM, and then the VM's and the checkout's ids, by the person's open checkout where the core binds them (pgbench cannot \\gset in a pipeline).`,
    ],
  };
}

/** pgbench's rule (parseQuery): `:` + letter/underscore + letters/digits/underscores is a variable; other colons are kept. */
function substituteVariables(sql: string): { text: string; vars: string[] } {
  const vars: string[] = [];
  let text = "";
  for (let i = 0; i < sql.length; ) {
    const name = sql[i] === ":" ? /^:([A-Za-z_\x80-\uffff][A-Za-z0-9_\x80-\uffff]*)/.exec(sql.slice(i)) : null;
    if (name?.[1]) {
      vars.push(name[1]);
      text += "?";
      i += name[0].length;
    } else if (sql[i] === ":") {
      const colons = /^:+/.exec(sql.slice(i))?.[0] ?? ":";
      text += colons;
      i += colons.length;
    } else {
      text += sql[i++];
    }
  }
  return { text, vars };
}

/** The statement without its `--` comments, as the script carries it. */
export function withoutComments(sql: string): string {
  return sql.split("\n").map(stripComment).join("\n");
}

/** Drops a `--` comment that is outside single quotes. */
function stripComment(line: string): string {
  let quoted = false;
  for (let i = 0; i < line.length; i++) {
    if (line[i] === "'") quoted = !quoted;
    else if (!quoted && line.startsWith("--", i)) return line.slice(0, i);
  }
  return line;
}

const normalise = (sql: string) => sql.replace(/\s+/g, " ").trim().replace(/\s*;$/, "");
const short = (text: string) => (text.length > 140 ? text.slice(0, 140) + "…" : text);

function groupSizes(keys: number[]): number[] {
  const sizes: number[] = [];
  keys.forEach((key, i) => {
    if (i > 0 && key === keys[i - 1]) sizes[sizes.length - 1] = (sizes[sizes.length - 1] ?? 0) + 1;
    else sizes.push(1);
  });
  return sizes;
}
