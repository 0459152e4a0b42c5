import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { VM_STATES } from "../../src/db/schema.js";
import { addVms, call, personWithToken, startApiHarness, type Harness } from "../api/helpers.js";
import { cliFor } from "../helpers/cli.js";
import { promtool, promtoolSkipReason } from "../helpers/promtool.js";

const MONITORING = fileURLToPath(new URL("../../docs/monitoring/", import.meta.url));
const skipPromtool = promtoolSkipReason();

let h: Harness;
let token: string;

beforeAll(async () => {
  h = await startApiHarness();
  await addVms(h.core, "metered", 2);
  await h.core.db.execute(sql`insert into pools (name) values ('empty')`);
  token = (await personWithToken(h.core, "alice")).token;
});
afterAll(async () => h?.stop());

async function scrape(): Promise<string> {
  const res = await fetch(`${h.url}/metrics`);
  expect(res.status).toBe(200);
  return res.text();
}

/** The value of one series, by its exact name and labels as the exposition writes them; undefined when absent. */
function valueOf(text: string, series: string): number | undefined {
  const line = text.split("\n").find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

/**
 * Every metric name an exposition declares (`# TYPE`, with a histogram's _bucket, _sum and
 * _count), whether or not it has a sample yet: a counter with labels has none until counted.
 */
function metricNames(text: string): Set<string> {
  return new Set(
    text.split("\n").flatMap((l) => {
      const [, name, type] = /^# TYPE (\S+) (\S+)$/.exec(l) ?? [];
      if (name === undefined) return [];
      return type === "histogram" ? [name, `${name}_bucket`, `${name}_sum`, `${name}_count`] : [name];
    }),
  );
}

describe("/metrics, read by Prometheus' own tools", () => {
  it("counts a checkout made by the CLI on the database, and its refusal, in the service's /metrics", async () => {
    const vmres = cliFor({ databaseUrl: h.database.url });
    const before = await scrape();
    expect(valueOf(before, 'vmres_events_total{kind="checked_out",pool="metered",source="cli"}')).toBeUndefined();

    expect((await vmres(["checkout", "--user", "UCLIUSER1", "--pool", "metered"])).code).toBe(0);
    // Quota 1: the same person's second checkout is refused, by the CLI, with no service involved.
    expect((await vmres(["checkout", "--user", "UCLIUSER1", "--pool", "metered"])).code).toBe(3);

    const after = await scrape();
    expect(valueOf(after, 'vmres_events_total{kind="checked_out",pool="metered",source="cli"}')).toBe(1);
    expect(valueOf(after, 'vmres_refusals_total{request="checkout",code="quota_reached",pool="metered",source="cli"}')).toBe(1);
    // The per-process counter only knows this process's checkouts: the CLI's are not in it.
    expect(after).not.toMatch(/vmres_checkouts_total\{pool="metered",outcome="ok"\}/);
  });

  it("counts the same events on every scrape and after the counts are rolled up", async () => {
    const first = await scrape();
    const second = await scrape();
    expect(valueOf(second, 'vmres_events_total{kind="checked_out",pool="metered",source="cli"}')).toBe(1);
    expect(valueOf(second, 'vmres_events_total{kind="added",pool="metered",source="cli"}')).toBe(valueOf(first, 'vmres_events_total{kind="added",pool="metered",source="cli"}'));
    const [left] = await h.core.db.execute<{ n: number }>(sql`select count(*)::int as n from event_count_deltas`);
    expect(left?.n).toBe(0);
  });

  it("has a vmres_vms series for every pool and state, 0 where the pool has no such VM", async () => {
    const text = await scrape();
    for (const state of VM_STATES) expect(valueOf(text, `vmres_vms{pool="empty",state="${state}"}`)).toBe(0);
    expect(valueOf(text, 'vmres_vms{pool="metered",state="available"}')).toBe(1);
    expect(valueOf(text, 'vmres_vms{pool="metered",state="checked_out"}')).toBe(1);
    expect(valueOf(text, 'vmres_vms{pool="metered",state="quarantined"}')).toBe(0);
    expect(valueOf(text, 'vmres_queue_waiting{pool="empty"}')).toBe(0);
    expect(valueOf(text, 'vmres_cleaning_oldest_age_seconds{pool="empty"}')).toBe(0);
  });

  it("counts API requests by route template, method and status, and URLs no route knows as one route", async () => {
    expect((await call(h, "GET", "/v1/vms/metered-1", { token })).status).toBe(200);
    expect((await call(h, "GET", "/v1/vms/no-such-vm", { token })).status).toBe(404);
    expect((await call(h, "GET", "/v1/vms/metered-1")).status).toBe(401);
    expect((await call(h, "GET", "/v1/nothing/here/abc123", { token })).status).toBe(404);
    expect((await call(h, "POST", "/v1/checkouts", { token, body: { pool: "metered" } })).status).toBe(201);

    const text = await scrape();
    expect(valueOf(text, 'vmres_http_requests_total{route="/v1/vms/:name",method="GET",status="200"}')).toBe(1);
    expect(valueOf(text, 'vmres_http_requests_total{route="/v1/vms/:name",method="GET",status="404"}')).toBe(1);
    expect(valueOf(text, 'vmres_http_requests_total{route="/v1/vms/:name",method="GET",status="401"}')).toBe(1);
    expect(valueOf(text, 'vmres_http_requests_total{route="(unmatched)",method="GET",status="404"}')).toBe(1);
    expect(valueOf(text, 'vmres_http_requests_total{route="/v1/checkouts",method="POST",status="201"}')).toBe(1);
    expect(valueOf(text, 'vmres_http_request_duration_seconds_count{route="/v1/vms/:name",method="GET"}')).toBe(3);
    expect(valueOf(text, 'vmres_events_total{kind="checked_out",pool="metered",source="api"}')).toBe(1);
    // Never the raw URL, whatever was asked for.
    expect(text).not.toContain("no-such-vm");
    expect(text).not.toContain("abc123");
  });

  it.skipIf(skipPromtool !== null)("passes promtool check metrics", async () => {
    const text = await scrape();
    const checked = await promtool(["check", "metrics"], text);
    expect(checked.output).toBe("");
    expect(checked.code).toBe(0);
    // What was checked had every kind of series with samples: histograms, labelled counters, gauges.
    expect(text).toContain("vmres_http_request_duration_seconds_bucket");
    expect(text).toContain("vmres_events_total{");
  });

  it.skipIf(skipPromtool !== null)("ships alert rules that pass promtool check rules", async () => {
    const checked = await promtool(["check", "rules", join(MONITORING, "alerts.yml")]);
    expect(checked.output).toContain("SUCCESS: 4 rules found");
    expect(checked.code).toBe(0);
  });

  it.skipIf(skipPromtool !== null)("ships a dashboard whose queries are valid PromQL", async () => {
    const folder = mkdtempSync(join(tmpdir(), "vmres-dashboard-"));
    try {
      // promtool checks PromQL only inside rules: each query becomes one, Grafana's variables given values.
      const rules = dashboardQueries().map((expr, n) => ({ record: `vmres:dashboard_query_${n}`, expr: expr.replaceAll("$__rate_interval", "5m").replaceAll("$pool", ".*") }));
      writeFileSync(join(folder, "dashboard.rules.yml"), JSON.stringify({ groups: [{ name: "dashboard", rules }] }));
      const checked = await promtool(["check", "rules", join(folder, "dashboard.rules.yml")]);
      expect(checked.output).toContain(`SUCCESS: ${rules.length} rules found`);
    } finally {
      rmSync(folder, { recursive: true, force: true });
    }
  });

  it("ships a dashboard and alert rules that name only metrics /metrics serves", async () => {
    const served = metricNames(await scrape());
    // The rules' queries and annotations, without their comments.
    const alerts = readFileSync(join(MONITORING, "alerts.yml"), "utf8").replace(/^\s*#.*$/gm, "");
    const named = new Set([...dashboardQueries(), alerts].flatMap((text) => text.match(/\bvmres_[a-z0-9_]+/g) ?? []));
    expect(named.size).toBeGreaterThan(10);
    expect([...named].filter((name) => !served.has(name))).toEqual([]);
  });

  it("documents every metric /metrics declares in the metrics reference", async () => {
    const reference = readFileSync(join(MONITORING, "README.md"), "utf8");
    const declared = [...metricNames(await scrape())].filter((name) => !name.startsWith("vmres_process_") && !/_(bucket|sum|count)$/.test(name));
    expect(declared.length).toBeGreaterThan(15);
    expect(declared.filter((name) => !reference.includes(`| \`${name}\` |`))).toEqual([]);
  });
});

/** Every PromQL query of the shipped dashboard: its panels' targets and its variables. */
function dashboardQueries(): string[] {
  type Dashboard = { panels: { targets?: { expr: string }[] }[]; templating: { list: { query?: string | { query: string } }[] } };
  const dashboard = JSON.parse(readFileSync(join(MONITORING, "grafana-dashboard.json"), "utf8")) as Dashboard;
  const targets = dashboard.panels.flatMap((p) => (p.targets ?? []).map((t) => t.expr));
  // label_values(metric, label) is Grafana's, not PromQL: its metric is checked by name only.
  const variables = dashboard.templating.list.flatMap((v) => (typeof v.query === "object" ? [v.query.query.replace(/^label_values\((\w+),.*$/, "$1")] : []));
  return [...targets, ...variables];
}
