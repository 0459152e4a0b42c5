import { spawn } from "node:child_process";
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { parse } from "yaml";
import { addVm } from "../../src/core/admin.js";
import { checkout } from "../../src/core/checkout.js";
import { checkin } from "../../src/core/checkin.js";
import { personWithToken, startApiHarness, type Harness } from "./helpers.js";

/**
 * The CI examples docs/api.md shows (examples/ci/), run for real against the service:
 * the shell job with curl and trap, and the GitHub Actions job's steps as the
 * runner would run them (bash -eo pipefail, $GITHUB_OUTPUT, `if: always()`).
 * `ssh` is the job's own work; here a stand-in on PATH records how it was
 * called and fails when asked to, so the check-in is shown to happen anyway.
 */
const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const JOB = join(ROOT, "examples/ci/job.sh");
const WORKFLOW = join(ROOT, "examples/ci/github-actions.yml");

let h: Harness;
let token: string;
const bin = mkdtempSync(join(tmpdir(), "vmres-ci-bin-"));
const sshLog = join(bin, "ssh.log");

beforeAll(async () => {
  h = await startApiHarness();
  token = (await personWithToken(h.core, "ci-nightly", { kind: "service" })).token;
  const added = await addVm(h.core, { person: "operator", source: "cli" }, { name: "linux-01", ip: "198.51.100.41", pool: "linux", sshUser: "ci", sshPort: 2222, hostKeyFingerprint: null, tags: [] });
  expect(added.ok).toBe(true);
  writeFileSync(join(bin, "ssh"), `#!/bin/sh\necho "ssh $*" >> "${sshLog}"\nexit "\${SSH_EXIT:-0}"\n`);
  chmodSync(join(bin, "ssh"), 0o755);
}, 60_000);
// No cleanup worker runs here: a VM checked in is made available again, as its cleanup would.
afterEach(async () => {
  await h.database.sql`update vms set state = 'available', cleanup_next_at = null where state = 'cleaning'`;
});
afterAll(async () => {
  await h?.stop();
  rmSync(bin, { recursive: true, force: true });
});

/** Runs a program to its end without blocking this process, where the service under test runs. */
function run(args: string[], environment: Record<string, string>): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(args[0]!, args.slice(1), { env: environment, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (t: string) => (stdout += t));
    child.stderr.setEncoding("utf8").on("data", (t: string) => (stderr += t));
    child.on("error", reject);
    child.on("close", (status) => resolve({ status, stdout, stderr }));
  });
}

const env = (more: Record<string, string> = {}) => ({ PATH: `${bin}:${process.env["PATH"] ?? "/usr/bin:/bin"}`, HOME: bin, VMRES_URL: h.url, VMRES_TOKEN: token, ...more });
const lastSsh = () => readFileSync(sshLog, "utf8").trim().split("\n").at(-1);
async function checkoutsOfCi() {
  return h.database.sql<{ ended: boolean; end_reason: string | null; note: string }[]>`
    select c.ended_at is not null as ended, c.end_reason, c.note from checkouts c join people p on p.id = c.person_id where p.name = 'ci-nightly' order by c.id`;
}

describe("examples/ci/job.sh (curl and trap)", { timeout: 60_000 }, () => {
  it("checks out, runs the work over ssh, and checks in", async () => {
    const r = await run(["bash", JOB], env({ CI_JOB_ID: "4711" }));
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toContain("testing on linux-01 (ssh ci@198.51.100.41 -p 2222)");
    expect(lastSsh()).toBe("ssh -o StrictHostKeyChecking=accept-new -p 2222 ci@198.51.100.41 ./run-tests.sh");
    expect((await checkoutsOfCi()).at(-1)).toEqual({ ended: true, end_reason: "checked_in", note: "CI job 4711" });
  });

  it("checks in even when the work fails, and exits with the work's status", async () => {
    const r = await run(["bash", JOB], env({ SSH_EXIT: "7" }));
    expect(r.status).toBe(7);
    expect((await checkoutsOfCi()).every((c) => c.ended)).toBe(true);
  });

  it("no VM within the wait: fails with the problem, holding nothing and waiting nowhere", async () => {
    const someone = { person: { lookup: "someone" }, source: "cli" as const };
    await h.database.sql`insert into people (name) values ('someone') on conflict do nothing`;
    const held = await checkout(h.core, someone, { pool: "linux" });
    expect(held.ok).toBe(true);
    try {
      const before = (await checkoutsOfCi()).length;
      const r = await run(["bash", JOB], env({ VMRES_WAIT: "2s" }));
      expect(r.status).toBe(22);
      expect(r.stderr).toContain("409");
      expect((await checkoutsOfCi()).length).toBe(before);
      expect(await h.database.sql`select 1 from waiters where state in ('waiting', 'offered')`).toHaveLength(0);
    } finally {
      if (held.ok) await checkin(h.core, someone, held.value.name);
    }
  });
});

describe("examples/ci/github-actions.yml, run step by step as the runner does", { timeout: 60_000 }, () => {
  interface Step {
    id?: string;
    name: string;
    if?: string;
    run: string;
  }
  /** Runs the job's steps: `${{ }}` filled in, each `run` in bash -eo pipefail, outputs from $GITHUB_OUTPUT; a step with `if: always()…` runs after a failure. */
  async function runJob(sshExit: string): Promise<{ failed: string | null; ran: string[] }> {
    const workflow = parse(readFileSync(WORKFLOW, "utf8")) as { jobs: { test: { env: Record<string, string>; steps: Step[] } } };
    const job = workflow.jobs.test;
    const outputs: Record<string, Record<string, string>> = {};
    const context: Record<string, string> = { "vars.VMRES_URL": h.url, "secrets.VMRES_TOKEN": token, "github.run_id": "99", "github.run_attempt": "1", "github.repository": "acme/app" };
    const fill = (text: string) =>
      text.replace(/\$\{\{\s*([^}]+?)\s*\}\}/g, (_, expr: string) => {
        const step = /^steps\.(\w+)\.outputs\.(\w+)$/.exec(expr);
        if (step) return outputs[step[1]!]?.[step[2]!] ?? "";
        if (!(expr in context)) throw new Error(`the example uses \${{ ${expr} }}, which this runner does not know`);
        return context[expr]!;
      });
    const jobEnv = Object.fromEntries(Object.entries(job.env).map(([k, v]) => [k, fill(v)]));
    let failed: string | null = null;
    const ran: string[] = [];
    for (const step of job.steps) {
      const condition = step.if ?? "success()";
      if (failed !== null && !condition.includes("always()")) continue;
      if (/steps\.vm\.outputs\.id != ''/.test(condition) && !outputs["vm"]?.["id"]) continue;
      const output = join(bin, `output-${ran.length}`);
      writeFileSync(output, "");
      const r = await run(["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", fill(step.run)], { ...env({ SSH_EXIT: sshExit }), ...jobEnv, GITHUB_OUTPUT: output });
      ran.push(step.name);
      if (step.id) outputs[step.id] = Object.fromEntries(readFileSync(output, "utf8").trim().split("\n").filter(Boolean).map((l) => l.split(/=(.*)/s).slice(0, 2) as [string, string]));
      if (r.status !== 0 && failed === null) failed = `${step.name}: exit ${r.status}: ${r.stderr}`;
    }
    return { failed, ran };
  }

  it("checks out, tests over ssh, checks in", async () => {
    const { failed, ran } = await runJob("0");
    expect(failed).toBeNull();
    expect(ran).toEqual(["Check out a VM", "Test", "Check the VM in"]);
    expect(lastSsh()).toBe("ssh -o StrictHostKeyChecking=accept-new -p 2222 ci@198.51.100.41 ./run-tests.sh");
    expect((await checkoutsOfCi()).at(-1)).toEqual({ ended: true, end_reason: "checked_in", note: "acme/app run 99" });
  });

  it("checks in when the tests fail", async () => {
    const { failed, ran } = await runJob("1");
    expect(failed).toMatch(/^Test: exit 1/);
    expect(ran).toEqual(["Check out a VM", "Test", "Check the VM in"]);
    expect((await checkoutsOfCi()).every((c) => c.ended)).toBe(true);
  });
});

it("docs/api.md shows the examples as they are in examples/ci/", () => {
  const doc = readFileSync(join(ROOT, "docs", "api.md"), "utf8");
  for (const file of [JOB, WORKFLOW]) expect(doc).toContain(readFileSync(file, "utf8").trim());
});
