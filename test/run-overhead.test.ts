/**
 * The per-run fast paths of the DuckDB engine (issue 18, backfill overhead), each against the
 * slow path it replaces: a replace-partition write of one partition written straight into its
 * folder (and the partitioned write when the rows say otherwise), and queries described against
 * the stand-ins of attached tables (and against the tables themselves once other SQL ran).
 * Real DuckDB, real Delta tables, delta-rs reading what ingot wrote.
 */
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { DuckDBEngine } from '../src/engine/duckdb/engine.js';
import { IngotError } from '../src/errors.js';
import { scanOf } from '../src/operations/scan.js';
import { canonicalRows, localTable, readWithDeltaRs, readWithIngot, scratch, writeSql } from './helpers.js';

let engine: DuckDBEngine;
before(async () => {
  engine = await DuckDBEngine.open();
});
after(async () => {
  await engine.close();
});

/** `n` rows of day `day` (ids from `from`). */
const DAY_ROWS = (day: string, from: number, n: number): string =>
  `SELECT CAST(${from} + range AS BIGINT) AS id, 'x' || range AS v, DATE '${day}' AS day FROM range(${n})`;

/** Data files under `location` (relative, sorted), the log left out. */
async function dataFiles(location: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (dir: string): Promise<void> => {
    for (const e of await fs.readdir(dir, { withFileTypes: true })) {
      if (e.name === '_delta_log') continue;
      if (e.isDirectory()) await walk(path.join(dir, e.name));
      else out.push(path.relative(location, path.join(dir, e.name)).split(path.sep).join('/'));
    }
  };
  await walk(location);
  return out.sort();
}

describe('one-partition writes', () => {
  test('a day\'s replace is written into its folder with the log\'s partition values and stats; delta-rs reads the same rows', async (t) => {
    const location = path.join(scratch(t, 'one-partition'), 't');
    const table = localTable(location);
    const day = (d: string) => [{ column: 'day', op: '>=' as const, value: d }, { column: 'day', op: '<' as const, value: `2024-01-0${Number(d.slice(-1)) + 1}` }];
    await writeSql(engine, table, DAY_ROWS('2024-01-01', 0, 5), { mode: 'replace', replaceWhere: day('2024-01-01'), partitionBy: ['day'] });
    const v = await writeSql(engine, table, DAY_ROWS('2024-01-02', 100, 7), { mode: 'replace', replaceWhere: day('2024-01-02'), partitionBy: ['day'] });
    const snap = await table.snapshot();
    const adds = [...snap.files.values()].sort((a, b) => a.path.localeCompare(b.path));
    assert.deepEqual(adds.map((a) => [a.path.split('/')[0], a.partitionValues, (JSON.parse(a.stats!) as { numRecords: number }).numRecords]),
      [['day=2024-01-01', { day: '2024-01-01' }, 5], ['day=2024-01-02', { day: '2024-01-02' }, 7]]);
    const stats = JSON.parse(adds[1]!.stats!) as { minValues: Record<string, unknown>; maxValues: Record<string, unknown> };
    assert.deepEqual([stats.minValues['id'], stats.maxValues['id']], [100, 106], 'column bounds of the data columns');
    assert.deepEqual(await dataFiles(location), adds.map((a) => a.path), 'one file per day, nothing else on disk');
    const ours = await readWithIngot(engine, table);
    assert.equal(ours.rows.length, 12);
    const rs = readWithDeltaRs(location);
    assert.equal(rs.version, v);
    assert.deepEqual(canonicalRows(ours.schema, rs.rows), canonicalRows(ours.schema, ours.rows), 'delta-rs reads what ingot reads');
  });

  test('a month\'s replace whose rows hold several days is written partitioned, leaving no file of the first attempt', async (t) => {
    const location = path.join(scratch(t, 'guess-wrong'), 't');
    const table = localTable(location);
    const month = [{ column: 'day', op: '>=' as const, value: '2024-01-01' }, { column: 'day', op: '<' as const, value: '2024-02-01' }];
    // the guess (the month's first day) holds for the first rows only
    await writeSql(engine, table, `${DAY_ROWS('2024-01-01', 0, 3)} UNION ALL ${DAY_ROWS('2024-01-20', 10, 4)}`, { mode: 'replace', replaceWhere: month, partitionBy: ['day'] });
    const snap = await table.snapshot();
    const adds = [...snap.files.values()].sort((a, b) => a.path.localeCompare(b.path));
    assert.deepEqual(adds.map((a) => [a.partitionValues['day'], (JSON.parse(a.stats!) as { numRecords: number }).numRecords]), [['2024-01-01', 3], ['2024-01-20', 4]]);
    assert.deepEqual(await dataFiles(location), adds.map((a) => a.path), 'only the committed files are on disk');
    // the next write of the month (same location) goes partitioned at once, and still replaces the month
    await writeSql(engine, table, DAY_ROWS('2024-01-05', 50, 2), { mode: 'replace', replaceWhere: month, partitionBy: ['day'] });
    const rows = (await readWithIngot(engine, table)).rows.map((r) => Number(r['id'])).sort((a, b) => a - b);
    assert.deepEqual(rows, [50, 51]);
  });

  test('rows outside the replaced day still fail with PARTITION_VIOLATION, and a replace of no rows adds no file', async (t) => {
    const location = path.join(scratch(t, 'violation'), 't');
    const table = localTable(location);
    const day = [{ column: 'day', op: '>=' as const, value: '2024-01-01' }, { column: 'day', op: '<' as const, value: '2024-01-02' }];
    await writeSql(engine, table, DAY_ROWS('2024-01-01', 0, 3), { mode: 'replace', replaceWhere: day, partitionBy: ['day'] });
    await assert.rejects(
      writeSql(engine, table, `${DAY_ROWS('2024-01-01', 0, 3)} UNION ALL ${DAY_ROWS('2024-01-03', 9, 1)}`, { mode: 'replace', replaceWhere: day, partitionBy: ['day'] }),
      (err: unknown) => err instanceof IngotError && err.code === 'PARTITION_VIOLATION' && /day=2024-01-03/.test(err.message),
    );
    const empty = await writeSql(engine, table, `${DAY_ROWS('2024-01-01', 0, 3)} WHERE false`, { mode: 'replace', replaceWhere: day, partitionBy: ['day'] });
    const snap = await table.snapshot(empty);
    assert.equal(snap.files.size, 0, 'the day replaced by no rows');
    assert.deepEqual((await readWithIngot(engine, table)).rows, []);
  });
});

describe('describing queries against stand-ins', () => {
  test('gives the tables\' own types, and the new ones after SQL replaced an attached view', async (t) => {
    const location = path.join(scratch(t, 'stand-in'), 't');
    const table = localTable(location);
    await writeSql(engine, table, DAY_ROWS('2024-01-01', 0, 3), { mode: 'overwrite', partitionBy: ['day'] });
    await engine.attachTable('lay.t', await scanOf(table, await table.snapshot()));
    const query = 'SELECT day, count(*) AS n, max(id) + 0.5 AS top, v || \'!\' AS w FROM lay.t GROUP BY day, v';
    const types = (s: { fields: { name: string; type: unknown }[] }) => s.fields.map((f) => `${f.name} ${JSON.stringify(f.type)}`);
    assert.deepEqual(types(await engine.describe(query)), ['day "date"', 'n "long"', 'top "decimal(21,1)"', 'w "string"']);
    // a view replaced by SQL the engine did not write: described as it now is
    await engine.query('CREATE OR REPLACE VIEW lay.t AS SELECT 1.5::DOUBLE AS day, 7::INTEGER AS id, 2 AS v');
    await assert.rejects(engine.describe('SELECT v FROM lay.t WHERE day > DATE \'2024-01-01\''), (err: unknown) => err instanceof IngotError && err.code === 'SQL_ERROR');
    assert.deepEqual(types(await engine.describe('SELECT day, id FROM lay.t')), ['day "double"', 'id "integer"']);
    // attached again: the table's types
    await engine.attachTable('lay.t', await scanOf(table, await table.snapshot()));
    assert.deepEqual(types(await engine.describe('SELECT day, id FROM lay.t')), ['day "date"', 'id "long"']);
  });
});
