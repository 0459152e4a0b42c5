/** A small server-made page (sign-in, refusals): no script needed. */
export function plainPage(title: string, body: string): string {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>${escapeHtml(title)} · vmres</title><link rel="icon" href="data:,"><link rel="stylesheet" href="/assets/style.css"></head><body><main class="plain"><h1>${escapeHtml(title)}</h1>${body}</main></body></html>`;
}

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/**
 * `next` if it is a path of this site, else `/`: never another site's address
 * (`//evil.example`, `/\evil.example`, `https://…`), so a sign-in link cannot
 * send a person elsewhere once signed in.
 */
export function localPath(next: unknown): string {
  if (typeof next !== "string" || next.length > 2000 || !next.startsWith("/") || next.startsWith("//") || next.startsWith("/\\")) return "/";
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f\\]/.test(next)) return "/";
  const base = "http://vmres.invalid";
  const url = new URL(next, base);
  return url.origin === base ? `${url.pathname}${url.search}${url.hash}` : "/";
}
