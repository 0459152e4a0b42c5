import { readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import ts from "typescript";
import { describe, expect, it } from "vitest";

/**
 * Adapters parse, call the core and render: the database is the core's (src/core/) and its
 * storage helpers' (src/db/). So a file of an adapter or of the wiring imports neither
 * drizzle-orm nor postgres (types included) and holds no SQL: no tagged template on a
 * database handle, no `$client`, no drizzle query builder on a handle (issue 19 item 3).
 */
const root = resolve(dirname(fileURLToPath(import.meta.url)), "../..");

/** Folders of adapters and wiring. */
const ADAPTERS = ["src/slack/", "src/api/", "src/cli/", "src/web/", "src/service/", "src/metrics/"];

/**
 * Files (or folders, ending in /) allowed to, each with why. src/cli/database.ts is the CLI's
 * database wiring: it opens the database, as src/service does through src/db/client.ts.
 */
const EXCEPTIONS: Record<string, string> = {
  "src/cli/database.ts": "the CLI's database wiring",
};

const excepted = (file: string) => Object.keys(EXCEPTIONS).some((e) => (e.endsWith("/") ? file.startsWith(e) : file === e));

/** Packages that talk to the database. */
const DATABASE_PACKAGES = /^(drizzle-orm|postgres)(\/|$)/;

/** Names of database handles and of drizzle's `sql` tag. */
const HANDLES = new Set(["sql", "tx", "db", "pg", "lock", "$client"]);
/** drizzle's builder and runner methods on a handle. */
const QUERIES = new Set(["select", "selectDistinct", "insert", "update", "delete", "execute", "transaction", "query", "begin", "reserve", "unsafe"]);

/** The last name of `a.b.c` (`c`), or of `a` itself. */
const lastName = (e: ts.Expression): string | null =>
  ts.isIdentifier(e) ? e.text : ts.isPropertyAccessExpression(e) ? e.name.text : ts.isExpressionWithTypeArguments(e) ? lastName(e.expression) : null;

/**
 * SQL in a source, read from its syntax tree (so comments and strings never count): a tagged
 * template on a handle (sql`…`, tx`…`, core.db.$client<Row[]>`…`), any use of `$client`, or a
 * query method called on a handle (core.db.insert(table), tx.execute(…)). One finding per line.
 */
function sqlIn(text: string): { what: string; line: number }[] {
  const file = ts.createSourceFile("x.ts", text, ts.ScriptTarget.Latest, true);
  const found = new Map<number, string>();
  const add = (node: ts.Node, what: string) => {
    const line = file.getLineAndCharacterOfPosition(node.getStart(file)).line + 1;
    if (!found.has(line)) found.set(line, what);
  };
  const visit = (node: ts.Node): void => {
    if (ts.isTaggedTemplateExpression(node) && HANDLES.has(lastName(node.tag) ?? "")) add(node, "a SQL template");
    else if (ts.isPropertyAccessExpression(node) && node.name.text === "$client") add(node, "postgres.js's $client");
    else if (ts.isCallExpression(node) && ts.isPropertyAccessExpression(node.expression) && QUERIES.has(node.expression.name.text) && HANDLES.has(lastName(node.expression.expression) ?? "")) {
      add(node, "a query on a database handle");
    }
    ts.forEachChild(node, visit);
  };
  visit(file);
  return [...found].sort(([a], [b]) => a - b).map(([line, what]) => ({ what, line }));
}

function databaseImportsOf(text: string): string[] {
  return ts
    .preProcessFile(text, true, true)
    .importedFiles.map((f) => f.fileName)
    .filter((s) => DATABASE_PACKAGES.test(s));
}

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return sourceFiles(path);
    return /\.tsx?$/.test(path) && !path.endsWith(".d.ts") ? [path] : [];
  });
}

const adapterFiles = () =>
  sourceFiles(join(root, "src"))
    .map((f) => relative(root, f))
    .filter((f) => ADAPTERS.some((dir) => f.startsWith(dir)));

describe("adapters and wiring", () => {
  it("import neither drizzle-orm nor postgres, and hold no SQL, but for the listed exceptions", () => {
    const files = adapterFiles();
    expect(files.length).toBeGreaterThan(50);
    const found = files
      .filter((f) => !excepted(f))
      .flatMap((f) => {
        const text = readFileSync(join(root, f), "utf8");
        return [
          ...databaseImportsOf(text).map((pkg) => `${f} imports ${pkg}: call a function of src/core (or src/db for storage) instead`),
          ...sqlIn(text).map((s) => `${f}:${s.line} holds ${s.what}: move the SQL into a function of src/core (or src/db for storage)`),
        ];
      });
    expect(found).toEqual([]);
  });

  it("tell SQL and database imports however they are written, and not ordinary code", () => {
    expect(sqlIn("const [row] = await core.db.$client<{ a: number }[]>`select 1`")).toEqual([{ what: "a SQL template", line: 1 }]);
    expect(sqlIn("const pg = core.db.$client;")).toEqual([{ what: "postgres.js's $client", line: 1 }]);
    expect(sqlIn("await tx.execute(sql`select 1`)")).toHaveLength(1);
    expect(sqlIn("x\nawait core.db.insert(processedInteractions).values({ key })")).toEqual([{ what: "a query on a database handle", line: 2 }]);
    expect(sqlIn("const rows = await sql<{ n: number }[]>`select count(*) from vms`")).toEqual([{ what: "a SQL template", line: 1 }]);
    expect(sqlIn("await tx`update vms set state = 'available'`")).toEqual([{ what: "a SQL template", line: 1 }]);
    expect(sqlIn("const text = `ssh ${vm.sshUser}@${vm.ip}`; this.running.delete(req); map.set(db, 1); db.close()")).toEqual([]);
    expect(sqlIn("/** `vmres db`: its commands. */\nconst s = \"tx`select 1`\"; // sql`select 1`")).toEqual([]);
    expect(databaseImportsOf('import { sql } from "drizzle-orm";\nimport type postgres from "postgres";\nimport { x } from "drizzle-orm/pg-core";\nimport { z } from "zod";')).toEqual([
      "drizzle-orm",
      "postgres",
      "drizzle-orm/pg-core",
    ]);
    expect(databaseImportsOf('import { p } from "postgres-interval"; import { q } from "./postgres.js";')).toEqual([]);
  });
});
