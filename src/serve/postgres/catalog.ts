/**
 * The one place where catalog queries of PostgreSQL clients are rewritten for the lake's engine.
 * The engine answers `pg_catalog` and `information_schema` itself; this rewrite only fixes what
 * clients need and it lacks or answers differently:
 *
 * - the lake's tables (views over their Delta snapshots inside the engine) are presented as
 *   tables: relkind `r` in `pg_class`, `BASE TABLE` in `information_schema.tables`;
 * - the server's own schema (`__ingot`: pinned snapshots, in-memory copies) and the engine's empty
 *   default schema `main` are hidden: the schemas are the lake's layers;
 * - psql's spellings: `OPERATOR(pg_catalog.~)` → `~`, `COLLATE pg_catalog.default` dropped,
 *   `pg_get_userbyid(oid)` → the owner name `ingot`.
 *
 * Covered (tested with psql): `\dn`, `\dt`, `\dt layer.*`, `\dv`, and queries of
 * `information_schema.schemata`, `.tables`, `.columns`. Not covered: psql's `\d table` (it
 * needs `regclass`/`regtype` casts and `pg_attribute` type OIDs the engine does not give).
 */

/** Schemas hidden from catalog queries. */
const HIDDEN = "('__ingot', 'main')";

/** The schemas of the lake's tables (everything but the engine's own and hidden ones). */
const LAKE_NAMESPACES = `(SELECT oid FROM pg_catalog.pg_namespace WHERE nspname NOT IN ('__ingot', 'main', 'pg_catalog', 'information_schema', 'temp', 'system'))`;

/** Replacement relations, by the catalog relation they stand for. */
const RELATIONS: Record<string, { cte: string; sql: string }> = {
  pg_namespace: { cte: '__ingot_pg_namespace', sql: `SELECT * FROM pg_catalog.pg_namespace WHERE nspname NOT IN ${HIDDEN}` },
  pg_class: {
    cte: '__ingot_pg_class',
    sql: `SELECT * REPLACE (CASE WHEN relkind = 'v' AND relnamespace IN ${LAKE_NAMESPACES} THEN 'r' ELSE relkind END AS relkind)
          FROM pg_catalog.pg_class WHERE relnamespace NOT IN (SELECT oid FROM pg_catalog.pg_namespace WHERE nspname IN ${HIDDEN})`,
  },
  tables: {
    cte: '__ingot_tables',
    sql: `SELECT * REPLACE (CASE WHEN table_type = 'VIEW' AND table_schema NOT IN ('pg_catalog', 'information_schema') THEN 'BASE TABLE' ELSE table_type END AS table_type)
          FROM information_schema.tables WHERE table_schema NOT IN ${HIDDEN}`,
  },
  schemata: { cte: '__ingot_schemata', sql: `SELECT * FROM information_schema.schemata WHERE schema_name NOT IN ${HIDDEN}` },
  columns: { cte: '__ingot_columns', sql: `SELECT * FROM information_schema.columns WHERE table_schema NOT IN ${HIDDEN}` },
};

/** Whether `sql` reads the catalog (then every lake table is attached first, and `rewriteCatalog` applies). */
export function readsCatalog(sql: string): boolean {
  return /\b(pg_catalog|information_schema|pg_class|pg_namespace|pg_attribute|pg_type|pg_tables|pg_views|pg_description|pg_index|pg_proc)\b/i.test(sql);
}

/** Replaces each call `name(...)` (balanced parentheses) in `sql` by `value`. */
function replaceCall(sql: string, name: RegExp, value: string): string {
  let out = '';
  let rest = sql;
  for (let m = name.exec(rest); m; m = name.exec(rest)) {
    let depth = 0;
    let end = m.index + m[0].length - 1;
    for (; end < rest.length; end++) {
      if (rest[end] === '(') depth++;
      else if (rest[end] === ')' && --depth === 0) break;
    }
    out += rest.slice(0, m.index) + value;
    rest = rest.slice(end + 1);
  }
  return out + rest;
}

/**
 * `sql` (a SELECT reading the catalog) rewritten as the module comment says: catalog relations
 * replaced by common table expressions put in front of the query (merged into its own WITH).
 */
export function rewriteCatalog(sql: string): string {
  let s = sql
    .replace(/OPERATOR\s*\(\s*pg_catalog\s*\.\s*([^)\s]+)\s*\)/gi, ' $1 ')
    .replace(/\s+COLLATE\s+pg_catalog\s*\.\s*"?default"?/gi, '');
  s = replaceCall(s, /(?:pg_catalog\s*\.\s*)?pg_get_userbyid\s*\(/i, "'ingot'");
  const used: string[] = [];
  for (const [name, r] of Object.entries(RELATIONS)) {
    const schema = name === 'pg_namespace' || name === 'pg_class' ? '(?:pg_catalog\\s*\\.\\s*)?' : 'information_schema\\s*\\.\\s*';
    const re = new RegExp(`(?<![\\w."])${schema}"?${name}"?(?![\\w"(])`, 'gi');
    if (re.test(s)) {
      s = s.replace(re, r.cte);
      used.push(`${r.cte} AS (${r.sql})`);
    }
  }
  if (used.length === 0) return s;
  const w = /^\s*WITH(\s+RECURSIVE)?\s/i.exec(s);
  return w ? `WITH${w[1] ?? ''} ${used.join(', ')}, ${s.slice(w[0].length)}` : `WITH ${used.join(', ')}\n${s}`;
}
