import { readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

/**
 * Events and notices have one writer each: `recordEvent`/`recordEvents`/`eventsFrom`
 * (src/core/events.ts) and `enqueueNotices`/`noticesOf`/`noticesFrom` (src/core/notices.ts), so
 * every event names a kind of EVENT_KINDS and every notice fits its schema. Anywhere else in src/,
 * writing to those tables is a mistake this test names. (Migrations' triggers in drizzle/ are not
 * sources and do not count.)
 */
const root = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
const src = join(root, "src");

const WRITERS: Record<"events" | "outbox", string> = { events: "src/core/events.ts", outbox: "src/core/notices.ts" };

/** `insert into events`, any case and spacing (newlines, comments' absence aside), quoted or schema-qualified; drizzle's `.insert(events)`. */
const RAW = /\binsert\s+into\s+(?:"?public"?\s*\.\s*)?"?(events|outbox)"?(?![\w$])/gi;
const BUILDER = /\.insert\(\s*(?:[\w$]+\.)?(events|outbox)\s*\)/g;

/** Where a text writes to events or outbox: table and line. */
function writesIn(text: string): { table: "events" | "outbox"; line: number }[] {
  const found: { table: "events" | "outbox"; line: number; at: number }[] = [];
  for (const pattern of [RAW, BUILDER]) {
    for (const m of text.matchAll(pattern)) {
      found.push({ table: m[1]!.toLowerCase() as "events" | "outbox", line: text.slice(0, m.index).split("\n").length, at: m.index });
    }
  }
  return found.sort((a, b) => a.at - b.at).map(({ table, line }) => ({ table, line }));
}

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return sourceFiles(path);
    return path.endsWith(".ts") ? [path] : [];
  });
}

describe("the writers of events and notices", () => {
  it("are the only code in src/ that inserts into events or outbox", () => {
    const files = sourceFiles(src);
    expect(files.length).toBeGreaterThan(50);
    const stray = files.flatMap((file) => {
      const name = relative(root, file);
      return writesIn(readFileSync(file, "utf8"))
        .filter((w) => WRITERS[w.table] !== name)
        .map((w) => `${name}:${w.line} writes to ${w.table}: use ${w.table === "events" ? "recordEvent(s) or eventsFrom (src/core/events.ts)" : "enqueueNotices, noticesOf or noticesFrom (src/core/notices.ts)"}`);
    });
    expect(stray).toEqual([]);
  });

  it("are found where they write", () => {
    for (const [table, file] of Object.entries(WRITERS)) {
      expect(writesIn(readFileSync(join(root, file), "utf8")).some((w) => w.table === table), `${file} writes ${table}`).toBe(true);
    }
  });

  it("tells a write to events or outbox however it is spelled, and nothing else", () => {
    expect(writesIn("await tx`insert into events (vm_id) values (1)`")).toEqual([{ table: "events", line: 1 }]);
    expect(writesIn("x\n  INSERT   INTO\n   OUTBOX (kind, payload)")).toEqual([{ table: "outbox", line: 2 }]);
    expect(writesIn('insert into "events" (vm_id)')).toEqual([{ table: "events", line: 1 }]);
    expect(writesIn("insert into public.outbox (kind)")).toEqual([{ table: "outbox", line: 1 }]);
    expect(writesIn("await tx.insert(outbox).values(rows)")).toEqual([{ table: "outbox", line: 1 }]);
    expect(writesIn("await db.insert( schema.events ).values(rows)")).toEqual([{ table: "events", line: 1 }]);
    expect(writesIn("insert into event_counts (kind) values ('x'); insert into outbox_archive select 1; select * from events; delete from outbox")).toEqual([]);
  });
});
