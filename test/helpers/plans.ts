/** A node of `EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON)`, with the fields these tests read. */
export interface PlanNode {
  "Node Type": string;
  "Shared Hit Blocks"?: number;
  "Shared Read Blocks"?: number;
  "Temp Read Blocks"?: number;
  "Temp Written Blocks"?: number;
  "Local Hit Blocks"?: number;
  "Local Read Blocks"?: number;
  Plans?: PlanNode[];
}

/** The plan as indented lines (node, relation or CTE, rows, loops, buffers), for a failure message a person can read. */
export function planOutline(plan: PlanNode, depth = 0): string {
  const node = plan as PlanNode & { "Relation Name"?: string; "Index Name"?: string; "CTE Name"?: string; "Subplan Name"?: string; "Actual Rows"?: number; "Actual Loops"?: number };
  const where = [node["Subplan Name"], node["CTE Name"], node["Relation Name"], node["Index Name"]].filter(Boolean).join(" ");
  const own = (plan["Shared Hit Blocks"] ?? 0) + (plan["Shared Read Blocks"] ?? 0) + (plan["Temp Read Blocks"] ?? 0) + (plan["Temp Written Blocks"] ?? 0);
  const line = `${"  ".repeat(depth)}${plan["Node Type"]}${where ? ` (${where})` : ""} rows=${node["Actual Rows"] ?? "?"} loops=${node["Actual Loops"] ?? "?"} buffers=${own}`;
  return [line, ...(plan.Plans ?? []).map((child) => planOutline(child, depth + 1))].join("\n");
}
