/**
 * A file path or object URL (`/data/x*.csv`, `s3://bucket/a?.json`) as an argument of DuckDB's
 * readers (`read_csv`, `read_json`, `read_parquet`) that names exactly that file. DuckDB expands
 * `*`, `?` and `[...]` in every path a reader is given, even in a list of files, so a landing file
 * named `x*.csv` would also read `xa.csv`. Each of those characters becomes a one-character class
 * (`[*]`, `[?]`, `[[]`), which matches only itself; a path without them is returned unchanged.
 * HTTP(S) URLs, which DuckDB never expands, are returned unchanged too.
 */
export function literalPath(p: string): string {
  if (/^https?:\/\//i.test(p)) return p;
  return p.replace(/[*?[]/g, (c) => `[${c}]`);
}
