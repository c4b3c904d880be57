import { randomUUID } from 'node:crypto';
import { createWriteStream, promises as fs } from 'node:fs';
import type { Socket } from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import type pg from 'pg';
import { quoteIdent, quoteString, type Engine } from '../engine/engine.js';
import { resolveEnv } from '../env.js';
import { IngotError, messageOf } from '../errors.js';
import { forgedLineageError, lineageColumn } from './lineage.js';
import type { PostgresSource } from '../pipeline/sources/postgres-source.js';
import type { SourceBatch, SourceConnector, SourceContext } from './source.js';

/** Every value arrives as PostgreSQL's text output; DuckDB casts it to the mapped type. */
const RAW_TEXT = { getTypeParser: () => (value: string) => value };

/** Bytes of COPY output gathered before one write to the temp file. */
const WRITE_BYTES = 4 << 20;

/** A result column: its name, the SQL type DuckDB stores it as, and whether PostgreSQL sends it as an array. */
interface Column {
  name: string;
  duckType: string;
  array: boolean;
}

/**
 * PostgreSQL (a table or a query), full or incremental by a cursor column.
 *
 * Rows stream out of PostgreSQL by `COPY (SELECT ...) TO STDOUT (FORMAT csv)` (PostgreSQL's text
 * output of each value; NULL unquoted and empty, an empty string `""`) straight into a temporary
 * CSV file, a few MiB at a time with backpressure on the socket. Relation `relation` is a view
 * casting that file's rows (`engine.view`, which owns the file and deletes it when the relation
 * is dropped), so the rows stream from the file into the table's Parquet files: memory stays
 * flat however many rows a run loads.
 *
 * Types come from the result's field OIDs and type modifiers (never from values): int2/int4/int8
 * → SMALLINT/INTEGER/BIGINT, float4/float8 → REAL/DOUBLE, numeric(p,s) → DECIMAL(p,s) (p ≤ 38;
 * unconstrained numeric or p > 38 → VARCHAR holding the exact decimal text, never a rounded
 * DOUBLE), bool, text/varchar/char/name → VARCHAR, date, timestamp → TIMESTAMP, timestamptz →
 * TIMESTAMPTZ, uuid → VARCHAR, json/jsonb → VARCHAR (the JSON text), bytea → BLOB,
 * one-dimensional arrays of these → LISTs of the element type; any other type → VARCHAR (its
 * text output).
 *
 * Incremental (`cursor` set, dated runs): the bookmark is the greatest cursor value already in
 * the dataset's own table (`ctx.maxOfTarget`), so it commits atomically with the rows it
 * describes; only rows with `cursor > bookmark` are read. Ties: the cursor must increase
 * strictly for new rows (a serial id, an insertion timestamp that never repeats): a row added
 * later with a cursor equal to or below the bookmark is never loaded. Rows whose cursor is NULL
 * are loaded only by the first (or a full-refresh) run.
 *
 * Errors: INPUT_MISSING (cannot connect, unset env var, unknown table or column, a failed
 * COPY), naming the dataset and the table; a value DuckDB cannot cast fails the write of the
 * rows (INPUT_MALFORMED from the runner).
 */
export class PostgresConnector implements SourceConnector {
  constructor(private readonly source: PostgresSource) {}

  async read(ctx: SourceContext, engine: Engine, relation: string): Promise<SourceBatch> {
    const { source } = this;
    const what = source.table ? `table ${source.table}` : 'query';
    const input = `postgres:${source.table ?? 'query'}`;
    const fail = (code: 'INPUT_MISSING' | 'INPUT_MALFORMED', message: string, err?: unknown): IngotError =>
      new IngotError(code, `${ctx.dataset}: postgres ${what}: ${message}`, { dataset: ctx.dataset, ...(source.table ? { table: source.table } : {}) }, { cause: err });

    const { default: pgClient } = await import('pg');
    const client = new pgClient.Client({ connectionString: resolveEnv(source.connection, (m) => fail('INPUT_MISSING', m), 'the connection URL'), types: RAW_TEXT });
    client.on('error', () => {}); // a dropped connection surfaces through the pending query
    try {
      await client.connect();
    } catch (err) {
      throw fail('INPUT_MISSING', `cannot connect: ${messageOf(err)}`, err);
    }
    const tmp = path.join(os.tmpdir(), `ingot-pg-${randomUUID()}.csv`);
    /** Whether the relation's view owns `tmp` (then the engine deletes it). */
    let viewed = false;
    try {
      await client.query("SET TimeZone = 'UTC'; SET DateStyle = 'ISO, YMD'; SET IntervalStyle = 'iso_8601'; SET extra_float_digits = 3; SET standard_conforming_strings = on");
      const select = source.columns?.length ? source.columns.map(quoteIdent).join(', ') : '*';
      const from = source.table ? qualifiedName(source.table) : `(${source.query}) AS q`;
      const base = `SELECT ${select} FROM ${from}`;
      let columns: Column[];
      try {
        columns = await describe(client, base);
      } catch (err) {
        throw fail('INPUT_MISSING', messageOf(err), err);
      }
      const forged = columns.find((c) => lineageColumn(c.name) !== undefined);
      if (forged) throw forgedLineageError(ctx.dataset, input, forged.name);
      if (source.cursor && !columns.some((c) => c.name === source.cursor)) {
        throw fail('INPUT_MISSING', `cursor column ${source.cursor} is not among its columns (${columns.map((c) => c.name).join(', ')})`);
      }
      const bookmark = source.cursor && ctx.maxOfTarget ? await ctx.maxOfTarget(source.cursor) : undefined;
      const list = columns.map((c) => (c.array ? `to_json(${quoteIdent(c.name)}::text[])::text` : quoteIdent(c.name))).join(', ');
      // COPY takes no parameters: the bookmark is a quoted literal, cast to the cursor column's type
      const sql = `SELECT ${list} FROM (${base}) AS s${bookmark !== undefined ? ` WHERE ${quoteIdent(source.cursor!)} > ${quoteString(bookmark)}` : ''}`;
      let rows: number;
      try {
        rows = await copyToFile(client, sql, tmp);
      } catch (err) {
        throw fail('INPUT_MISSING', messageOf(err), err);
      }

      const casts = columns.map((c) => `${castOf(c)} AS ${quoteIdent(c.name)}`);
      casts.push(`${quoteString(input)} AS "_source"`);
      const varchars = columns.map((c) => `${quoteString(c.name)}: 'VARCHAR'`).join(', ');
      // rows end with \n (COPY TO STDOUT on every platform): a \r\n inside a quoted value must not make DuckDB guess otherwise
      const rowsSql = rows === 0
        ? `SELECT ${casts.join(', ')} FROM (SELECT ${columns.map((c) => `CAST(NULL AS VARCHAR) AS ${quoteIdent(c.name)}`).join(', ')}) AS t WHERE false`
        : `SELECT ${casts.join(', ')} FROM read_csv(${quoteString(tmp)}, columns = {${varchars}}, header = false, delim = ',', quote = '"', escape = '"', ` +
          "allow_quoted_nulls = false, new_line = '\\n', auto_detect = false) AS t";
      try {
        await engine.view(relation, rowsSql, rows === 0 ? [] : [tmp]);
      } catch (err) {
        throw fail('INPUT_MALFORMED', `cannot convert its rows: ${messageOf(err)}`, err);
      }
      viewed = rows > 0;
      return { relation, inputs: [input] };
    } finally {
      if (!viewed) await fs.rm(tmp, { force: true });
      await client.end().catch(() => {});
    }
  }
}

/**
 * Runs `COPY (sql) TO STDOUT (FORMAT csv)` on `client` and writes its output to file `file`;
 * returns the number of rows (from the command tag). The socket is paused while the file lags
 * behind. Errors: PostgreSQL's error (unknown column, bad cast) or the file system's.
 */
async function copyToFile(client: pg.Client, sql: string, file: string): Promise<number> {
  const out = createWriteStream(file);
  const written = new Promise<void>((resolve, reject) => out.on('finish', resolve).on('error', reject));
  const copied = new Promise<number>((resolve, reject) => {
    let socket: Socket | undefined;
    let pending = Buffer.allocUnsafe(WRITE_BYTES);
    let used = 0;
    let rows = 0;
    let failed = false;
    const fail = (err: Error): void => {
      failed = true;
      socket?.resume();
      reject(err);
    };
    written.catch(fail);
    const write = (bytes: Buffer): void => {
      if (!out.write(bytes) && socket && !socket.isPaused()) {
        const paused = socket;
        paused.pause();
        out.once('drain', () => paused.resume());
      }
    };
    const flush = (): void => {
      if (used === 0) return;
      write(pending.subarray(0, used));
      pending = Buffer.allocUnsafe(WRITE_BYTES);
      used = 0;
    };
    // a pg Submittable speaking the COPY-out sub-protocol (pg itself has no COPY support)
    const copy = {
      submit(connection: { query: (text: string) => void; stream: Socket }) {
        socket = connection.stream;
        connection.query(`COPY (${sql}) TO STDOUT (FORMAT csv)`);
      },
      // one message per row; the parser reuses its buffer, so the bytes are copied at once
      handleCopyData(msg: { chunk: Buffer }) {
        if (failed) return;
        const { chunk } = msg;
        if (chunk.length > WRITE_BYTES - used) flush();
        if (chunk.length > WRITE_BYTES) write(Buffer.from(chunk));
        else used += chunk.copy(pending, used);
      },
      handleCommandComplete(msg: { text: string }) {
        rows = Number(/^COPY (\d+)/.exec(msg.text)?.[1] ?? 0);
      },
      handleError: fail,
      handleReadyForQuery() {
        if (failed) return;
        flush();
        resolve(rows);
      },
      handleRowDescription() {},
      handleDataRow() {},
      handleEmptyQuery() {},
    };
    client.query(copy as unknown as pg.Submittable);
  });
  try {
    const rows = await copied;
    out.end();
    await written;
    return rows;
  } finally {
    out.destroy();
  }
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
