import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import ts from "typescript";
import { describe, expect, it } from "vitest";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
const src = join(root, "src");

/** Every .ts file under `dir`, as absolute paths. */
function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return sourceFiles(path);
    return path.endsWith(".ts") && !path.endsWith(".d.ts") ? [path] : [];
  });
}

/** A relative specifier as NodeNext writes it (`./x.js`) resolved to the source file (`./x.ts`); null when it is not one of ours. */
function resolveSpecifier(from: string, specifier: string): string | null {
  if (!specifier.startsWith(".")) return null;
  const target = resolve(dirname(from), specifier);
  const candidates = [target.replace(/\.js$/, ".ts"), `${target}.ts`, join(target, "index.ts")];
  return candidates.find((c) => existsSync(c) && statSync(c).isFile()) ?? null;
}

/** Import specifiers of one file: `import`, `import type`, `export … from`, side-effect and dynamic imports. */
function specifiersOf(file: string): string[] {
  return ts.preProcessFile(readFileSync(file, "utf8"), true, true).importedFiles.map((f) => f.fileName);
}

interface Graph {
  /** file → files it imports (resolved, ours only). */
  edges: Map<string, string[]>;
  /** file → package specifiers it imports (not relative). */
  packages: Map<string, string[]>;
}

function importGraph(): Graph {
  const edges = new Map<string, string[]>();
  const packages = new Map<string, string[]>();
  for (const file of sourceFiles(src)) {
    const specifiers = specifiersOf(file);
    edges.set(file, specifiers.map((s) => resolveSpecifier(file, s)).filter((t): t is string => t !== null));
    packages.set(file, specifiers.filter((s) => !s.startsWith(".")));
  }
  return { edges, packages };
}

/** Every elementary cycle found by a depth-first walk (one per back edge), each as `a → b → … → a`. */
function cyclesOf(edges: Map<string, string[]>): string[][] {
  const done = new Set<string>();
  const onStack = new Map<string, number>();
  const stack: string[] = [];
  const found = new Map<string, string[]>();
  const visit = (file: string): void => {
    onStack.set(file, stack.length);
    stack.push(file);
    for (const next of edges.get(file) ?? []) {
      const at = onStack.get(next);
      if (at !== undefined) {
        const cycle = stack.slice(at);
        // The same cycle reached from another entry point is one cycle: key it by its smallest rotation.
        const start = cycle.indexOf([...cycle].sort()[0]!);
        const rotated = [...cycle.slice(start), ...cycle.slice(0, start)];
        found.set(rotated.join("\n"), [...rotated, rotated[0]!]);
      } else if (!done.has(next)) {
        visit(next);
      }
    }
    stack.pop();
    onStack.delete(file);
    done.add(file);
  };
  for (const file of [...edges.keys()].sort()) if (!done.has(file)) visit(file);
  return [...found.values()];
}

const name = (file: string) => relative(root, file);

/** Folders the core must never reach into: it decides, adapters and wiring call it. */
const OUTSIDE_CORE = ["src/slack/", "src/cli/", "src/cleanup/", "src/service/", "src/api/", "src/client/"];
/** Packages of the outside world (Slack, SSH, HTTP, schedules) that belong to adapters. */
const ADAPTER_PACKAGES = [/^@slack\//, /^ssh2$/, /^node:https?$/, /^node-cron$/, /^fastify/, /^@fastify\//, /^openapi-fetch$/];

describe("the import graph of src/", () => {
  const graph = importGraph();

  it("has no cycles, type-only imports included", () => {
    const cycles = cyclesOf(graph.edges).map((c) => c.map(name).join(" → "));
    expect(cycles, `import cycles:\n${cycles.join("\n")}`).toEqual([]);
  });

  it("has a core that imports nothing from Slack, the CLI, cleanup or the service", () => {
    const reaches: string[] = [];
    for (const [file, targets] of graph.edges) {
      if (!name(file).startsWith("src/core/")) continue;
      for (const target of targets) if (OUTSIDE_CORE.some((dir) => name(target).startsWith(dir))) reaches.push(`${name(file)} → ${name(target)}`);
      for (const pkg of graph.packages.get(file) ?? []) if (ADAPTER_PACKAGES.some((p) => p.test(pkg))) reaches.push(`${name(file)} → ${pkg}`);
    }
    expect(reaches, `the core reaches into adapters:\n${reaches.join("\n")}`).toEqual([]);
  });

  it("is read from the sources: it sees the files and their imports", () => {
    // Guards the two tests above against passing because the walk found nothing.
    expect(graph.edges.size).toBeGreaterThan(50);
    expect(graph.edges.get(join(src, "main.ts"))?.map(name)).toContain("src/service/service.ts");
  });
});

describe("the cycle finder", () => {
  it("names a cycle of type-only imports, and only once however it is entered", () => {
    const edges = new Map([
      ["a", ["b"]],
      ["b", ["c"]],
      ["c", ["a", "d"]],
      ["d", []],
      ["e", ["b"]],
    ]);
    expect(cyclesOf(edges)).toEqual([["a", "b", "c", "a"]]);
  });

  it("finds nothing in a graph without cycles", () => {
    expect(cyclesOf(new Map([["a", ["b", "c"]], ["b", ["c"]], ["c", []]]))).toEqual([]);
  });
});
