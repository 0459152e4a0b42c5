/**
 * Aligned plain-text tables: a header row and columns padded with two spaces,
 * the last column left ragged so a long value does not widen every line.
 */
export function table(header: string[], rows: string[][]): string {
  const cells = [header, ...rows.map((r) => r.map(cell))];
  const widths = header.map((_, i) => Math.max(...cells.map((r) => (r[i] ?? "").length)));
  return cells
    .map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!))).join("  ").trimEnd())
    .join("\n");
}

/**
 * A value safe to print in one cell: control characters (a cleanup error may hold
 * newlines or terminal escapes from the VM) become spaces, and long text is cut.
 */
export function cell(value: string): string {
  // eslint-disable-next-line no-control-regex
  const flat = value.replace(/[\u0000-\u001f\u007f-\u009f]+/g, " ").trim();
  return flat.length > 100 ? flat.slice(0, 99) + "…" : flat;
}

/** 2024-05-01 09:30:12Z: sortable, unambiguous, no milliseconds. */
export function when(date: Date | string | null): string {
  if (date === null) return "-";
  return new Date(date).toISOString().replace("T", " ").replace(/\.\d+Z$/, "Z");
}
