import { readFileSync } from "node:fs";
import { parse } from "yaml";
import { describe, expect, it } from "vitest";
import { parseInventory, readQuickly } from "../../src/inventory/file.js";

// The fast reader (js-yaml) stands in for `yaml` only where both give the same values.
const samples: Record<string, string> = {
  "the shipped example": readFileSync(new URL("../../vms.example.yml", import.meta.url), "utf8"),
  "flow and block styles": "pools:\n  a:\n    vms:\n      - {name: vm-1, ip: 198.51.100.1, tags: [gpu, big]}\n      - name: vm-2\n        ip: \"198.51.100.2\"\n        ssh_port: 2222\n",
  "YAML 1.2 core scalars": "x: [0x1F, 0o17, 017, 1e3, .inf, -.Inf, .nan, ~, null, Null, TRUE, yes, no, on, '012', 2026-12-07, 2026-12-07T10:00:00Z, 1_000]\n",
  "block scalars and comments": "cmd: |\n  rm -rf /tmp/*\n  echo done # not a comment\nfolded: >-\n  a\n  b\n# end\n",
  "an empty file": "",
};

describe("the inventory's fast reader", () => {
  for (const [name, text] of Object.entries(samples)) {
    it(`reads ${name} to the same values as yaml`, () => {
      const fast = readQuickly(text);
      expect(fast).not.toBeUndefined();
      // NaN is not equal to itself: compare through a form that keeps it.
      const shape = (v: unknown) => JSON.stringify(v, (_k, x: unknown) => (typeof x === "number" && !Number.isFinite(x) ? String(x) : x));
      expect(shape(fast)).toBe(shape(parse(text) ?? null));
    });
  }

  it("leaves files with aliases, keys written twice or bad syntax to yaml, whose messages name the line", () => {
    expect(readQuickly("a: &x [1]\nb: *x\n")).toBeUndefined();
    expect(readQuickly("a: 1\na: 2\n")).toBeUndefined();
    expect(readQuickly("a: [1\n")).toBeUndefined();
    expect(() => parseInventory("pools:\n  a:\n    quota: 1\n    quota: 2\n", "vms.yml", 1)).toThrow(/line 4, column 5: not valid YAML: Map keys must be unique/);
  });

  it("refuses an alias bomb with yaml's limit instead of expanding it", () => {
    const bomb = ["a: &a [x, x, x, x, x, x, x, x, x, x]"];
    for (let i = 0; i < 12; i++) bomb.push(`${String.fromCharCode(98 + i)}: &${String.fromCharCode(98 + i)} [${Array(10).fill(`*${String.fromCharCode(97 + i)}`).join(", ")}]`);
    expect(() => parseInventory(bomb.join("\n") + "\npools: {}\n", "vms.yml", 1)).toThrow(/alias|Excessive/i);
  });
});
