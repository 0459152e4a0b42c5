import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { run } from "./command.js";
import { ROOT } from "./containers.js";

/**
 * compose.yml as written, read the way compose reads it. This machine has no
 * compose tool and cannot pull postgres:17, so the file is checked for what
 * it promises (and by `docker compose config` where compose is installed),
 * not run; the image itself is run in image.test.ts.
 */
interface Service {
  image?: string;
  build?: string | { context: string };
  environment?: Record<string, string>;
  env_file?: (string | { path: string; required?: boolean })[];
  depends_on?: Record<string, { condition: string }>;
  healthcheck?: { test: string[] | string };
  ports?: string[];
  volumes?: (string | { type: string; source: string; target: string; read_only?: boolean; bind?: { create_host_path?: boolean } })[];
}
const compose = parse(readFileSync(join(ROOT, "compose.yml"), "utf8")) as { services: Record<string, Service>; volumes?: Record<string, unknown> };
const postgres = compose.services.postgres as Service;
const vmres = compose.services.vmres as Service;
const dockerfile = readFileSync(join(ROOT, "Dockerfile"), "utf8");

/** `${NAME:?message}` or `${NAME}` → NAME: which variable a value is taken from. */
const variableIn = (value: string) => value.match(/\$\{([A-Z_][A-Z0-9_]*)(?::?[-?][^}]*)?\}/)?.[1];

describe("compose.yml", () => {
  it("has exactly the services postgres and vmres, vmres built from this repository's Dockerfile", () => {
    expect(Object.keys(compose.services).sort()).toEqual(["postgres", "vmres"]);
    expect(postgres.image).toMatch(/^postgres:17(\b|$)/);
    expect(typeof vmres.build === "string" ? vmres.build : vmres.build?.context).toBe(".");
  });

  it("starts vmres only once PostgreSQL answers over TCP, as vmres will connect", () => {
    expect(vmres.depends_on).toEqual({ postgres: { condition: "service_healthy" } });
    const test = [postgres.healthcheck?.test ?? []].flat().join(" ");
    expect(test).toContain("pg_isready");
    expect(test).toMatch(/--host=127\.0\.0\.1|-h 127\.0\.0\.1/);
  });

  it("points DATABASE_URL at the postgres service with the user, database and password that service is given", () => {
    const url = vmres.environment?.DATABASE_URL ?? "";
    const parsed = new URL(url.replace(/\$\{[^}]*\}/g, "placeholder"));
    expect(parsed.protocol).toBe("postgres:");
    expect(parsed.hostname).toBe("postgres");
    expect(parsed.port).toBe("5432");
    expect(parsed.username).toBe(postgres.environment?.POSTGRES_USER);
    expect(parsed.pathname).toBe(`/${postgres.environment?.POSTGRES_DB}`);
    const password = variableIn(url);
    expect(password).toBeDefined();
    expect(variableIn(postgres.environment?.POSTGRES_PASSWORD ?? "")).toBe(password);
    // Required, not defaulted: a compose file must not ship a password that works.
    expect(postgres.environment?.POSTGRES_PASSWORD).toMatch(/^\$\{[A-Z_]+:\?/);
  });

  it("keeps PostgreSQL's data in a named volume", () => {
    expect(postgres.volumes).toContain("postgres-data:/var/lib/postgresql/data");
    expect(compose.volumes).toHaveProperty("postgres-data");
  });

  it("publishes the port the image listens on, and reads an optional .env", () => {
    const imagePort = dockerfile.match(/^\s*PORT=(\d+)/m)?.[1];
    expect(imagePort).toBeDefined();
    expect(dockerfile).toMatch(new RegExp(`^EXPOSE ${imagePort}$`, "m"));
    expect(vmres.ports).toEqual([`${imagePort}:${imagePort}`]);
    expect(vmres.env_file).toEqual([{ path: ".env", required: false }]);
  });

  it("mounts vms.yml read-only where VMS_FILE points, failing when it is missing rather than making a folder", () => {
    const inventory = vmres.volumes?.find((v) => typeof v === "object" && v.source === "./vms.yml");
    expect(inventory).toEqual({ type: "bind", source: "./vms.yml", target: vmres.environment?.VMS_FILE, read_only: true, bind: { create_host_path: false } });
  });

  it("is accepted by `docker compose config`, where compose is installed", async (context) => {
    const version = await run("docker", ["compose", "version"], { timeoutMs: 30_000 }).catch(() => undefined);
    if (version?.code !== 0) {
      console.warn("compose.yml: `docker compose` is not installed here; checked by reading only");
      context.skip();
    }
    const env = { ...process.env, POSTGRES_PASSWORD: "checked-by-the-tests" };
    const out = await run("docker", ["compose", "--file", "compose.yml", "config", "--quiet"], { timeoutMs: 60_000, cwd: ROOT, env });
    expect(out.stderr).toBe("");
    expect(out.code).toBe(0);
  });
});
