/** A small server-made page (sign-in, refusals): no script needed. */
export function plainPage(title: string, body: string): string {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>${escapeHtml(title)} · vmres</title><link rel="stylesheet" href="/assets/style.css"></head><body><main class="plain"><h1>${escapeHtml(title)}</h1>${body}</main></body></html>`;
}

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}
