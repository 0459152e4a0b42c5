/**
 * Command text → words, as a shell would split it, for Slack, where a command
 * arrives as one string. (The CLI gets argv already split by the shell and
 * must not split it again.)
 *
 * Quotes keep spaces: `--note "team demo"` and `--note="team demo"` give one
 * value `team demo`. Chat clients turn quotes into curly ones, so “…” and ‘…’
 * count as quotes, and so does `…` (people wrap commands in code spans). A
 * quote opens only at the start of a word or after `=`, so an apostrophe
 * (`don't`) is just a letter. A word typed with a leading dash that a phone or
 * macOS turned into — or – is read as `--`. Slack escapes &, < and > even with
 * should_escape off; they are unescaped first.
 */

/** The words, or where quoting went wrong. */
export type Tokens = { ok: true; words: string[] } | { ok: false; problem: { code: "unclosed_quote"; quote: string; rest: string } };

/** Each opening quote and the characters that may close it (phones mix straight and curly). */
const CLOSERS: Readonly<Record<string, string>> = {
  '"': '"“”',
  "“": '"“”',
  "”": '"“”',
  "'": "'‘’",
  "‘": "'‘’",
  "’": "'‘’",
  "`": "`",
};
const DASH = /^[\u2012-\u2015\u2212]/u;

export function unescapeSlack(raw: string): string {
  return raw.replace(/&lt;/g, "<").replace(/&gt;/g, ">").replace(/&amp;/g, "&");
}

export function tokenize(text: string): Tokens {
  const words: string[] = [];
  let word: string | null = null;
  let i = 0;
  while (i < text.length) {
    const ch = text[i] ?? "";
    if (/\s/u.test(ch)) {
      if (word !== null) words.push(word);
      word = null;
      i++;
      continue;
    }
    const closers = CLOSERS[ch];
    const opens = closers !== undefined && (word === null || word.endsWith("="));
    if (opens) {
      let end = i + 1;
      while (end < text.length && !closers.includes(text[end] ?? "")) end++;
      if (end >= text.length) return { ok: false, problem: { code: "unclosed_quote", quote: ch, rest: text.slice(i + 1) } };
      word = (word ?? "") + text.slice(i + 1, end);
      i = end + 1;
      continue;
    }
    if (word === null && DASH.test(ch)) {
      word = "--";
      i++;
      continue;
    }
    word = (word ?? "") + ch;
    i++;
  }
  if (word !== null) words.push(word);
  return { ok: true, words };
}
