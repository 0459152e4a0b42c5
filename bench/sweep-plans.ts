/**
 * Why a lease sweep takes the time it takes, from what it sent: one sweep is run on a client whose
 * every statement is captured (postgres.js's debug hook) and EXPLAINed as it runs, with ANALYZE and
 * BUFFERS (PostgreSQL's auto_explain, loaded for that client's sessions only, its plans sent back
 * as notices). Unlike an EXPLAIN re-run afterwards, these are the plans of the very statements
 * with their very rows: a sweep's writes cannot be replayed once done.
 * From them: how many statements of each text, how long the server spent in each (sum of
 * "Execution Time"), the heaviest plan nodes, and the time outside the server (round trips, JS).
 */
import { drizzle } from "drizzle-orm/postgres-js";
import postgres from "postgres";
import { sweepLeases, type LeaseSweepReport } from "../src/core/sweep-leases.js";
import type { Core } from "../src/core/types.js";
import * as schema from "../src/db/schema.js";
import { heaviestNodes, type PlanNode } from "./statement-plan.js";

export interface SweepDiagnosis {
  wallMs: number;
  statements: number;
  /** Summed server execution time of every statement auto_explain saw. */
  serverMs: number;
  /** Statements grouped by text, heaviest first. */
  groups: { label: string; count: number; ms: number; blocks: number; heaviest: string[]; plan: PlanNode }[];
  report: LeaseSweepReport;
}

interface Explained {
  text: string;
  ms: number;
  blocks: number;
  plan: PlanNode;
}

/** Runs `prepare`, then one sweep on an explaining client, and reads where its time went. */
export async function diagnoseSweep(url: string, coreOf: (db: Core["db"]) => Core, prepare: () => Promise<void>): Promise<SweepDiagnosis> {
  const sent: string[] = [];
  const explained: Explained[] = [];
  const client = postgres(url, {
    max: 4,
    // Startup parameters of a superuser session (the bench's own embedded server): auto_explain
    // for these connections only, logging every statement's plan with its actual rows, times and
    // buffers, and the log sent to the client as notices.
    connection: {
      session_preload_libraries: "auto_explain",
      "auto_explain.log_min_duration": "0",
      "auto_explain.log_analyze": "on",
      "auto_explain.log_buffers": "on",
      "auto_explain.log_format": "json",
      client_min_messages: "log",
    },
    debug: (_connection, text) => sent.push(text),
    onnotice: (notice) => {
      const m = /^duration: ([\d.]+) ms\s+plan:\s*([\s\S]*)$/.exec(notice.message ?? "");
      if (!m) return;
      try {
        const parsed = JSON.parse(m[2]!) as { "Query Text": string; Plan: PlanNode };
        explained.push({ text: parsed["Query Text"], ms: Number(m[1]), blocks: blocksOf(parsed.Plan), plan: parsed.Plan });
      } catch {
        // A plan auto_explain cut short is left out of the sums; the count of statements still says it ran.
      }
    },
  });
  try {
    await prepare();
    // Warm the connections (prepared statements, the people cache) as the timed sweeps are.
    const core = coreOf(drizzle(client, { schema }));
    await client`select 1`;
    sent.length = 0;
    explained.length = 0;
    const started = performance.now();
    const report = await sweepLeases(core);
    const wallMs = performance.now() - started;
    const byText = new Map<string, { label: string; count: number; ms: number; blocks: number; plans: PlanNode[] }>();
    for (const e of explained) {
      const label = labelOf(e.text);
      const g = byText.get(label) ?? { label, count: 0, ms: 0, blocks: 0, plans: [] };
      g.count++;
      g.ms += e.ms;
      g.blocks += e.blocks;
      g.plans.push(e.plan);
      byText.set(label, g);
    }
    const groups = [...byText.values()]
      .sort((a, b) => b.ms - a.ms)
      .map((g) => {
        const plan = g.plans.reduce((a, b) => (rowsOf(b) > rowsOf(a) ? b : a));
        return { label: g.label, count: g.count, ms: g.ms, blocks: g.blocks, heaviest: heaviestNodes(plan, 2), plan };
      });
    return { wallMs, statements: sent.filter((t) => !/^\s*(begin|commit|rollback)\b/i.test(t)).length, serverMs: explained.reduce((n, e) => n + e.ms, 0), groups, report };
  } finally {
    await client.end({ timeout: 5 });
  }
}

/** The diagnosis as lines: the split between server and elsewhere, then the heaviest statements. */
export function describeDiagnosis(d: SweepDiagnosis, top = 4): string[] {
  const outside = Math.max(0, d.wallMs - d.serverMs);
  return [
    `one heavy sweep, explained as it ran (auto_explain, ANALYZE, BUFFERS): ${d.wallMs.toFixed(0)} ms wall, ${d.statements} statements; ` +
      `${d.serverMs.toFixed(0)} ms executing in PostgreSQL, ${outside.toFixed(0)} ms outside it (round trips, planning, JS; ${(outside / Math.max(1, d.statements)).toFixed(2)} ms per statement)`,
    ...d.groups
      .slice(0, top)
      .map((g) => `  ${g.ms.toFixed(1)} ms in ${g.count}× "${g.label}" (${g.blocks.toLocaleString("en")} buffers; largest nodes ${g.heaviest.join(", ")})`),
  ];
}

/** A statement's first words, whitespace folded, for grouping and for a person to recognise. */
function labelOf(text: string): string {
  const flat = text.replace(/--[^\n]*/g, " ").replace(/\s+/g, " ").trim();
  return flat.length > 90 ? `${flat.slice(0, 87)}...` : flat;
}

function blocksOf(plan: PlanNode): number {
  return (plan["Shared Hit Blocks"] ?? 0) + (plan["Shared Read Blocks"] ?? 0);
}

function rowsOf(plan: PlanNode): number {
  return (plan["Actual Rows"] ?? 0) + (plan.Plans ?? []).reduce((n, p) => n + rowsOf(p), 0);
}
