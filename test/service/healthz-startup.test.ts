import { spawn } from "node:child_process";
import { chmodSync, mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, expect, it } from "vitest";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const dir = mkdtempSync(join(tmpdir(), "vmres-healthz-start-"));
// Run as root, the embedded server runs as `postgres`, which must be able to enter this folder.
chmodSync(dir, 0o755);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", () => resolve()));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

type Answer = { status: number; body: { status: string; checks?: Record<string, { ready: boolean; detail: string }> } };

it("answers /healthz 503 while the embedded database is being created, and ok only once it answers a query", async () => {
  const port = await freePort();
  const child = spawn(process.execPath, ["dist/main.js"], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: process.env.HOME ?? "/root", EMBEDDED_PG_DIR: join(dir, "postgres"), PORT: String(port), HOST: "127.0.0.1", VMS_FILE: join(dir, "none.yml") },
    stdio: ["ignore", "ignore", "pipe"],
  });
  let log = "";
  const running = new Promise<void>((resolve, reject) => {
    child.stderr.on("data", (chunk: Buffer) => {
      log += chunk.toString();
      if (log.includes('"msg":"vmres is running"')) resolve();
    });
    child.once("exit", (code) => reject(new Error(`the service exited at start (${code}):\n${log.slice(-2000)}`)));
  });
  let started = false;
  void running.then(() => (started = true), () => undefined);
  const answers: Answer[] = [];
  try {
    // Every answer from the moment the port opens until start-up is over (initdb takes seconds).
    while (!started) {
      try {
        const res = await fetch(`http://127.0.0.1:${port}/healthz`);
        answers.push({ status: res.status, body: (await res.json()) as Answer["body"] });
      } catch {
        // Not listening yet.
      }
      await Promise.race([running, new Promise((resolve) => setTimeout(resolve, 20))]);
    }
  } finally {
    child.kill("SIGTERM");
    await new Promise((resolve) => (child.exitCode !== null ? resolve(null) : child.once("exit", resolve)));
  }
  expect(answers[0]).toEqual({ status: 503, body: { status: "unavailable", checks: { database: { ready: false, detail: expect.stringContaining("not open yet") } } } });
  for (const answer of answers.filter((a) => a.status === 200)) expect(answer.body.checks?.database?.ready).toBe(true);
}, 180_000);
