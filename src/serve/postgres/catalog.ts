/**
 * The one place where catalog queries of PostgreSQL clients are rewritten for the lake's engine.
 * The engine answers `pg_catalog` and `information_schema` itself; this rewrite only fixes what
 * clients need and it lacks or answers differently:
 *
 * - the lake's tables (views over their Delta snapshots inside the engine) are presented as
 *   tables: relkind `r` in `pg_class`, `BASE TABLE` in `information_schema.tables`;
 * - the server's own schema (`__ingot`: pinned snapshots, in-memory copies) and the engine's empty
 *   default schema `main` are hidden: the schemas are the lake's layers;
 * - psql's and pgjdbc's spellings: `OPERATOR(pg_catalog.~)` → `~`, `COLLATE pg_catalog.default`
 *   dropped, `pg_get_userbyid(oid)` → the owner name `ingot`, `'name'::regclass` → the relation's
 *   OID, other `::reg*` casts → text, `::pg_catalog.<type>` → the type.
 *
 * - `pg_attribute` with PostgreSQL type OIDs (and numeric typmods), `pg_type` with the types the
 *   engine lacks (text, json, arrays...), `format_type` with PostgreSQL's names, `pg_roles` with
 *   one role `ingot`; catalog relations the engine lacks (policies, publications, inheritance,
 *   triggers, rules, extended statistics...) are empty; `pg_get_expr` and the other definition
 *   functions give NULL (the lake's tables have no defaults, constraints or indexes).
 *
 * - `pg_database` has one database, the one the client connected to (`current_database()`);
 *   `current_schema()` is `public`, `session_user` and `current_user` the user name the client gave; `pg_settings` the session's
 *   settings (those `SHOW` answers);
 * - SQLAlchemy's and psycopg's spellings: `to_regtype(name)`, `pg_get_serial_sequence`,
 *   `json_build_object` (only over rows the lake never has), `CAST(x AS REGCLASS)`; every other
 *   catalog relation of the engine (qualified or bare: the reader refuses bare `pg_*` names) is
 *   passed through a CTE so that `pg_catalog.relation.column` binds.
 *
 * - what the Delta snapshots say (`LakeTableFacts`): `pg_attribute.attnotnull` and
 *   `information_schema.columns.is_nullable` from each field's `nullable`; `pg_description`
 *   (and `col_description`, `obj_description`) from each field's `comment` metadata and the
 *   table's `description`; `pg_stat_user_tables.n_live_tup` and `pg_class.reltuples` from the
 *   files' `numRecords`; `pg_table_size` and its kin from the files' sizes;
 * - Metabase's spellings: PostgreSQL's regex operators `~`, `!~`, `~*`, `!~*` (a match anywhere;
 *   the engine's `~` must match the whole text), `format('%I.%I', ...)`, a computed
 *   `CAST(name AS REGCLASS)`; `information_schema.columns` with `udt_schema`/`udt_name` (the
 *   PostgreSQL type names) and `is_identity`; `pg_tables` listing the lake's tables (not
 *   `pg_views`); `pg_matviews`, `pg_index`, `pg_constraint`, `pg_opclass` empty with
 *   PostgreSQL's columns.
 *
 * Covered (tested with the real clients, docs/postgres-catalog.md lists the queries): psql `\dn`,
 * `\dt`, `\dt+`, `\d layer.table`; pgjdbc `DatabaseMetaData.getSchemas/getTables/getColumns/
 * getPrimaryKeys/getImportedKeys/getIndexInfo` and Metabase's sync queries; SQLAlchemy's
 * inspector (Superset's sync); queries of `information_schema.schemata`, `.tables`, `.columns`.
 */

import { OID, pgTypeOf } from './types.js';

/** The engine's type names whose PostgreSQL OIDs `pg_attribute` gets (their lists too). */
const ENGINE_TYPES = ['BOOLEAN', 'TINYINT', 'SMALLINT', 'INTEGER', 'BIGINT', 'HUGEINT', 'UTINYINT', 'USMALLINT', 'UINTEGER', 'UBIGINT', 'FLOAT', 'DOUBLE',
  'VARCHAR', 'BLOB', 'DATE', 'TIME', 'TIMESTAMP', 'TIMESTAMP WITH TIME ZONE', 'INTERVAL', 'UUID', 'JSON'];

/** SQL of the PostgreSQL type OID of a column whose engine type name is `col` (as `types.ts` maps it). */
function oidCase(col: string): string {
  const whens = ENGINE_TYPES.flatMap((t) => [[t, pgTypeOf(t).oid], [`${t}[]`, pgTypeOf(`${t}[]`).oid]] as [string, number][])
    .map(([t, oid]) => `WHEN '${t}' THEN ${oid}`).join(' ');
  return `CASE WHEN ${col} LIKE 'DECIMAL(%' THEN ${OID.numeric} WHEN ${col} LIKE 'STRUCT%' OR ${col} LIKE 'MAP%' OR ${col} LIKE 'UNION%' THEN ${OID.json} ELSE CASE ${col} ${whens} ELSE ${OID.text} END END`;
}

/** PostgreSQL's type names (`pg_type.typname`) of the OIDs `types.ts` maps to. */
const TYPNAMES: [number, string][] = [[16, 'bool'], [17, 'bytea'], [20, 'int8'], [21, 'int2'], [23, 'int4'], [25, 'text'], [114, 'json'], [700, 'float4'], [701, 'float8'],
  [1043, 'varchar'], [1082, 'date'], [1083, 'time'], [1114, 'timestamp'], [1184, 'timestamptz'], [1186, 'interval'], [1700, 'numeric'], [2950, 'uuid']];

/** SQL of the `typname` of the type OID `oid` (arrays: `_` and the element's name, as PostgreSQL names them). */
function typnameCase(oid: string): string {
  const arrays = EXTRA_TYPES.filter(([, name]) => name.startsWith('_')).map(([o, name]) => [o, name] as [number, string]);
  return `CASE ${oid} ${[...TYPNAMES, ...arrays].map(([o, n]) => `WHEN ${o} THEN '${n}'`).join(' ')} ELSE 'text' END`;
}

/** Types `pg_type` lacks in the engine, added as copies of its `varchar` row: [oid, name, length, element]. */
const EXTRA_TYPES: [number, string, number, number][] = [
  [OID.text, 'text', -1, 0], [OID.json, 'json', -1, 0], [OID.interval, 'interval', 16, 0], [OID.time, 'time', 8, 0],
  [1000, '_bool', -1, 16], [1005, '_int2', -1, 21], [1007, '_int4', -1, 23], [1016, '_int8', -1, 20], [1009, '_text', -1, 25], [1015, '_varchar', -1, 1043],
  [1021, '_float4', -1, 700], [1022, '_float8', -1, 701], [1182, '_date', -1, 1082], [1115, '_timestamp', -1, 1114], [1185, '_timestamptz', -1, 1184],
  [1231, '_numeric', -1, 1700], [199, '_json', -1, 114], [2951, '_uuid', -1, 2950], [1001, '_bytea', -1, 17],
];

/** The engine's own `pg_catalog` relations passed through as they are (the others are replaced above). */
const ENGINE_CATALOG = ['pg_am', 'pg_attrdef', 'pg_depend', 'pg_enum', 'pg_indexes', 'pg_prepared_statements', 'pg_proc', 'pg_sequence', 'pg_sequences', 'pg_tablespace'];

/** Schemas hidden from catalog queries. */
const HIDDEN = "('__ingot', 'main')";

/** The schemas of the lake's tables (everything but the engine's own and hidden ones). */
const LAKE_NAMESPACES = `(SELECT oid FROM pg_catalog.pg_namespace WHERE nspname NOT IN ('__ingot', 'main', 'pg_catalog', 'information_schema', 'temp', 'system'))`;

/** An empty relation with `columns` (`name TYPE`), for catalog relations the engine lacks and the lake never has rows in. */
function empty(columns: string): string {
  return `SELECT ${columns.split(',').map((c) => { const [n, ...t] = c.trim().split(' '); return `NULL::${t.join(' ')} AS ${n}`; }).join(', ')} WHERE false`;
}

/** Catalog relations the engine lacks or has without PostgreSQL's columns, empty here: the lake's tables have no policies, publications, inheritance, triggers, rules, indexes or constraints. */
const EMPTY: Record<string, string> = {
  pg_policy: 'oid BIGINT, polname VARCHAR, polrelid BIGINT, polcmd VARCHAR, polpermissive BOOLEAN, polroles BIGINT[], polqual VARCHAR, polwithcheck VARCHAR',
  pg_statistic_ext: 'oid BIGINT, stxrelid BIGINT, stxname VARCHAR, stxnamespace BIGINT, stxowner BIGINT, stxstattarget INTEGER, stxkeys INTEGER[], stxkind VARCHAR[], stxexprs VARCHAR',
  pg_publication: 'oid BIGINT, pubname VARCHAR, pubowner BIGINT, puballtables BOOLEAN, pubinsert BOOLEAN, pubupdate BOOLEAN, pubdelete BOOLEAN, pubtruncate BOOLEAN, pubviaroot BOOLEAN',
  pg_publication_rel: 'oid BIGINT, prpubid BIGINT, prrelid BIGINT, prqual VARCHAR, prattrs INTEGER[]',
  pg_publication_namespace: 'oid BIGINT, pnpubid BIGINT, pnnspid BIGINT',
  pg_inherits: 'inhrelid BIGINT, inhparent BIGINT, inhseqno INTEGER, inhdetachpending BOOLEAN',
  pg_trigger: 'oid BIGINT, tgrelid BIGINT, tgparentid BIGINT, tgname VARCHAR, tgfoid BIGINT, tgtype INTEGER, tgenabled VARCHAR, tgisinternal BOOLEAN, tgconstrrelid BIGINT, tgconstrindid BIGINT, tgconstraint BIGINT, tgdeferrable BOOLEAN, tginitdeferred BOOLEAN, tgnargs INTEGER, tgattr INTEGER[], tgargs VARCHAR, tgqual VARCHAR',
  pg_rewrite: 'oid BIGINT, rulename VARCHAR, ev_class BIGINT, ev_type VARCHAR, ev_enabled VARCHAR, is_instead BOOLEAN, ev_qual VARCHAR, ev_action VARCHAR',
  pg_foreign_table: 'ftrelid BIGINT, ftserver BIGINT, ftoptions VARCHAR[]',
  pg_partitioned_table: 'partrelid BIGINT, partstrat VARCHAR, partnatts INTEGER, partdefid BIGINT, partattrs INTEGER[]',
  pg_index: 'indexrelid BIGINT, indrelid BIGINT, indnatts INTEGER, indnkeyatts INTEGER, indisunique BOOLEAN, indnullsnotdistinct BOOLEAN, indisprimary BOOLEAN, indisexclusion BOOLEAN, indimmediate BOOLEAN, indisclustered BOOLEAN, indisvalid BOOLEAN, indcheckxmin BOOLEAN, indisready BOOLEAN, indislive BOOLEAN, indisreplident BOOLEAN, indkey INTEGER[], indcollation BIGINT[], indclass BIGINT[], indoption INTEGER[], indexprs VARCHAR, indpred VARCHAR',
  pg_constraint: 'oid BIGINT, conname VARCHAR, connamespace BIGINT, contype VARCHAR, condeferrable BOOLEAN, condeferred BOOLEAN, convalidated BOOLEAN, conrelid BIGINT, contypid BIGINT, conindid BIGINT, conparentid BIGINT, confrelid BIGINT, confupdtype VARCHAR, confdeltype VARCHAR, confmatchtype VARCHAR, conislocal BOOLEAN, coninhcount INTEGER, connoinherit BOOLEAN, conkey INTEGER[], confkey INTEGER[], conpfeqop BIGINT[], conppeqop BIGINT[], conffeqop BIGINT[], confdelsetcols INTEGER[], conexclop BIGINT[], conbin VARCHAR',
  pg_opclass: 'oid BIGINT, opcmethod BIGINT, opcname VARCHAR, opcnamespace BIGINT, opcowner BIGINT, opcfamily BIGINT, opcintype BIGINT, opcdefault BOOLEAN, opckeytype BIGINT',
  pg_matviews: 'schemaname VARCHAR, matviewname VARCHAR, matviewowner VARCHAR, tablespace VARCHAR, hasindexes BOOLEAN, ispopulated BOOLEAN, definition VARCHAR',
};

/** Replacement relations, by the catalog relation they stand for. */
const RELATIONS: Record<string, { cte: string; sql: string }> = {
  ...Object.fromEntries(Object.entries(EMPTY).map(([name, columns]) => [name, { cte: `__ingot_${name}`, sql: empty(columns) }])),
  pg_collation: { cte: '__ingot_pg_collation', sql: 'SELECT *, NULL::BIGINT AS collnamespace FROM pg_catalog.pg_collation' },
  pg_roles: { cte: '__ingot_pg_roles', sql: "SELECT 10::BIGINT AS oid, 'ingot' AS rolname, false AS rolsuper, false AS rolinherit, false AS rolcreaterole, false AS rolcreatedb, true AS rolcanlogin, false AS rolreplication, -1 AS rolconnlimit, NULL::VARCHAR AS rolvaliduntil, false AS rolbypassrls, NULL::VARCHAR[] AS rolconfig" },
  pg_namespace: { cte: '__ingot_pg_namespace', sql: `SELECT * FROM pg_catalog.pg_namespace WHERE nspname NOT IN ${HIDDEN}` },
  pg_class: {
    cte: '__ingot_pg_class',
    sql: `SELECT p.* REPLACE (CASE WHEN p.relkind = 'v' AND p.relnamespace IN ${LAKE_NAMESPACES} THEN 'r' ELSE p.relkind END AS relkind,
              NULL::VARCHAR[] AS reloptions,
              coalesce((SELECT CAST(t.row_count AS FLOAT) FROM __ingot_lake_tables t JOIN pg_catalog.pg_namespace n ON n.nspname = t.schema_name
                        WHERE n.oid = p.relnamespace AND t.table_name = p.relname), p.reltuples) AS reltuples), false AS relforcerowsecurity
          FROM pg_catalog.pg_class p WHERE p.relnamespace NOT IN (SELECT oid FROM pg_catalog.pg_namespace WHERE nspname IN ${HIDDEN})`,
  },
  tables: {
    cte: '__ingot_tables',
    sql: `SELECT * REPLACE (CASE WHEN table_type = 'VIEW' AND table_schema NOT IN ('pg_catalog', 'information_schema') THEN 'BASE TABLE' ELSE table_type END AS table_type)
          FROM information_schema.tables WHERE table_schema NOT IN ${HIDDEN}`,
  },
  pg_attribute: {
    cte: '__ingot_pg_attribute',
    sql: `SELECT a.* REPLACE (
            coalesce(${oidCase('c.data_type')}, a.atttypid) AS atttypid,
            CASE WHEN c.data_type LIKE 'DECIMAL(%' THEN ((c.numeric_precision << 16) | c.numeric_scale) + 4 ELSE -1 END AS atttypmod,
            coalesce(l.not_null, a.attnotnull) AS attnotnull)
          FROM pg_catalog.pg_attribute a LEFT JOIN duckdb_columns() c ON c.table_oid = a.attrelid AND c.column_index = a.attnum
          LEFT JOIN __ingot_lake_columns l ON l.schema_name = c.schema_name AND l.table_name = c.table_name AND l.column_name = c.column_name`,
  },
  pg_type: {
    cte: '__ingot_pg_type',
    sql: `SELECT * FROM pg_catalog.pg_type UNION ALL ${EXTRA_TYPES.map(([oid, name, len, elem]) =>
      `SELECT * REPLACE (${oid} AS oid, '${name}' AS typname, ${len} AS typlen, ${elem} AS typelem, '${elem ? 'A' : name === 'text' ? 'S' : 'U'}' AS typcategory) FROM pg_catalog.pg_type WHERE oid = ${OID.varchar}`).join(' UNION ALL ')}`,
  },
  pg_tables: {
    cte: '__ingot_pg_tables',
    sql: `SELECT schemaname, tablename, tableowner, tablespace, hasindexes, hasrules, hastriggers, false AS rowsecurity FROM pg_catalog.pg_tables WHERE schemaname NOT IN ${HIDDEN}
          UNION ALL SELECT schemaname, viewname, 'ingot', NULL, false, false, false, false FROM pg_catalog.pg_views
          WHERE schemaname NOT IN ('__ingot', 'main', 'pg_catalog', 'information_schema', 'temp', 'system')`,
  },
  pg_views: { cte: '__ingot_pg_views', sql: `SELECT * FROM pg_catalog.pg_views WHERE schemaname IN ('pg_catalog', 'information_schema')` },
  schemata: { cte: '__ingot_schemata', sql: `SELECT * FROM information_schema.schemata WHERE schema_name NOT IN ${HIDDEN}` },
  columns: {
    cte: '__ingot_columns',
    sql: `SELECT c.* REPLACE (CASE WHEN l.not_null THEN 'NO' ELSE c.is_nullable END AS is_nullable, coalesce(l.comment, c.column_comment) AS column_comment,
            'pg_catalog' AS udt_schema, ${typnameCase(oidCase('c.data_type'))} AS udt_name, 'NO' AS is_identity, 'NEVER' AS is_generated, c.table_catalog AS udt_catalog)
          FROM information_schema.columns c LEFT JOIN __ingot_lake_columns l ON l.schema_name = c.table_schema AND l.table_name = c.table_name AND l.column_name = c.column_name
          WHERE c.table_schema NOT IN ${HIDDEN}`,
  },
};

/**
 * What a lake table's Delta snapshot says that the engine's view of it loses: each column's
 * nullability and description (the schema field's `nullable` and `metadata.comment`, "Schema
 * Serialization Format" of the Delta protocol), the table's description (`metaData.description`)
 * its row count (`numRecords` of its live files; null when a file lacks statistics) and size.
 */
export interface LakeTableFacts {
  schema: string;
  table: string;
  description: string | null;
  rows: number | null;
  /** Bytes of its live data files. */
  bytes: number;
  columns: { name: string; nullable: boolean; comment: string | null }[];
}

/** A SQL string literal (NULL for null). */
const lit = (v: string | null): string => (v === null ? 'NULL' : `'${v.replace(/'/g, "''")}'`);

/** The relations built from the lake's facts, which others below refer to (so they come first in the WITH list). */
function factRelations(facts: LakeTableFacts[]): Record<string, { cte: string; sql: string }> {
  const columns = facts.flatMap((t) => t.columns.map((c) => `(${lit(t.schema)}, ${lit(t.table)}, ${lit(c.name)}, ${c.nullable ? 'false' : 'true'}, ${lit(c.comment)})`));
  const tables = facts.map((t) => `(${lit(t.schema)}, ${lit(t.table)}, ${lit(t.description)}, ${t.rows === null ? 'NULL::BIGINT' : `${t.rows}::BIGINT`}, ${t.bytes}::BIGINT)`);
  return {
    __ingot_lake_columns: {
      cte: '__ingot_lake_columns',
      sql: columns.length ? `SELECT * FROM (VALUES ${columns.join(', ')}) AS t(schema_name, table_name, column_name, not_null, comment)` : empty('schema_name VARCHAR, table_name VARCHAR, column_name VARCHAR, not_null BOOLEAN, comment VARCHAR'),
    },
    __ingot_lake_tables: {
      cte: '__ingot_lake_tables',
      sql: tables.length ? `SELECT * FROM (VALUES ${tables.join(', ')}) AS t(schema_name, table_name, description, row_count, bytes)` : empty('schema_name VARCHAR, table_name VARCHAR, description VARCHAR, row_count BIGINT, bytes BIGINT'),
    },
  };
}

/** The OID `pg_description.classoid` gives the lake's tables and columns: that of `pg_class` itself. */
const PG_CLASS_OID = "(SELECT min(oid) FROM pg_catalog.pg_class WHERE relname = 'pg_class')";

/** Relations answered from the lake's facts (see `LakeTableFacts`). */
const FACT_RELATIONS: Record<string, { cte: string; sql: string }> = {
  pg_description: {
    cte: '__ingot_pg_description',
    sql: `SELECT c.table_oid AS objoid, ${PG_CLASS_OID} AS classoid, c.column_index AS objsubid, l.comment AS description
          FROM duckdb_columns() c JOIN __ingot_lake_columns l ON l.schema_name = c.schema_name AND l.table_name = c.table_name AND l.column_name = c.column_name
          WHERE l.comment IS NOT NULL
          UNION ALL
          SELECT DISTINCT c.table_oid, ${PG_CLASS_OID}, 0, t.description
          FROM duckdb_columns() c JOIN __ingot_lake_tables t ON t.schema_name = c.schema_name AND t.table_name = c.table_name
          WHERE t.description IS NOT NULL`,
  },
  pg_stat_user_tables: {
    cte: '__ingot_pg_stat_user_tables',
    sql: `SELECT DISTINCT c.table_oid AS relid, t.schema_name AS schemaname, t.table_name AS relname, 0::BIGINT AS seq_scan, 0::BIGINT AS seq_tup_read,
            0::BIGINT AS idx_scan, 0::BIGINT AS idx_tup_fetch, t.row_count AS n_tup_ins, 0::BIGINT AS n_tup_upd, 0::BIGINT AS n_tup_del,
            t.row_count AS n_live_tup, 0::BIGINT AS n_dead_tup, NULL::TIMESTAMPTZ AS last_vacuum, NULL::TIMESTAMPTZ AS last_autovacuum,
            NULL::TIMESTAMPTZ AS last_analyze, NULL::TIMESTAMPTZ AS last_autoanalyze
          FROM __ingot_lake_tables t JOIN duckdb_columns() c ON t.schema_name = c.schema_name AND t.table_name = c.table_name`,
  },
};

/** Whether `sql` reads the catalog (then every lake table is attached first, and `rewriteCatalog` applies). */
export function readsCatalog(sql: string): boolean {
  return /\b(pg_catalog|information_schema|pg_class|pg_namespace|pg_attribute|pg_type|pg_tables|pg_views|pg_description|pg_index|pg_proc|pg_roles|pg_database|pg_settings|pg_constraint|pg_matviews|pg_stat_user_tables|col_description|obj_description|pg_enum|pg_table_size|pg_total_relation_size|pg_relation_size|to_regtype|current_schema|current_database|session_user|current_user)\b/i.test(sql);
}

/** SQL of `format_type(oid, typmod)` for the types `types.ts` maps to (PostgreSQL's names). */
function formatType(oid: string, typmod: string): string {
  const names: [number, string][] = [[16, 'boolean'], [17, 'bytea'], [20, 'bigint'], [21, 'smallint'], [23, 'integer'], [25, 'text'], [114, 'json'],
    [700, 'real'], [701, 'double precision'], [1043, 'character varying'], [1082, 'date'], [1083, 'time without time zone'],
    [1114, 'timestamp without time zone'], [1184, 'timestamp with time zone'], [1186, 'interval'], [2950, 'uuid'],
    [1000, 'boolean[]'], [1005, 'smallint[]'], [1007, 'integer[]'], [1016, 'bigint[]'], [1009, 'text[]'], [1021, 'real[]'], [1022, 'double precision[]'],
    [1182, 'date[]'], [1115, 'timestamp without time zone[]'], [1185, 'timestamp with time zone[]'], [1231, 'numeric[]'], [199, 'json[]'], [2951, 'uuid[]'], [1001, 'bytea[]']];
  return `(CASE WHEN (${oid}) IS NULL THEN NULL WHEN (${oid}) = 1700 THEN CASE WHEN (${typmod}) >= 4 THEN 'numeric(' || (((${typmod}) - 4) >> 16) || ',' || (((${typmod}) - 4) & 65535) || ')' ELSE 'numeric' END `
    + `ELSE CASE (${oid}) ${names.map(([o, n]) => `WHEN ${o} THEN '${n}'`).join(' ')} ELSE '???' END END)`;
}

/** Splits the text of a call's arguments at top-level commas. */
function splitArgs(args: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let start = 0;
  let quote = false;
  for (let i = 0; i < args.length; i++) {
    const ch = args[i];
    if (ch === "'") quote = !quote;
    else if (!quote && ch === '(') depth++;
    else if (!quote && ch === ')') depth--;
    else if (!quote && ch === ',' && depth === 0) {
      out.push(args.slice(start, i));
      start = i + 1;
    }
  }
  out.push(args.slice(start));
  return out.map((a) => a.trim());
}

/** Replaces each call `name(...)` (balanced parentheses) in `sql` by `value` (or what `value` makes of its arguments). */
function replaceCall(sql: string, name: RegExp, value: string | ((args: string[]) => string)): string {
  let out = '';
  let rest = sql;
  for (let m = name.exec(rest); m; m = name.exec(rest)) {
    let depth = 0;
    let end = m.index + m[0].length - 1;
    for (; end < rest.length; end++) {
      if (rest[end] === '(') depth++;
      else if (rest[end] === ')' && --depth === 0) break;
    }
    const args = rest.slice(m.index + m[0].length, end);
    let replacement = typeof value === 'string' ? value : value(splitArgs(args));
    // parameters only the replaced call used stay referenced, so the statement keeps its parameter count
    const params = [...args.matchAll(/\$\d+/g)].map((p) => p[0]).filter((p) => !replacement.includes(p));
    if (params.length) replacement = `(CASE WHEN (${params.map((p) => `CAST(${p} AS VARCHAR)`).join(' || ')}) IS NULL OR true THEN ${replacement} END)`;
    out += rest.slice(0, m.index) + replacement;
    rest = rest.slice(end + 1);
  }
  return out + rest;
}

/** SQL for PostgreSQL's `format(template, args...)` with a literal template (%s, %I, %L, %%); `args[0]` is the template. */
function formatCall(args: string[]): string {
  const template = args[0]!.slice(1, -1).replace(/''/g, "'");
  const parts: string[] = [];
  let next = 1;
  let text = '';
  for (let i = 0; i < template.length; i++) {
    const ch = template[i]!;
    if (ch !== '%' || i + 1 >= template.length) {
      text += ch;
      continue;
    }
    const spec = template[++i]!;
    if (spec === '%') {
      text += '%';
      continue;
    }
    if (text) parts.push(`'${text.replace(/'/g, "''")}'`);
    text = '';
    const v = `CAST(${args[next++] ?? 'NULL'} AS VARCHAR)`;
    parts.push(spec === 'I' ? `(CASE WHEN regexp_full_match(${v}, '[a-z_][a-z0-9_$]*') THEN ${v} ELSE '"' || replace(${v}, '"', '""') || '"' END)`
      : spec === 'L' ? `coalesce('''' || replace(${v}, '''', '''''') || '''', 'NULL')` : `coalesce(${v}, '')`);
  }
  if (text || parts.length === 0) parts.push(`'${text.replace(/'/g, "''")}'`);
  return `(${parts.join(' || ')})`;
}

/** Replaces each `CAST(<expr> AS <type>)` (balanced parentheses, `type` a word) in `sql` by `value(<expr>)`. */
function replaceCast(sql: string, type: string, value: (expr: string) => string): string {
  const re = /\bCAST\s*\(/gi;
  let out = '';
  let from = 0;
  for (let m = re.exec(sql); m; m = re.exec(sql)) {
    let depth = 0;
    let end = m.index + m[0].length - 1;
    let quote = false;
    for (; end < sql.length; end++) {
      const ch = sql[end];
      if (ch === "'") quote = !quote;
      else if (!quote && ch === '(') depth++;
      else if (!quote && ch === ')' && --depth === 0) break;
    }
    const inner = sql.slice(m.index + m[0].length, end);
    const t = new RegExp(`^([\\s\\S]*)\\bAS\\s+(?:pg_catalog\\s*\\.\\s*)?${type}\\s*$`, 'i').exec(inner);
    if (!t) continue;
    out += sql.slice(from, m.index) + value(replaceCast(t[1]!.trim(), type, value));
    from = end + 1;
    re.lastIndex = end + 1;
  }
  return out + sql.slice(from);
}

/**
 * `sql` (a SELECT reading the catalog) rewritten as the module comment says: catalog relations
 * replaced by common table expressions put in front of the query (merged into its own WITH).
 */
export function rewriteCatalog(sql: string, session: { database: string; settings: ReadonlyMap<string, string>; tables?: LakeTableFacts[] } = { database: 'ingot', settings: new Map() }): string {
  // the session's own relations: its database, its settings
  const sessionRelations: Record<string, { cte: string; sql: string }> = {
    pg_database: { cte: '__ingot_pg_database', sql: `SELECT * REPLACE (${lit(session.database)} AS datname) FROM pg_catalog.pg_database LIMIT 1` },
    pg_settings: {
      cte: '__ingot_pg_settings',
      sql: session.settings.size
        ? `SELECT name, setting, NULL::VARCHAR AS unit, 'ingot' AS category, '' AS short_desc, NULL::VARCHAR AS extra_desc, 'user' AS context, 'string' AS vartype,
             'session' AS source, NULL::VARCHAR AS min_val, NULL::VARCHAR AS max_val, NULL::VARCHAR[] AS enumvals, setting AS boot_val, setting AS reset_val,
             NULL::VARCHAR AS sourcefile, NULL::INTEGER AS sourceline, false AS pending_restart
           FROM (VALUES ${[...session.settings].map(([k, v]) => `(${lit(k)}, ${lit(v)})`).join(', ')}) AS t(name, setting)`
        : empty('name VARCHAR, setting VARCHAR'),
    },
  };
  let s = sql
    .replace(/OPERATOR\s*\(\s*pg_catalog\s*\.\s*([^)\s]+)\s*\)/gi, ' $1 ')
    .replace(/\s+COLLATE\s+pg_catalog\s*\.\s*"?default"?/gi, '');
  s = replaceCall(s, /(?:pg_catalog\s*\.\s*)?pg_get_userbyid\s*\(/i, "'ingot'");
  // defaults, constraints and index definitions: the lake's tables have none
  s = replaceCall(s, /(?:pg_catalog\s*\.\s*)?pg_get_(?:expr|constraintdef|indexdef|viewdef|triggerdef|statisticsobjdef_columns)\s*\(/i, 'NULL::VARCHAR');
  s = replaceCall(s, /(?:pg_catalog\s*\.\s*)?pg_relation_is_publishable\s*\(/i, 'false');
  s = replaceCall(s, /(?:pg_catalog\s*\.\s*)?current_database\s*\(/i, lit(session.database));
  s = replaceCall(s, /(?:pg_catalog\s*\.\s*)?current_schema\s*\(/i, "'public'");
  s = s.replace(/(?<![\w."'])(session_user|current_user)(?![\w"'(])/gi, lit(session.settings.get('session_authorization') ?? 'ingot'));
  // PostgreSQL's regular-expression operators match anywhere in the text (the engine's `~` must match all of it)
  s = s.replace(/((?:"[^"]+"|\b[A-Za-z_]\w*)(?:\s*\.\s*(?:"[^"]+"|[A-Za-z_]\w*))*)\s*(!?)~(\*?)\s*('(?:[^']|'')*')/g,
    (_m, lhs: string, not: string, ci: string, pattern: string) => `${not ? 'NOT ' : ''}regexp_matches(${lhs}, ${pattern}${ci ? ", 'i'" : ''})`);
  // relation sizes: a lake table's live files (0 for the engine's own relations)
  s = replaceCall(s, /(?:pg_catalog\s*\.\s*)?pg_(?:table|total_relation|relation)_size\s*\(/i, (args) =>
    `coalesce((SELECT min(t.bytes) FROM __ingot_lake_tables t JOIN pg_catalog.pg_namespace n ON n.nspname = t.schema_name JOIN pg_catalog.pg_class c ON c.relnamespace = n.oid AND c.relname = t.table_name WHERE c.oid = (${args[0]})), 0)::BIGINT`);
  s = replaceCall(s, /(?:pg_catalog\s*\.\s*)?pg_indexes_size\s*\(/i, '0::BIGINT');
  // descriptions: from pg_description, which the lake's schemas fill (see FACT_RELATIONS)
  s = replaceCall(s, /(?:pg_catalog\s*\.\s*)?col_description\s*\(/i, (args) =>
    `(SELECT min(description) FROM pg_catalog.pg_description WHERE objoid = (${args[0]}) AND objsubid = (${args[1]}))`);
  s = replaceCall(s, /(?:pg_catalog\s*\.\s*)?obj_description\s*\(/i, (args) =>
    `(SELECT min(description) FROM pg_catalog.pg_description WHERE objoid = (${args[0]}) AND objsubid = 0)`);
  s = replaceCall(s, /(?:pg_catalog\s*\.\s*)?shobj_description\s*\(/i, 'NULL::VARCHAR');
  // format('%I.%I', a, b) (Metabase's qualified names): %I quotes an identifier only when it needs quotes, %s and %L as PostgreSQL's
  s = replaceCall(s, /(?<![\w.])format\s*\(\s*(?=')/i, (args) => formatCall(args));
  // CAST(<text> AS REGCLASS) of a computed name: the OID of the relation so named (the engine's own relations are
  // in no namespace pg_namespace lists: they count as pg_catalog's)
  s = replaceCast(s, 'REGCLASS', (expr) =>
    `(SELECT min(c.oid) FROM pg_catalog.pg_class c LEFT JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace WHERE replace(CAST(${expr} AS VARCHAR), '"', '') IN (coalesce(n.nspname, 'pg_catalog') || '.' || c.relname, c.relname))`);
  // SQLAlchemy's get_columns: identity columns (none here), collations
  s = replaceCall(s, /(?:pg_catalog\s*\.\s*)?pg_get_serial_sequence\s*\(/i, 'NULL::VARCHAR');
  s = replaceCall(s, /(?:pg_catalog\s*\.\s*)?pg_collation_is_visible\s*\(/i, 'true');
  s = replaceCall(s, /(?:pg_catalog\s*\.\s*)?json_build_object\s*\(/i, 'NULL::VARCHAR');
  s = s.replace(/\bAS\s+REG(?:CLASS|TYPE|PROC)\s*\)/gi, 'AS VARCHAR)').replace(/\bAS\s+OID\s*\)/gi, 'AS BIGINT)');
  // psycopg's TypeInfo.fetch (SQLAlchemy asks for hstore): a type's OID by its name
  s = replaceCall(s, /(?:pg_catalog\s*\.\s*)?to_regtype\s*\(/i, (args) => `(SELECT min(oid) FROM pg_catalog.pg_type WHERE typname = ${args[0]})`);
  s = replaceCall(s, /(?:pg_catalog\s*\.\s*)?array_upper\s*\(/i, (args) => `len(${args[0]})`);
  // psql's publication columns: generate_series(...) s ... prattrs[s] (the engine reads `s` as the row)
  s = s.replace(/\bprattrs\[s\]/g, 'prattrs[s.generate_series]');
  s = replaceCall(s, /(?:pg_catalog\s*\.\s*)?format_type\s*\(/i, (args) => formatType(args[0] ?? 'NULL', args[1] ?? '-1'));
  // pgjdbc's getPrimaryKeys expands constraint keys; the lake's tables have none
  s = replaceCall(s, /\(\s*information_schema\s*\.\s*_pg_expandarray\s*\(/i, '(1');
  s = s.replace(/\(1\s*\)\s*\.\s*[nx]\b/gi, '1');
  s = replaceCall(s, /information_schema\s*\.\s*_pg_expandarray\s*\(/i, "{'x': 1, 'n': 1}");
  // object identifier casts: a relation's OID by its name; the other reg* types as text
  s = s.replace(/'((?:[^']|'')*)'\s*::\s*(?:pg_catalog\s*\.\s*)?regclass\b/gi, (_m, name: string) =>
    `(SELECT min(oid) FROM pg_catalog.pg_class WHERE relname = '${name.replace(/^.*\./, '')}')`);
  s = s.replace(/::\s*(?:pg_catalog\s*\.\s*)?reg(?:type|proc|procedure|oper|operator|namespace|role|class)\b(\s*::\s*(?:pg_catalog\s*\.\s*)?text\b)?/gi, '::VARCHAR');
  s = s.replace(/::\s*pg_catalog\s*\.\s*(text|int2|int4|int8|bool|oid|name|varchar|char)\b/gi, (_m, t: string) => `::${t.toLowerCase() === 'name' || t.toLowerCase() === 'char' ? 'VARCHAR' : t.toLowerCase() === 'oid' ? 'BIGINT' : t}`);
  // functions called as pg_catalog.f(...): the engine resolves them unqualified (its own pg_catalog macros included)
  s = s.replace(/\bpg_catalog\s*\.\s*(\w+)\s*\(/gi, '$1(');
  const used: string[] = [];
  for (const [name, r] of Object.entries({ ...RELATIONS, ...FACT_RELATIONS, ...sessionRelations })) {
    const schema = name.startsWith('pg_') ? '(?:pg_catalog\\s*\\.\\s*)?' : 'information_schema\\s*\\.\\s*';
    const re = new RegExp(`(?<![\\w."'])${schema}"?${name}"?(?![\\w"'(])`, 'gi');
    if (re.test(s)) {
      s = s.replace(re, r.cte);
      used.push(`${r.cte} AS (${r.sql})`);
    }
  }
  // the engine's other catalog relations as they are, so that column references spelled
  // `pg_catalog.relation.column` bind as in PostgreSQL
  // (qualified or not: the reader refuses the engine's catalog relations by their bare names)
  const others = new Set([
    ...[...s.matchAll(/(?<![\w."'])pg_catalog\s*\.\s*(pg_\w+)\b(?!\s*\()/gi)].map((m) => m[1]!.toLowerCase()),
    ...[...s.matchAll(/(?<![\w."'])(pg_\w+)\b(?!\s*\()/gi)].map((m) => m[1]!.toLowerCase()).filter((n) => ENGINE_CATALOG.includes(n)),
  ]);
  for (const name of others) {
    s = s.replace(new RegExp(`(?<![\\w."'])(?:pg_catalog\\s*\\.\\s*)?${name}\\b(?!\\s*\\()`, 'gi'), `__ingot_${name}`);
    used.push(`__ingot_${name} AS (SELECT * FROM pg_catalog.${name})`);
  }
  if (used.length === 0) return s;
  // the lake's facts first: the relations above read them
  used.unshift(...Object.values(factRelations(session.tables ?? [])).map((r) => `${r.cte} AS (${r.sql})`));
  const w = /^\s*WITH(\s+RECURSIVE)?\s/i.exec(s);
  return w ? `WITH${w[1] ?? ''} ${used.join(', ')}, ${s.slice(w[0].length)}` : `WITH ${used.join(', ')}\n${s}`;
}
