/** Names near a misspelt one, for error messages (selectors, table references). */

/** Up to 3 of `candidates` closest to `query` by edit distance (a dataset's table name alone counts too). */
export function closest(query: string, candidates: readonly string[]): string[] {
  const q = query.toLowerCase();
  const score = (c: string): number => {
    const lower = c.toLowerCase();
    const table = lower.slice(lower.indexOf('.') + 1);
    return Math.min(editDistance(q, lower), editDistance(q, table));
  };
  return candidates
    .map((c) => ({ c, d: score(c) }))
    .sort((a, b) => a.d - b.d || (a.c < b.c ? -1 : a.c > b.c ? 1 : 0))
    .slice(0, 3)
    .map((x) => x.c);
}

/** Levenshtein distance: insertions, deletions and substitutions of one character. */
export function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) {
      row[j] = Math.min(prev[j]! + 1, row[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    prev = row;
  }
  return prev[b.length]!;
}
