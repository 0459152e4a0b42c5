/**
 * The word someone probably meant, for "did you mean `checkout`?" after a typo:
 * `/vm` and `vmres` suggest from the same rule. Pure, no I/O.
 */

/** The known word nearest to `word` when it is a near miss (about one edit in three letters), else null. */
export function nearest(word: string, known: readonly string[]): string | null {
  const w = word.toLowerCase();
  const best = known.map((k) => ({ k, d: distance(w, k.toLowerCase()) })).sort((a, b) => a.d - b.d)[0];
  return best && best.d > 0 && best.d <= Math.max(1, Math.floor(best.k.length / 3)) ? best.k : null;
}

/** Edit distance counting a swap of two neighbours as one edit ("drian" → "drain"), for typo suggestions. */
export function distance(a: string, b: string): number {
  if (Math.abs(a.length - b.length) > 3) return Infinity;
  let before: number[] = [];
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) {
      let d = Math.min((prev[j] ?? 0) + 1, (cur[j - 1] ?? 0) + 1, (prev[j - 1] ?? 0) + (a[i - 1] === b[j - 1] ? 0 : 1));
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d = Math.min(d, (before[j - 2] ?? 0) + 1);
      cur[j] = d;
    }
    before = prev;
    prev = cur;
  }
  return prev[b.length] ?? Infinity;
}
