import { describe, expect, it } from "vitest";
import { tokenize } from "../../src/commands/tokenize.js";

const words = (text: string) => {
  const t = tokenize(text);
  if (!t.ok) throw new Error(`unexpected problem: ${JSON.stringify(t.problem)}`);
  return t.words;
};

describe("the tokenizer", () => {
  it("splits on any run of white space", () => {
    expect(words("  checkout \t gpu\n")).toEqual(["checkout", "gpu"]);
    expect(words("")).toEqual([]);
  });

  it("keeps a quoted value with spaces as one word, in every quote style Slack clients send", () => {
    expect(words('checkout --note "team demo"')).toEqual(["checkout", "--note", "team demo"]);
    expect(words("checkout --note 'team demo'")).toEqual(["checkout", "--note", "team demo"]);
    expect(words("checkout --note \u201cteam demo\u201d")).toEqual(["checkout", "--note", "team demo"]);
    expect(words("checkout --note \u2018team demo\u2019")).toEqual(["checkout", "--note", "team demo"]);
    expect(words("checkout --note `team demo`")).toEqual(["checkout", "--note", "team demo"]);
    // Phones sometimes close with the straight quote, or open with the closing one.
    expect(words("checkout --note \u201cteam demo\"")).toEqual(["checkout", "--note", "team demo"]);
    expect(words("checkout --note \u201dteam demo\u201d")).toEqual(["checkout", "--note", "team demo"]);
  });

  it("reads --flag=value, quoted or not", () => {
    expect(words('checkout --note="team demo" --pool=gpu')).toEqual(["checkout", "--note=team demo", "--pool=gpu"]);
    expect(words("checkout --note=\u201cteam demo\u201d")).toEqual(["checkout", "--note=team demo"]);
  });

  it("keeps an apostrophe inside a word and other quotes inside quotes", () => {
    expect(words("checkout --note don't")).toEqual(["checkout", "--note", "don't"]);
    expect(words(`checkout --note "it's 'fine'"`)).toEqual(["checkout", "--note", "it's 'fine'"]);
  });

  it("keeps an empty quoted value as an empty word", () => {
    expect(words('checkout --note ""')).toEqual(["checkout", "--note", ""]);
  });

  it("reads a dash a phone or macOS made of -- as --", () => {
    expect(words("pool add vm-1 198.51.100.1 \u2014pool gpu \u2013tag a")).toEqual(["pool", "add", "vm-1", "198.51.100.1", "--pool", "gpu", "--tag", "a"]);
    expect(words('checkout --note "\u2014 not a flag"')).toEqual(["checkout", "--note", "\u2014 not a flag"]);
  });

  it("reports an unclosed quote instead of guessing where it ends", () => {
    expect(tokenize('checkout --note "team demo')).toEqual({ ok: false, problem: { code: "unclosed_quote", quote: '"', rest: "team demo" } });
    expect(tokenize("checkin \u201cvm-07")).toMatchObject({ ok: false, problem: { code: "unclosed_quote" } });
    expect(tokenize("checkout 'drop table vms;--")).toMatchObject({ ok: false });
  });
});
