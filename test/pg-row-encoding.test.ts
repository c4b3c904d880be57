/**
 * The PostgreSQL wire server's in-memory rows and their encoding:
 * - `StatementIndex` (src/serve/postgres/statement-index.ts), the per-version index of a prepared
 *   lookup, over a real served lake of a real Delta table (200,000 rows): answers equal the
 *   engine's own for present, absent, NULL and non-canonical keys, and the rows are held
 *   column-wise: its own byte count, and the JS heap it adds after a full collection, stay far
 *   below what an array of cells per row took (the ~800 MB of a 1,000,000-row table that made
 *   the server's memory regress);
 * - `RowTable` gives back exactly the cells added (every kind, NULLs, non-ASCII text);
 * - `MessageWriter.dataRows` writes the same bytes as a field per `textOf`/`binaryOf` value, for
 *   integers, bigints, doubles (random, edge and shortest-form values), text and other cells.
 */
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { DuckDBEngine } from '../src/engine/duckdb/engine.js';
import type { Cell } from '../src/engine/reader.js';
import { stageWrite } from '../src/operations/stage.js';
import { FieldKind, MessageWriter } from '../src/serve/postgres/messages.js';
import { RowTable, StatementIndex, type IndexFacts } from '../src/serve/postgres/statement-index.js';
import { binaryOf, OID, textOf } from '../src/serve/postgres/types.js';
import { ServedLake } from '../src/serve/served-lake.js';
import { Lake } from '../src/table/lake.js';
import { tempDir } from './fixtures.js';
import { streamAll } from './serve-helpers.js';

const ROWS = 200_000;

/** A full garbage collection (the flag set at run time; a fresh context exposes `gc`). */
function collect(): void {
  setFlagsFromString('--expose-gc');
  (runInNewContext('gc') as () => void)();
}

describe('pg wire: rows kept and encoded', () => {
  let dir: string;
  let cleanup: () => Promise<void>;
  let engine: DuckDBEngine;

  before(async () => {
    ({ dir, cleanup } = await tempDir('pg-row-encoding'));
    engine = await DuckDBEngine.open({ memoryLimit: '512MB' });
    const table = new Lake(path.join(dir, 'lake'), engine).table('gold.items');
    const staged = await engine.stage('__rows', `SELECT i AS id, 'c' || CAST(i % 7 AS VARCHAR) AS code, CAST(i AS DOUBLE) / 8 AS amount,
      DATE '2024-01-01' + CAST(i % 366 AS INTEGER) AS day, CASE WHEN i % 5 = 0 THEN NULL ELSE 'é' || CAST(i AS VARCHAR) END AS note FROM range(${ROWS}) AS t(i)`);
    const { commit } = await stageWrite(engine, table, await table.trySnapshot(), 'SELECT * FROM __rows', { mode: 'append', schema: staged.schema });
    await table.commit(commit);
    await engine.drop('__rows');
  });

  after(async () => {
    await engine.close();
    await cleanup();
  });

  it('a statement index answers as the engine does and holds its rows column-wise', async () => {
    const served = await ServedLake.open(new Lake(path.join(dir, 'lake'), engine), { connections: 2, reservedConnections: 0, threads: 1, refreshMs: 0, settleMs: 0 });
    try {
      const sql = 'SELECT * FROM gold.items WHERE id = $1';
      const version = await served.latest('gold.items');
      let facts: IndexFacts | undefined;
      const errors: string[] = [];
      collect();
      const heapBefore = process.memoryUsage().heapUsed;
      const index = new StatementIndex(served, sql, 'gold.items', 1, (m) => errors.push(m), (f) => (facts = f));
      // misses before the build, then the build in the background
      for (let i = 0; i < 20 && !facts; i++) {
        assert.equal(index.lookupCells(version, [1]), undefined);
        await new Promise((r) => setTimeout(r, 200));
      }
      for (let i = 0; i < 300 && !facts && errors.length === 0; i++) await new Promise((r) => setTimeout(r, 100));
      assert.deepEqual(errors, []);
      assert.ok(facts, 'the index was built');
      assert.deepEqual({ version: facts.version, keys: facts.keys, rows: facts.rows }, { version, keys: ROWS, rows: ROWS });
      collect();
      const heapPerRow = (process.memoryUsage().heapUsed - heapBefore) / ROWS;
      // column-wise: 8 (id) + 2 + 4 (code) + 8 (amount) + 10 + 4 (day) + ~7 + 4 (note) + nulls, and the chain links
      assert.ok(facts.bytes / ROWS < 80, `index bytes per row: ${(facts.bytes / ROWS).toFixed(1)}`);
      // an array of cells per row took over 300 bytes a row of heap; the key map takes about 40
      assert.ok(heapPerRow < 150, `heap per row: ${heapPerRow.toFixed(1)} bytes`);

      // the engine's cells of every row, by id (read whole, as the index was; a lookup statement
      // streamed on this 200,000-row table keeps the engine's threads from ending at exit, on
      // main as well: to be looked into)
      const engineRows = new Map((await streamAll(served, 'SELECT * FROM gold.items')).map((r) => [Number(r[0]), r]));
      assert.equal(engineRows.size, ROWS);
      for (const id of [0, 1, 5, 77_777, ROWS - 1]) {
        const hit = index.lookupCells(version, [id]);
        assert.ok(hit, `a hit for ${id}`);
        assert.deepEqual(hit.rows, [engineRows.get(id)], `the rows of id ${id}`);
        assert.deepEqual(hit.columns.map((c) => c.name), ['id', 'code', 'amount', 'day', 'note']);
      }
      // text digits and bigints are the same key; absent and NULL keys have no rows
      assert.deepEqual(index.lookupCells(version, ['77777'])?.rows, index.lookupCells(version, [77_777n])?.rows);
      assert.deepEqual(index.lookupCells(version, [ROWS + 5])?.rows, []);
      assert.deepEqual(index.lookupCells(version, [null])?.rows, []);
      // a text the engine would cast (leading zero) is left to the engine
      assert.equal(index.lookupCells(version, ['077']), undefined);
    } finally {
      await served.close();
    }
  });

  it('a row table gives back the cells it was given', () => {
    const types = ['BIGINT', 'UBIGINT', 'INTEGER', 'DOUBLE', 'FLOAT', 'BOOLEAN', 'VARCHAR', 'DATE', 'TIMESTAMP WITH TIME ZONE', 'INTEGER[]', 'STRUCT(a INTEGER)', 'BLOB', 'DECIMAL(10,2)'];
    const rows: Cell[][] = [
      [-(2n ** 63n), 2n ** 64n - 1n, -2147483648, -0, Math.fround(0.1), true, '', '2024-02-29', '2024-01-01 00:00:00+00', [1, null, 3], { a: 1 }, new Uint8Array([0, 255]), '12.34'],
      [null, null, null, null, null, null, null, null, null, null, null, null, null],
      [42n, 7n, 7, Number.NaN, Infinity, false, 'naïve ✓ 𝄞 '.repeat(50), '1970-01-01', '1999-12-31 23:59:59.999999+00', [], {}, new Uint8Array(0), '-0.01'],
    ];
    const table = new RowTable(types);
    // enough rows to grow every column's arrays past their first size
    for (let i = 0; i < 3000; i++) for (const row of rows) table.add(row);
    assert.equal(table.length, 9000);
    for (const r of [0, 1, 2, 4500, 4501, 4502, 8997, 8998, 8999]) assert.deepEqual(table.row(r), rows[r % 3], `row ${r}`);
    assert.throws(() => table.add(['x', ...rows[0]!.slice(1)]), TypeError);
  });

  it('DataRows written column-wise are the bytes of textOf and binaryOf fields', () => {
    const random = (i: number): number => {
      const x = Math.sin(i * 12.9898) * 43758.5453;
      return x - Math.floor(x);
    };
    const doubles: number[] = [0, -0, 1, -1, 0.5, 0.05, 1e-6, 1.5e-6, 1e-7, 123456789.123456, 999999999.999999, 1e9, 1e21, 0.1 + 0.2, 1 / 3, 1.005, 5e-324, Number.MAX_VALUE, NaN, Infinity, -Infinity, 2 ** 53];
    for (let i = 0; i < 20_000; i++) {
      const r = random(i);
      doubles.push(r, Math.round(r * 1e6) / 10 ** (i % 7), (r - 0.5) * 10 ** (i % 12), Math.round((r - 0.5) * 1e9) / 10 ** (i % 9), Math.fround(r * 100));
    }
    const integers: Cell[] = [0, -0, 1, -1, 999_999_999_999_999, -999_999_999_999_999, 1e15, 2 ** 53, 0n, -1n, 2n ** 63n - 1n, -(2n ** 63n), 999_999_999_999_999n, 1_000_000_000_000_000n];
    const texts: Cell[] = ['', 'a', 'é', '😀', 'x'.repeat(100), 'naïve'.repeat(30), '2024-01-01 00:00:00+00', true, [1, 2], { k: 'v' }];
    const width = 5;
    const types = [OID.int8, OID.float8, OID.text, OID.int4, OID.float4];
    const rows: Cell[][] = [];
    const n = Math.max(doubles.length, integers.length, texts.length);
    for (let i = 0; i < n; i++) {
      rows.push([integers[i % integers.length]!, i % 97 === 0 ? null : doubles[i % doubles.length]!, texts[i % texts.length]!, i % integers.length < 4 ? (integers[i % 4] as number) : i, doubles[i % doubles.length]!]);
    }
    for (const formats of [[0, 0, 0, 0, 0], [1, 1, 0, 1, 1]]) {
      const fields = new Uint8Array(types.map((oid, i) => (formats[i] === 1 ? FieldKind.other : oid === OID.int8 || oid === OID.int4 ? FieldKind.integer : oid === OID.float8 ? FieldKind.double : oid === OID.float4 ? FieldKind.other : FieldKind.text)));
      const encode = (c: Exclude<Cell, null>, i: number): Uint8Array | string => (formats[i] === 1 ? binaryOf(c, types[i]!) : textOf(c, types[i]!)!);
      const fast = new MessageWriter();
      fast.dataRows(rows, 0, rows.length, fields, encode);
      const plain = new MessageWriter();
      for (const row of rows) {
        plain.begin('D').int16(width);
        for (let i = 0; i < width; i++) plain.field(row[i] === null ? null : encode(row[i]!, i));
        plain.end();
      }
      const [a, b] = [fast.take(), plain.take()];
      assert.equal(a.length, b.length, `formats ${formats.join('')}: same length`);
      assert.ok(a.equals(b), `formats ${formats.join('')}: same bytes`);
    }
    // a row whose value cannot be encoded is dropped whole; the rows before it stay
    const w = new MessageWriter();
    assert.throws(() => w.dataRows([['2024-01-01'], ['not a date']], 0, 2, new Uint8Array([FieldKind.other]), (c) => binaryOf(c, OID.date)), TypeError);
    const kept = w.take();
    assert.equal(kept.length, 1 + 4 + 2 + 4 + 4, 'the first row (a 4-byte date) alone');
    assert.equal(kept.toString('latin1', 0, 1), 'D');
  });
});
