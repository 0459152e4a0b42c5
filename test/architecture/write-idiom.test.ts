import { readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import ts from "typescript";
import { describe, expect, it } from "vitest";

/**
 * One idiom for writes (issue 19 item 3, docs/architecture.md): a write is a postgres.js tagged
 * template. drizzle stays for the schema, the migrations and reads. This test finds writes made
 * with drizzle (`tx.execute(sql`update …`)`, `db.insert(table)`) and fails on any outside the
 * files not converted yet, listed here; the list only shrinks (a listed file that no longer
 * writes with drizzle fails too, so its line is removed).
 */
const root = resolve(dirname(fileURLToPath(import.meta.url)), "../..");

// Every write is converted; a file that must write with drizzle again is listed here, with why.
const NOT_CONVERTED_YET: Record<string, string> = {};

const listed = (file: string) => Object.keys(NOT_CONVERTED_YET).some((e) => (e.endsWith("/") ? file.startsWith(e) : file === e));

const HANDLES = new Set(["db", "tx", "database"]);
const lastName = (e: ts.Expression): string | null => (ts.isIdentifier(e) ? e.text : ts.isPropertyAccessExpression(e) ? e.name.text : null);
const templateText = (t: ts.TemplateLiteral): string =>
  ts.isNoSubstitutionTemplateLiteral(t) ? t.text : [t.head.text, ...t.templateSpans.map((s) => s.literal.text)].join(" ? ");
const WRITE = /^\s*(?:insert\s+into|update\s|delete\s+from)/i;
const CTE_WRITE = /\b(?:insert\s+into|update\s+\w+(?:\s+\w+)?\s+set|delete\s+from)\b/i;

/** The names drizzle's `sql` tag goes by in a file: `sql`, and any alias it is imported as (`import { sql as dsql } from "drizzle-orm"`). */
function sqlTagsOf(file: ts.SourceFile): Set<string> {
  const tags = new Set(["sql"]);
  for (const statement of file.statements) {
    if (!ts.isImportDeclaration(statement) || !ts.isStringLiteral(statement.moduleSpecifier) || !/^drizzle-orm(\/|$)/.test(statement.moduleSpecifier.text)) continue;
    const bindings = statement.importClause?.namedBindings;
    if (bindings && ts.isNamedImports(bindings)) for (const e of bindings.elements) if ((e.propertyName ?? e.name).text === "sql") tags.add(e.name.text);
  }
  return tags;
}

/** Lines of `text` that write with drizzle: `execute(sql`<a write>`)` or the builder's insert/update/delete on a handle. */
function drizzleWritesIn(text: string): number[] {
  const file = ts.createSourceFile("x.ts", text, ts.ScriptTarget.Latest, true);
  const sqlTags = sqlTagsOf(file);
  const lines = new Set<number>();
  const visit = (node: ts.Node): void => {
    if (ts.isCallExpression(node) && ts.isPropertyAccessExpression(node.expression)) {
      const method = node.expression.name.text;
      const arg = node.arguments[0];
      const onHandle = HANDLES.has(lastName(node.expression.expression) ?? "");
      if (method === "execute" && arg && ts.isTaggedTemplateExpression(arg) && sqlTags.has(lastName(arg.tag) ?? "")) {
        const sqlText = templateText(arg.template);
        if (WRITE.test(sqlText) || (/^\s*with\b/i.test(sqlText) && CTE_WRITE.test(sqlText))) lines.add(file.getLineAndCharacterOfPosition(node.getStart(file)).line + 1);
      } else if (onHandle && ["insert", "update", "delete"].includes(method) && arg && (ts.isIdentifier(arg) || ts.isPropertyAccessExpression(arg))) {
        lines.add(file.getLineAndCharacterOfPosition(node.getStart(file)).line + 1);
      }
    }
    ts.forEachChild(node, visit);
  };
  visit(file);
  return [...lines].sort((a, b) => a - b);
}

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return sourceFiles(path);
    return /\.tsx?$/.test(path) && !path.endsWith(".d.ts") ? [path] : [];
  });
}

describe("writes", () => {
  const files = sourceFiles(join(root, "src")).map((f) => relative(root, f));

  it("are postgres.js templates everywhere but in the files not converted yet", () => {
    expect(files.length).toBeGreaterThan(50);
    const stray = files
      .filter((f) => !listed(f))
      .flatMap((f) => drizzleWritesIn(readFileSync(join(root, f), "utf8")).map((line) => `${f}:${line} writes with drizzle: write it as a postgres.js template (tx\`…\`, core.db.$client\`…\`)`));
    expect(stray).toEqual([]);
  });

  it("list as not converted only files that still write with drizzle", () => {
    const converted = Object.keys(NOT_CONVERTED_YET)
      .filter((e) => !e.endsWith("/"))
      .filter((f) => drizzleWritesIn(readFileSync(join(root, f), "utf8")).length === 0);
    expect(converted, "these no longer write with drizzle: remove them from NOT_CONVERTED_YET").toEqual([]);
  });

  it("with drizzle are told from reads and from postgres.js", () => {
    expect(drizzleWritesIn("await tx.execute(sql`\n  update vms set state = 'available' where id = ${id}`);")).toEqual([1]);
    expect(drizzleWritesIn("x;\nawait db.execute(sql`with moved as (delete from d returning *) insert into c select * from moved`);")).toEqual([2]);
    expect(drizzleWritesIn("await core.db.insert(processedInteractions).values({ key });")).toEqual([1]);
    expect(drizzleWritesIn('import { sql as dsql } from "drizzle-orm";\nawait tx.execute(dsql`update waiters set state = \'waiting\'`);')).toEqual([2]);
    expect(drizzleWritesIn("await tx.execute(sql`select id from vms where name = ${n} for update`);")).toEqual([]);
    expect(drizzleWritesIn("await db.execute(sql`with c as (select 1) select * from c`);")).toEqual([]);
    expect(drizzleWritesIn("await tx`update vms set state = 'available'`; this.running.delete(req); hash.update(x);")).toEqual([]);
  });
});
