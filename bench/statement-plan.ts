/**
 * EXPLAIN (ANALYZE, BUFFERS) of a statement exactly as the core sent it (text and bound values,
 * captured by postgres.js's debug hook), in a transaction that is rolled back, so nothing it writes
 * stays. Used by the bench's diagnostics and by the plan test (test/core/checkout-plan.test.ts).
 */
import type postgres from "postgres";

/** A node of `EXPLAIN (FORMAT JSON)`, with the fields read here. */
export interface PlanNode {
  "Node Type": string;
  "Relation Name"?: string;
  "Index Name"?: string;
  "CTE Name"?: string;
  "Subplan Name"?: string;
  "Actual Rows"?: number;
  "Actual Loops"?: number;
  "Shared Hit Blocks"?: number;
  "Shared Read Blocks"?: number;
  "Temp Read Blocks"?: number;
  "Temp Written Blocks"?: number;
  Plans?: PlanNode[];
}

export interface StatementPlan {
  /**
   * Blocks the statement fetched from the database's own tables and indexes (triggers included),
   * from the transaction's statistics counters: EXPLAIN's per-node counts repeat a CTE's buffers
   * under every node that reads it, so they do not add up to the statement's.
   */
  blocks: number;
  /** Blocks written to temporary files (a sort or hash that spilled). */
  tempBlocks: number;
  /** Planning: its time and the blocks it read (statistics, index ends: get_actual_variable_range). */
  planningMs: number;
  planningBlocks: number;
  executionMs: number;
  /** Which plan ran: a custom one (planned for these values) or the generic one a prepared statement settles on after its fifth run. */
  mode: "custom" | "generic";
  plan: PlanNode;
}

/** What `EXPLAIN (FORMAT JSON)` returns around the plan. */
interface Explained {
  Plan: PlanNode;
  Planning?: { "Shared Hit Blocks"?: number; "Shared Read Blocks"?: number };
  "Planning Time"?: number;
  "Execution Time"?: number;
}

const ROLLBACK = new Error("rolled back on purpose");

/**
 * `mode: "generic"` explains the plan the core's prepared statements run: postgres.js prepares each
 * statement once per connection, and after five custom plans PostgreSQL keeps the generic one
 * when it costs no more (pg_prepared_statements' generic_plans/custom_plans show it), so a custom
 * plan of the same text is not what ships after the warm-up.
 */
export async function explainStatement(
  sql: postgres.Sql,
  statement: { text: string; params: unknown[] },
  mode: "custom" | "generic" = "custom",
  /** Planner settings for this EXPLAIN only (a test forcing the join a bigger pool's statistics may pick). */
  planner: Record<string, "on" | "off"> = {},
): Promise<StatementPlan> {
  let measured: StatementPlan | undefined;
  const blocks = async (tx: postgres.TransactionSql) => {
    const [row] = await tx<{ n: string }[]>`
      select coalesce(sum(pg_stat_get_xact_blocks_fetched(oid)), 0) as n from pg_class where relnamespace = 'public'::regnamespace`;
    return Number(row?.n ?? 0);
  };
  await sql
    .begin(async (tx) => {
      await tx.unsafe(`set local plan_cache_mode = ${mode === "generic" ? "force_generic_plan" : "force_custom_plan"}`);
      for (const [name, value] of Object.entries(planner)) {
        if (!/^enable_[a-z]+$/.test(name)) throw new Error(`not a planner switch: ${name}`);
        await tx.unsafe(`set local ${name} = ${value === "on" ? "on" : "off"}`);
      }
      const before = await blocks(tx);
      const [row] = await tx.unsafe<{ "QUERY PLAN": [Explained] }[]>(`explain (analyze, buffers, summary, format json) ${statement.text}`, statement.params as never[]);
      const after = await blocks(tx);
      if (row) {
        const explained = row["QUERY PLAN"][0];
        const plan = explained.Plan;
        measured = {
          blocks: after - before,
          tempBlocks: sumTemp(plan),
          planningMs: explained["Planning Time"] ?? Number.NaN,
          planningBlocks: (explained.Planning?.["Shared Hit Blocks"] ?? 0) + (explained.Planning?.["Shared Read Blocks"] ?? 0),
          executionMs: explained["Execution Time"] ?? Number.NaN,
          mode,
          plan,
        };
      }
      throw ROLLBACK;
    })
    .catch((err: unknown) => {
      if (err !== ROLLBACK) throw err;
    });
  if (!measured) throw new Error("EXPLAIN returned no plan");
  return measured;
}

function sumTemp(plan: PlanNode): number {
  const own = (plan["Temp Read Blocks"] ?? 0) + (plan["Temp Written Blocks"] ?? 0);
  return Math.max(own, (plan.Plans ?? []).reduce((n, child) => n + sumTemp(child), 0));
}

/** The plan as indented lines (node, relation or CTE, rows, loops, buffers), for a person to read. */
export function planOutline(plan: PlanNode, depth = 0): string[] {
  const where = [plan["Subplan Name"], plan["CTE Name"], plan["Relation Name"], plan["Index Name"]].filter(Boolean).join(" ");
  const buffers = (plan["Shared Hit Blocks"] ?? 0) + (plan["Shared Read Blocks"] ?? 0) + (plan["Temp Read Blocks"] ?? 0) + (plan["Temp Written Blocks"] ?? 0);
  const line = `${"  ".repeat(depth)}${plan["Node Type"]}${where ? ` (${where})` : ""} rows=${plan["Actual Rows"] ?? "?"} loops=${plan["Actual Loops"] ?? "?"} buffers=${buffers}`;
  return [line, ...(plan.Plans ?? []).flatMap((child) => planOutline(child, depth + 1))];
}

/** The nodes that read the most rows (rows × loops), for a "why" computed from the plan. */
export function heaviestNodes(plan: PlanNode, count = 2): string[] {
  const all: { text: string; rows: number }[] = [];
  const walk = (node: PlanNode) => {
    const rows = (node["Actual Rows"] ?? 0) * (node["Actual Loops"] ?? 1);
    const where = [node["CTE Name"], node["Relation Name"], node["Index Name"]].filter(Boolean).join(" ");
    all.push({ text: `${node["Node Type"]}${where ? ` on ${where}` : ""} (${rows.toLocaleString("en")} rows${(node["Actual Loops"] ?? 1) > 1 ? `, ${node["Actual Loops"]} loops` : ""})`, rows });
    for (const child of node.Plans ?? []) walk(child);
  };
  walk(plan);
  return all.sort((a, b) => b.rows - a.rows).slice(0, count).map((n) => n.text);
}
