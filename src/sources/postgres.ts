import { randomUUID } from 'node:crypto';
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import pg from 'pg';
import Cursor from 'pg-cursor';
import { quoteIdent, quoteString, type Engine } from '../engine/engine.js';
import { IngotError, messageOf } from '../errors.js';
import type { PostgresSource } from '../pipeline/definition.js';
import type { SourceBatch, SourceConnector, SourceContext } from './source.js';

/** Rows fetched per round trip of the server-side cursor (and written per temp-file append). */
export const BATCH_ROWS = 50_000;

/** Every value arrives as PostgreSQL's text output; DuckDB casts it to the mapped type. */
const RAW_TEXT = { getTypeParser: () => (value: string) => value };

/** A result column: its name, the SQL type DuckDB stores it as, and whether PostgreSQL sends it as an array. */
interface Column {
  name: string;
  duckType: string;
  array: boolean;
}

/**
 * PostgreSQL (a table or a query), full or incremental by a cursor column.
 *
 * Rows stream through a server-side cursor (`pg-cursor`, BATCH_ROWS rows a round trip), each
 * batch appended to a temporary NDJSON file of PostgreSQL text values, so memory stays flat; the
 * file is then cast into relation `relation` (a DuckDB temp table) and deleted. Types come from
 * the result's field OIDs and type modifiers (never from values): int2/int4/int8 → SMALLINT/
 * INTEGER/BIGINT, float4/float8 → REAL/DOUBLE, numeric(p,s) → DECIMAL(p,s) (p ≤ 38; unconstrained
 * numeric or p > 38 → VARCHAR holding the exact decimal text, never a rounded DOUBLE), bool,
 * text/varchar/char/name → VARCHAR, date, timestamp → TIMESTAMP, timestamptz → TIMESTAMPTZ,
 * uuid → VARCHAR, json/jsonb → VARCHAR (the JSON text), bytea → BLOB, one-dimensional arrays of
 * these → LISTs of the element type; any other type → VARCHAR (its text output).
 *
 * Incremental (`cursor` set, dated runs): the bookmark is the greatest cursor value already in
 * the dataset's own table (`ctx.maxOfTarget`), so it commits atomically with the rows it
 * describes; only rows with `cursor > bookmark` are read. Ties: the cursor must increase
 * strictly for new rows (a serial id, an insertion timestamp that never repeats): a row added
 * later with a cursor equal to or below the bookmark is never loaded. Rows whose cursor is NULL
 * are loaded only by the first (or a full-refresh) run.
 *
 * Errors: INPUT_MISSING (cannot connect, unset env var, unknown table or column) and
 * INPUT_MALFORMED (a value DuckDB cannot cast), naming the dataset and the table.
 */
export class PostgresConnector implements SourceConnector {
  constructor(private readonly source: PostgresSource) {}

  async read(ctx: SourceContext, engine: Engine, relation: string): Promise<SourceBatch> {
    const { source } = this;
    const what = source.table ? `table ${source.table}` : 'query';
    const input = `postgres:${source.table ?? 'query'}`;
    const fail = (code: 'INPUT_MISSING' | 'INPUT_MALFORMED', message: string, err?: unknown): IngotError =>
      new IngotError(code, `${ctx.dataset}: postgres ${what}: ${message}`, { dataset: ctx.dataset, ...(source.table ? { table: source.table } : {}) }, { cause: err });

    const client = new pg.Client({ connectionString: connectionString(source.connection, fail), types: RAW_TEXT });
    client.on('error', () => {}); // a dropped connection surfaces through the pending query
    try {
      await client.connect();
    } catch (err) {
      throw fail('INPUT_MISSING', `cannot connect: ${messageOf(err)}`, err);
    }
    const tmp = path.join(os.tmpdir(), `ingot-pg-${randomUUID()}.ndjson`);
    try {
      await client.query("SET TimeZone = 'UTC'; SET DateStyle = 'ISO, YMD'; SET IntervalStyle = 'iso_8601'; SET extra_float_digits = 3");
      const select = source.columns?.length ? source.columns.map(quoteIdent).join(', ') : '*';
      const from = source.table ? qualifiedName(source.table) : `(${source.query}) AS q`;
      const base = `SELECT ${select} FROM ${from}`;
      let columns: Column[];
      try {
        columns = await describe(client, base);
      } catch (err) {
        throw fail('INPUT_MISSING', messageOf(err), err);
      }
      if (source.cursor && !columns.some((c) => c.name === source.cursor)) {
        throw fail('INPUT_MISSING', `cursor column ${source.cursor} is not among its columns (${columns.map((c) => c.name).join(', ')})`);
      }
      const bookmark = source.cursor && ctx.maxOfTarget ? await ctx.maxOfTarget(source.cursor) : undefined;
      const list = columns.map((c) => (c.array ? `to_json(${quoteIdent(c.name)}::text[])::text` : quoteIdent(c.name))).join(', ');
      const sql = `SELECT ${list} FROM (${base}) AS s${bookmark !== undefined ? ` WHERE ${quoteIdent(source.cursor!)} > $1` : ''}`;

      const cursor = client.query(new Cursor<(string | null)[]>(sql, bookmark !== undefined ? [bookmark] : [], { rowMode: 'array', types: RAW_TEXT }));
      let rows = 0;
      const out = await fs.open(tmp, 'w');
      try {
        for (;;) {
          const batch = await cursor.read(BATCH_ROWS);
          if (batch.length === 0) break;
          rows += batch.length;
          const lines = batch.map((r) => JSON.stringify(Object.fromEntries(columns.map((c, i) => [c.name, r[i] ?? null]))));
          await out.write(lines.join('\n') + '\n');
        }
        await cursor.close();
      } catch (err) {
        throw fail('INPUT_MISSING', messageOf(err), err);
      } finally {
        await out.close();
      }

      const casts = columns.map((c) => `${castOf(c)} AS ${quoteIdent(c.name)}`);
      casts.push(`${quoteString(input)} AS "_source"`);
      const varchars = columns.map((c) => `${quoteString(c.name)}: 'VARCHAR'`).join(', ');
      const rowsSql = rows === 0
        ? `SELECT ${casts.join(', ')} FROM (SELECT ${columns.map((c) => `CAST(NULL AS VARCHAR) AS ${quoteIdent(c.name)}`).join(', ')}) AS t WHERE false`
        : `SELECT ${casts.join(', ')} FROM read_json(${quoteString(tmp)}, format = 'newline_delimited', columns = {${varchars}}) AS t`;
      try {
        await engine.stage(relation, rowsSql);
      } catch (err) {
        throw fail('INPUT_MALFORMED', `cannot convert its rows: ${messageOf(err)}`, err);
      }
      return { relation, inputs: [input] };
    } finally {
      await fs.rm(tmp, { force: true });
      await client.end().catch(() => {});
    }
  }
}

/** `env:NAME` → the value of environment variable NAME; anything else is the URL itself. */
function connectionString(connection: string, fail: (code: 'INPUT_MISSING', message: string) => IngotError): string {
  if (!connection.startsWith('env:')) return connection;
  const name = connection.slice(4);
  const value = process.env[name];
  if (!value) throw fail('INPUT_MISSING', `environment variable ${name} (the connection URL) is not set`);
  return value;
}

/** `schema.table` or `table` → `"schema"."table"`. */
function qualifiedName(table: string): string {
  return table.split('.').map(quoteIdent).join('.');
}

/** The result columns of `sql` with their DuckDB types, from the field OIDs and type modifiers (`LIMIT 0`: no rows read). */
async function describe(client: pg.Client, sql: string): Promise<Column[]> {
  const { fields } = await client.query(`SELECT * FROM (${sql}) AS d LIMIT 0`);
  const oids = [...new Set(fields.map((f) => f.dataTypeID))];
  const { rows } = await client.query<{ oid: string; typname: string; elem: string | null }>(
    'SELECT t.oid, t.typname, e.typname AS elem FROM pg_type t LEFT JOIN pg_type e ON e.oid = t.typelem AND t.typcategory = \'A\' WHERE t.oid = ANY($1::oid[])',
    [oids],
  );
  const byOid = new Map(rows.map((r) => [Number(r.oid), r]));
  return fields.map((f) => {
    const t = byOid.get(f.dataTypeID);
    const array = t?.elem != null;
    const scalar = duckTypeOf(array ? t.elem! : t?.typname ?? '', f.dataTypeModifier);
    return { name: f.name, duckType: array ? `${scalar}[]` : scalar, array };
  });
}

/** DuckDB type of a PostgreSQL base type name (`pg_type.typname`) with its type modifier (-1: none). */
function duckTypeOf(typname: string, typmod: number): string {
  switch (typname) {
    case 'int2': return 'SMALLINT';
    case 'int4': return 'INTEGER';
    case 'int8': return 'BIGINT';
    case 'float4': return 'REAL';
    case 'float8': return 'DOUBLE';
    case 'bool': return 'BOOLEAN';
    case 'date': return 'DATE';
    case 'timestamp': return 'TIMESTAMP';
    case 'timestamptz': return 'TIMESTAMPTZ';
    case 'bytea': return 'BLOB';
    case 'numeric': {
      if (typmod < 4) return 'VARCHAR';
      const precision = ((typmod - 4) >> 16) & 0xffff;
      const scale = (typmod - 4) & 0xffff;
      return precision <= 38 && scale <= precision ? `DECIMAL(${precision},${scale})` : 'VARCHAR';
    }
    default: return 'VARCHAR';
  }
}

/** The DuckDB expression turning the text value of column `c` into its type. */
function castOf(c: Column): string {
  const col = `t.${quoteIdent(c.name)}`;
  if (c.array) {
    const elems = `from_json(${col}, '["VARCHAR"]')`;
    return c.duckType === 'BLOB[]'
      ? `list_transform(${elems}, x -> from_hex(substr(x, 3)))`
      : `CAST(${elems} AS ${c.duckType})`;
  }
  if (c.duckType === 'BLOB') return `from_hex(substr(${col}, 3))`;
  return `CAST(${col} AS ${c.duckType})`;
}
