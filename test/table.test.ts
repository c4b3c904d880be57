/**
 * The Delta table layer on real Parquet files written by DuckDB: commit files and their actions,
 * time travel, file pruning, optimistic concurrency and write validation.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, promises as fs } from 'node:fs';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { DuckDBEngine } from '../src/engine/duckdb/engine.js';
import { IngotError } from '../src/errors.js';
import { scanOf } from '../src/operations/scan.js';
import { LocalStore } from '../src/storage/local.js';
import type { Add, CommitInfo, FileStats, Metadata, Protocol, Remove } from '../src/table/actions.js';
import type { Filter } from '../src/table/filter.js';
import { parseSchema } from '../src/table/schema.js';
import { decodePath, planWrite } from '../src/table/write.js';
import { canonicalRows, localTable, prepareSql, readWithIngot, REPO_ROOT, scratch, writeSql } from './helpers.js';

const execFileAsync = promisify(execFile);

let engine: DuckDBEngine;
before(async () => {
  engine = await DuckDBEngine.open();
});
after(async () => {
  await engine.close();
});

// ---------------------------------------------------------------------------------------------
// reading the log as raw files (independently of src/table/log.ts)

type RawAction = Record<string, unknown>;

/** Every name in `_delta_log`, sorted (temp files included, so leftovers are caught). */
async function logDir(location: string): Promise<string[]> {
  return (await fs.readdir(path.join(location, '_delta_log'))).sort();
}

function commitFileName(version: number): string {
  return `${String(version).padStart(20, '0')}.json`;
}

/** Parses commit `version`: one JSON object with exactly one key per line. */
async function readActions(location: string, version: number): Promise<RawAction[]> {
  const text = await fs.readFile(path.join(location, '_delta_log', commitFileName(version)), 'utf8');
  assert.ok(text.endsWith('\n'), 'a commit file ends with a newline');
  const lines = text.split('\n').filter((l) => l !== '');
  return lines.map((line, i) => {
    const a = JSON.parse(line) as RawAction;
    assert.equal(Object.keys(a).length, 1, `line ${i + 1} of commit ${version} holds exactly one action`);
    return a;
  });
}

function kinds(actions: RawAction[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const a of actions) {
    const k = Object.keys(a)[0]!;
    out[k] = (out[k] ?? 0) + 1;
  }
  return out;
}

function only<T>(actions: RawAction[], kind: string): T[] {
  return actions.filter((a) => kind in a).map((a) => a[kind] as T);
}

async function rowsOf(sql: string): Promise<Record<string, unknown>[]> {
  return engine.query(sql);
}

// ---------------------------------------------------------------------------------------------
// a four-version history: create, append, overwrite, replace (region = 'north')

const SALES_COLUMNS = 'id, region, amount, note, day';

const HISTORY = [
  {
    mode: 'append' as const,
    sql: `SELECT range AS id, ['north', 'south', 'east'][range % 3 + 1] AS region, (range * 1.5)::DOUBLE AS amount,
                 CASE WHEN range % 4 = 0 THEN NULL ELSE 'n' || range END AS note, DATE '2024-01-01' + range::INT AS day
          FROM range(12)`,
  },
  {
    mode: 'append' as const,
    sql: `SELECT 12 + range AS id, ['north', 'west'][range % 2 + 1] AS region, (100 + range)::DOUBLE AS amount,
                 'late' AS note, DATE '2024-02-01' AS day
          FROM range(6)`,
  },
  {
    mode: 'overwrite' as const,
    sql: `SELECT 100 + range AS id, ['north', 'south'][range % 2 + 1] AS region, -range::DOUBLE AS amount,
                 NULL::VARCHAR AS note, DATE '2024-03-01' AS day
          FROM range(6)`,
  },
  {
    mode: 'replace' as const,
    replaceWhere: [{ column: 'region', op: '=', value: 'north' }] as Filter[],
    sql: `SELECT 200 + range AS id, 'north' AS region, 7.25::DOUBLE AS amount, 'fresh' AS note, DATE '2024-04-01' AS day
          FROM range(2)`,
  },
];

/** The rows each version must hold, computed by DuckDB from the same SQL, independently of Delta. */
async function modelVersions(): Promise<Record<string, unknown>[][]> {
  const out: Record<string, unknown>[][] = [];
  await engine.query('CREATE OR REPLACE TEMP TABLE sales_model AS SELECT * FROM (' + HISTORY[0]!.sql + ') WHERE false');
  for (const step of HISTORY) {
    if (step.mode === 'overwrite') await engine.query('DELETE FROM sales_model');
    if (step.mode === 'replace') await engine.query(`DELETE FROM sales_model WHERE region = 'north'`);
    await engine.query(`INSERT INTO sales_model SELECT ${SALES_COLUMNS} FROM (${step.sql})`);
    out.push(await rowsOf(`SELECT ${SALES_COLUMNS} FROM sales_model`));
  }
  await engine.query('DROP TABLE sales_model');
  return out;
}

/** Writes HISTORY to a new table at `location`; returns the versions `commit` returned. */
async function writeHistory(location: string): Promise<number[]> {
  const table = localTable(location);
  const versions: number[] = [];
  for (const step of HISTORY) {
    versions.push(await writeSql(engine, table, step.sql, {
      mode: step.mode,
      partitionBy: ['region'],
      ...('replaceWhere' in step ? { replaceWhere: step.replaceWhere } : {}),
    }));
  }
  return versions;
}

describe('commits', () => {
  test('create, append, overwrite and replace each write exactly one commit with the actions Delta requires', async (t) => {
    const location = path.join(scratch(t, 'commits'), 'sales');
    const table = localTable(location);
    const started = Date.now();

    // ---- version 0: CREATE TABLE
    const v0 = await writeSql(engine, table, HISTORY[0]!.sql, { mode: 'append', partitionBy: ['region'] });
    const afterCreate = Date.now();
    assert.equal(v0, 0);
    assert.deepEqual(await logDir(location), [commitFileName(0)]);
    assert.equal(commitFileName(0), '00000000000000000000.json');
    const a0 = await readActions(location, 0);
    assert.deepEqual(kinds(a0), { commitInfo: 1, protocol: 1, metaData: 1, add: 3 });

    const [info0] = only<CommitInfo>(a0, 'commitInfo');
    assert.equal(info0!.operation, 'CREATE TABLE');
    assert.deepEqual(info0!.operationParameters, { mode: 'Append', partitionBy: '["region"]' });
    assert.match(String(info0!.engineInfo), /^ingot\/\d+\.\d+\.\d+/);
    assert.equal(info0!.isBlindAppend, true);
    assert.ok(typeof info0!.timestamp === 'number' && info0!.timestamp >= started && info0!.timestamp <= afterCreate, 'commitInfo.timestamp is the commit time');
    assert.equal(info0!.operationMetrics?.['numFiles'], '3');
    assert.equal(info0!.operationMetrics?.['numOutputRows'], '12');

    const [protocol] = only<Protocol>(a0, 'protocol');
    assert.deepEqual(protocol, { minReaderVersion: 1, minWriterVersion: 2 });
    const [meta] = only<Metadata>(a0, 'metaData');
    assert.match(meta!.id, /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    assert.equal(meta!.format.provider, 'parquet');
    assert.deepEqual(meta!.partitionColumns, ['region']);
    assert.deepEqual(meta!.configuration, {});
    assert.equal(typeof meta!.createdTime, 'number');
    const schema = parseSchema(meta!.schemaString);
    assert.deepEqual(schema.fields.map((f) => [f.name, f.type, f.nullable]), [
      ['id', 'long', true], ['region', 'string', true], ['amount', 'double', true], ['note', 'string', true], ['day', 'date', true],
    ]);

    // every add: a real file whose size, partition and stats match what is in it
    const adds0 = only<Add>(a0, 'add');
    assert.deepEqual(adds0.map((a) => a.partitionValues['region']).sort(), ['east', 'north', 'south']);
    for (const add of adds0) {
      const region = add.partitionValues['region']!;
      assert.deepEqual(Object.keys(add.partitionValues), ['region']);
      assert.match(add.path, new RegExp(`^region=${region}/[^/]+\\.parquet$`));
      const file = path.join(location, decodePath(add.path, location));
      const stat = await fs.stat(file);
      assert.equal(add.size, stat.size, `size of ${add.path}`);
      assert.equal(add.dataChange, true);
      assert.ok(add.modificationTime >= started - 1000 && add.modificationTime <= afterCreate, `modificationTime of ${add.path}`);
      const stats = JSON.parse(add.stats!) as FileStats;
      const [real] = await rowsOf(`SELECT count(*)::INT AS n, min(id)::INT AS min_id, max(id)::INT AS max_id,
          min(amount) AS min_amount, max(amount) AS max_amount, min(note) AS min_note, max(note) AS max_note,
          (count(*) - count(note))::INT AS note_nulls, min(day)::VARCHAR AS min_day, max(day)::VARCHAR AS max_day
        FROM read_parquet('${file}', hive_partitioning = false)`);
      const columns = await rowsOf(`SELECT column_name FROM (DESCRIBE SELECT * FROM read_parquet('${file}', hive_partitioning = false))`);
      assert.deepEqual(columns.map((c) => c['column_name']), ['id', 'amount', 'note', 'day'], 'partition columns are not stored in data files');
      assert.deepEqual(stats, {
        numRecords: real!['n'],
        minValues: { id: real!['min_id'], amount: real!['min_amount'], note: real!['min_note'], day: real!['min_day'] },
        maxValues: { id: real!['max_id'], amount: real!['max_amount'], note: real!['max_note'], day: real!['max_day'] },
        nullCount: { id: 0, amount: 0, note: real!['note_nulls'], day: 0 },
      }, `stats of ${add.path}`);
    }
    assert.equal(adds0.reduce((n, a) => n + (JSON.parse(a.stats!) as FileStats).numRecords, 0), 12);

    // ---- version 1: append
    const live1Before = new Set(adds0.map((a) => a.path));
    const v1 = await writeSql(engine, table, HISTORY[1]!.sql, { mode: 'append' });
    assert.equal(v1, 1);
    assert.deepEqual(await logDir(location), [commitFileName(0), commitFileName(1)]);
    const a1 = await readActions(location, 1);
    assert.deepEqual(kinds(a1), { commitInfo: 1, add: 2 });
    const [info1] = only<CommitInfo>(a1, 'commitInfo');
    assert.equal(info1!.operation, 'WRITE');
    assert.deepEqual(info1!.operationParameters, { mode: 'Append', partitionBy: '["region"]' });
    assert.equal(info1!.readVersion, 0);
    assert.equal(info1!.isBlindAppend, true);
    assert.match(String(info1!.engineInfo), /^ingot\//);
    const adds1 = only<Add>(a1, 'add');
    assert.deepEqual(adds1.map((a) => a.partitionValues['region']).sort(), ['north', 'west']);
    for (const a of adds1) assert.ok(!live1Before.has(a.path), 'an append adds new files');

    // ---- version 2: overwrite removes every live file
    const live1 = [...(await table.snapshot(1)).files.keys()].sort();
    assert.equal(live1.length, 5);
    const v2 = await writeSql(engine, table, HISTORY[2]!.sql, { mode: 'overwrite' });
    assert.equal(v2, 2);
    assert.deepEqual(await logDir(location), [0, 1, 2].map(commitFileName));
    const a2 = await readActions(location, 2);
    assert.deepEqual(kinds(a2), { commitInfo: 1, remove: 5, add: 2 });
    const [info2] = only<CommitInfo>(a2, 'commitInfo');
    assert.equal(info2!.operation, 'WRITE');
    assert.deepEqual(info2!.operationParameters, { mode: 'Overwrite', partitionBy: '["region"]' });
    assert.equal(info2!.isBlindAppend, false);
    assert.equal(info2!.readVersion, 1);
    const removes2 = only<Remove>(a2, 'remove');
    assert.deepEqual(removes2.map((r) => r.path).sort(), live1);
    for (const r of removes2) {
      assert.equal(r.dataChange, true);
      assert.equal(typeof r.deletionTimestamp, 'number');
      assert.ok(existsSync(path.join(location, decodePath(r.path, location))), 'a removed file stays on disk until vacuum');
    }

    // ---- version 3: replace region = 'north' removes exactly the north files
    const live2 = (await table.snapshot(2)).files;
    const north2 = [...live2.values()].filter((a) => a.partitionValues['region'] === 'north').map((a) => a.path);
    assert.equal(north2.length, 1);
    const v3 = await writeSql(engine, table, HISTORY[3]!.sql, { mode: 'replace', replaceWhere: HISTORY[3]!.replaceWhere });
    assert.equal(v3, 3);
    assert.deepEqual(await logDir(location), [0, 1, 2, 3].map(commitFileName));
    const a3 = await readActions(location, 3);
    assert.deepEqual(kinds(a3), { commitInfo: 1, remove: 1, add: 1 });
    const [info3] = only<CommitInfo>(a3, 'commitInfo');
    assert.equal(info3!.operation, 'WRITE');
    assert.deepEqual(info3!.operationParameters, { mode: 'Overwrite', partitionBy: '["region"]', predicate: `["region = 'north'"]` });
    assert.equal(info3!.isBlindAppend, false);
    assert.deepEqual(only<Remove>(a3, 'remove').map((r) => r.path), north2);
    assert.deepEqual(only<Add>(a3, 'add').map((a) => a.partitionValues), [{ region: 'north' }]);

    const history = await table.history();
    assert.deepEqual(history.map((h) => [h.version, h.operation, h.operationParameters['mode']]), [
      [3, 'WRITE', 'Overwrite'], [2, 'WRITE', 'Overwrite'], [1, 'WRITE', 'Append'], [0, 'CREATE TABLE', 'Append'],
    ]);
    const latest = await table.snapshot();
    assert.equal(latest.version, 3);
    assert.equal(latest.numRecords, 5);
    assert.deepEqual([...latest.files.values()].map((a) => a.partitionValues['region']).sort(), ['north', 'south']);
  });

  test('time travel returns the rows of every older version', async (t) => {
    const location = path.join(scratch(t, 'timetravel'), 'sales');
    const versions = await writeHistory(location);
    assert.deepEqual(versions, [0, 1, 2, 3]);
    const expected = await modelVersions();
    assert.deepEqual(expected.map((r) => r.length), [12, 18, 6, 5], 'the model itself');

    const schema = (await localTable(location).snapshot()).schema;
    const check = async (table: ReturnType<typeof localTable>, version: number | undefined, label: string): Promise<void> => {
      const read = await readWithIngot(engine, table, version);
      const v = version ?? 3;
      assert.equal(read.version, v, `${label}: snapshot version`);
      assert.deepEqual(canonicalRows(schema, read.rows), canonicalRows(schema, expected[v]!), `${label}: rows of version ${v}`);
    };
    // one table object: latest cached first, then older versions, then latest again
    const cached = localTable(location);
    await check(cached, undefined, 'latest');
    for (const v of [0, 2, 1, 3]) await check(cached, v, 'cached table');
    await check(cached, undefined, 'latest after time travel');
    // fresh table objects (no cached snapshot) in each order
    for (const v of [1, 0, 3, 2]) await check(localTable(location), v, 'fresh table');

    // a cached older snapshot must not hide newer commits made by another writer
    const reader = localTable(location);
    assert.equal((await reader.snapshot(1)).version, 1);
    await writeSql(engine, localTable(location), `SELECT 999::BIGINT AS id, 'east' AS region, 1.0::DOUBLE AS amount, 'x' AS note, DATE '2024-05-01' AS day`, { mode: 'append' });
    const latest = await reader.snapshot();
    assert.equal(latest.version, 4);
    assert.equal(latest.numRecords, 6);

    for (const bad of [5, 99, -1]) {
      await assert.rejects(localTable(location).snapshot(bad), (err: unknown) => {
        assert.ok(err instanceof IngotError);
        assert.equal(err.code, 'VERSION_NOT_FOUND');
        assert.match(err.message, new RegExp(`version ${bad} does not exist`));
        return true;
      });
    }
    await assert.rejects(localTable(path.join(location, 'nope')).snapshot(), (err: unknown) => err instanceof IngotError && err.code === 'TABLE_NOT_FOUND');
  });
});

// ---------------------------------------------------------------------------------------------

describe('Snapshot.scan pruning', () => {
  test('prunes by partition values and by min/max/null-count stats, never dropping a matching row', async (t) => {
    const location = path.join(scratch(t, 'pruning'), 'events');
    const table = localTable(location);
    // three batches of 100 ids (0-99, 100-199, 200-299), each spread over three date partitions,
    // plus one batch in the NULL partition: 9 + 1 files with disjoint id/s/ts ranges per batch
    for (let k = 0; k < 3; k++) {
      await writeSql(engine, table, `
        SELECT ${k * 100} + range AS id, DATE '2024-01-01' + (range % 3)::INT AS d, printf('s%03d', ${k * 100} + range) AS s,
               ${k === 2 ? 'NULL::DOUBLE' : `(${k * 100} + range)::DOUBLE`} AS v,
               TIMESTAMP '2024-01-01 00:00:00' + INTERVAL (${k * 100} + range) MINUTE AS ts
        FROM range(100)`, { mode: 'append', partitionBy: ['d'] });
    }
    await writeSql(engine, table, `
      SELECT 1000 + range AS id, NULL::DATE AS d, printf('s%04d', 1000 + range) AS s, (1000 + range)::DOUBLE AS v,
             TIMESTAMP '2024-01-01 00:00:00' + INTERVAL (1000 + range) MINUTE AS ts
      FROM range(5)`, { mode: 'append' });
    const snap = await table.snapshot();
    assert.equal(snap.version, 3);

    const cases: { name: string; filters: Filter[]; sql: string; files: number; rows: number }[] = [
      { name: 'no filter', filters: [], sql: 'true', files: 10, rows: 305 },
      { name: 'partition =', filters: [{ column: 'd', op: '=', value: '2024-01-02' }], sql: `d = DATE '2024-01-02'`, files: 3, rows: 99 },
      { name: 'partition in', filters: [{ column: 'd', op: 'in', value: ['2024-01-01', '2024-01-03'] }], sql: `d IN (DATE '2024-01-01', DATE '2024-01-03')`, files: 6, rows: 201 },
      { name: 'partition >', filters: [{ column: 'd', op: '>', value: '2024-01-01' }], sql: `d > DATE '2024-01-01'`, files: 6, rows: 198 },
      { name: 'partition is null', filters: [{ column: 'd', op: 'is null' }], sql: 'd IS NULL', files: 1, rows: 5 },
      { name: 'partition is not null', filters: [{ column: 'd', op: 'is not null' }], sql: 'd IS NOT NULL', files: 9, rows: 300 },
      { name: 'partition matching nothing', filters: [{ column: 'd', op: '=', value: '2030-01-01' }], sql: `d = DATE '2030-01-01'`, files: 0, rows: 0 },
      { name: 'long >=', filters: [{ column: 'id', op: '>=', value: 250 }], sql: 'id >= 250', files: 4, rows: 55 },
      { name: 'long <', filters: [{ column: 'id', op: '<', value: 100 }], sql: 'id < 100', files: 3, rows: 100 },
      { name: 'long = inside every file range of a batch', filters: [{ column: 'id', op: '=', value: 150 }], sql: 'id = 150', files: 3, rows: 1 },
      { name: 'long range', filters: [{ column: 'id', op: '>=', value: 100 }, { column: 'id', op: '<=', value: 199 }], sql: 'id BETWEEN 100 AND 199', files: 3, rows: 100 },
      { name: 'long above every max', filters: [{ column: 'id', op: '>', value: 2000 }], sql: 'id > 2000', files: 0, rows: 0 },
      { name: 'long in', filters: [{ column: 'id', op: 'in', value: [5, 1002] }], sql: 'id IN (5, 1002)', files: 4, rows: 2 },
      { name: 'partition and stats', filters: [{ column: 'd', op: '=', value: '2024-01-03' }, { column: 'id', op: '=', value: 150 }], sql: `d = DATE '2024-01-03' AND id = 150`, files: 1, rows: 1 },
      { name: 'string =', filters: [{ column: 's', op: '=', value: 's150' }], sql: `s = 's150'`, files: 3, rows: 1 },
      { name: 'string >=', filters: [{ column: 's', op: '>=', value: 's2' }], sql: `s >= 's2'`, files: 3, rows: 100 },
      { name: 'double > skips all-null files', filters: [{ column: 'v', op: '>', value: 0 }], sql: 'v > 0', files: 7, rows: 204 },
      { name: 'double is null keeps only files with nulls', filters: [{ column: 'v', op: 'is null' }], sql: 'v IS NULL', files: 3, rows: 100 },
      { name: 'double is not null skips all-null files', filters: [{ column: 'v', op: 'is not null' }], sql: 'v IS NOT NULL', files: 7, rows: 205 },
      { name: 'timestamp >=', filters: [{ column: 'ts', op: '>=', value: '2024-01-01T03:20:00Z' }], sql: `ts >= TIMESTAMPTZ '2024-01-01 03:20:00+00'`, files: 4, rows: 105 },
      { name: 'timestamp < (partition-value spelling)', filters: [{ column: 'ts', op: '<', value: '2024-01-01 01:40:00' }], sql: `ts < TIMESTAMPTZ '2024-01-01 01:40:00+00'`, files: 3, rows: 100 },
    ];

    const schema = snap.schema;
    const canonical = (rows: Record<string, unknown>[]): Record<string, unknown>[] => canonicalRows(schema, rows);
    for (const c of cases) {
      const files = snap.scan(c.filters);
      assert.equal(files.length, c.files, `${c.name}: files kept (${files.map((f) => f.path).join(', ')})`);
      // the pruned scan returns every matching row the full table has
      await engine.attachTable('prune.full', await scanOf(table, snap));
      await engine.attachTable('prune.pruned', await scanOf(table, snap, c.filters));
      const all = await rowsOf(`SELECT * FROM prune.full WHERE ${c.sql}`);
      const kept = await rowsOf(`SELECT * FROM prune.pruned WHERE ${c.sql}`);
      assert.equal(all.length, c.rows, `${c.name}: matching rows`);
      assert.deepEqual(canonical(kept), canonical(all), `${c.name}: pruning dropped matching rows`);
    }
  });

  // A string partition value '' is written as "" and read back as '': pruning must agree.
  test('pruning agrees with the reader on an empty-string partition value', async (t) => {
    const location = path.join(scratch(t, 'empty-partition'), 't');
    const table = localTable(location);
    await writeSql(engine, table, `SELECT 1::BIGINT AS id, '' AS ps UNION ALL SELECT 2, NULL UNION ALL SELECT 3, 'x'`, { mode: 'append', partitionBy: ['ps'] });
    const snap = await table.snapshot();
    const cases: { filters: Filter[]; sql: string }[] = [
      { filters: [{ column: 'ps', op: '=', value: '' }], sql: `ps = ''` },
      { filters: [{ column: 'ps', op: 'is null' }], sql: 'ps IS NULL' },
      { filters: [{ column: 'ps', op: 'is not null' }], sql: 'ps IS NOT NULL' },
    ];
    await engine.attachTable('empty.full', await scanOf(table, snap));
    for (const c of cases) {
      await engine.attachTable('empty.pruned', await scanOf(table, snap, c.filters));
      const all = (await rowsOf(`SELECT id FROM empty.full WHERE ${c.sql}`)).map((r) => Number(r['id'])).sort();
      const kept = (await rowsOf(`SELECT id FROM empty.pruned WHERE ${c.sql}`)).map((r) => Number(r['id'])).sort();
      assert.deepEqual(kept, all, `${c.sql}: the pruned scan returns what the full scan returns`);
      assert.deepEqual(snap.scan(c.filters).length, all.length, `${c.sql}: one file per matching row here`);
    }
  });
});

// ---------------------------------------------------------------------------------------------

const LOCAL_STORE_URL = pathToFileURL(path.join(REPO_ROOT, 'src', 'storage', 'local.ts')).href;
const HELPERS_URL = pathToFileURL(path.join(REPO_ROOT, 'test', 'helpers.ts')).href;
const ENGINE_URL = pathToFileURL(path.join(REPO_ROOT, 'src', 'engine', 'duckdb', 'engine.ts')).href;

/** Runs an ES module snippet in a separate `node --import tsx` process; returns its stdout. */
async function runNode(code: string, env: Record<string, string>): Promise<string> {
  const { stdout } = await execFileAsync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code], {
    cwd: REPO_ROOT,
    env: { ...process.env, ...env },
    maxBuffer: 16 * 1024 * 1024,
  });
  return stdout;
}

const SALES_ROWS = (first: number, region: string, n = 3): string =>
  `SELECT ${first} + range AS id, '${region}' AS region, (${first} + range)::DOUBLE AS amount FROM range(${n})`;

describe('concurrent writers', () => {
  test('putIfAbsent: of many concurrent writers of one key exactly one wins', async (t) => {
    const store = new LocalStore(scratch(t, 'pia'));
    for (let round = 0; round < 20; round++) {
      const key = `_delta_log/${String(round).padStart(20, '0')}.json`;
      const results = await Promise.all(Array.from({ length: 32 }, (_, i) => store.putIfAbsent(key, `writer ${i}\n`)));
      const winners = results.flatMap((won, i) => (won ? [i] : []));
      assert.equal(winners.length, 1, `round ${round}: winners ${winners.join(', ')}`);
      assert.equal((await store.get(key)).toString(), `writer ${winners[0]}\n`, 'the winner’s body is what is stored');
    }
    const names = await fs.readdir(store.locate('_delta_log'));
    assert.equal(names.length, 20, `no temporary files are left behind: ${names.filter((n) => !n.endsWith('.json')).join(', ')}`);
    assert.equal(await store.putIfAbsent('_delta_log/00000000000000000000.json', 'late'), false);
    assert.equal((await store.get('_delta_log/00000000000000000000.json')).toString().startsWith('writer '), true);
  });

  test('putIfAbsent: exactly one of several processes creates each key', async (t) => {
    const root = scratch(t, 'pia-proc');
    const processes = 6;
    const keys = 40;
    const startAt = String(Date.now() + 1500);
    const code = `
      const { LocalStore } = await import(process.env.LOCAL_STORE_URL);
      const store = new LocalStore(process.env.ROOT);
      while (Date.now() < Number(process.env.START_AT)) await new Promise((r) => setTimeout(r, 1));
      const wins = [];
      for (let k = 0; k < Number(process.env.KEYS); k++) {
        if (await store.putIfAbsent('log/' + k + '.json', process.env.WRITER)) wins.push(k);
      }
      process.stdout.write(JSON.stringify(wins));`;
    const outputs = await Promise.all(Array.from({ length: processes }, (_, w) =>
      runNode(code, { LOCAL_STORE_URL, ROOT: root, START_AT: startAt, KEYS: String(keys), WRITER: `w${w}` })));
    const wins = outputs.map((o) => JSON.parse(o) as number[]);
    const store = new LocalStore(root);
    for (let k = 0; k < keys; k++) {
      const owners = wins.flatMap((ks, w) => (ks.includes(k) ? [w] : []));
      assert.equal(owners.length, 1, `key ${k} was created by ${owners.length} processes`);
      assert.equal((await store.get(`log/${k}.json`)).toString(), `w${owners[0]}`);
    }
    assert.equal((await fs.readdir(path.join(root, 'log'))).length, keys);
  });

  // A concurrent putIfAbsent removes its temporary file between a reader's readdir and stat:
  // listing must not fail.

  test('listing the log while another writer commits never fails', async (t) => {
    const store = new LocalStore(scratch(t, 'list-race'));
    let writing = true;
    const writer = (async () => {
      try {
        for (let i = 0; i < 500; i++) assert.equal(await store.putIfAbsent(`_delta_log/${commitFileName(i)}`, `${i}\n`), true);
      } finally {
        writing = false;
      }
    })();
    let lists = 0;
    let failure: unknown;
    while (writing) {
      try {
        const listed = await store.list('_delta_log');
        for (const o of listed) assert.ok(o.size >= 0);
      } catch (err) {
        failure ??= err;
      }
      lists++;
    }
    await writer;
    assert.equal(failure, undefined, `a list() during commits failed after ${lists} lists: ${String(failure)}`);
    assert.equal((await store.list('_delta_log')).filter((o) => o.key.endsWith('.json')).length, 500);
  });

  test('two blind appends from the same read version both commit, at N+1 and N+2', async (t) => {
    const location = path.join(scratch(t, 'appends'), 'sales');
    await writeSql(engine, localTable(location), SALES_ROWS(0, 'north'), { mode: 'append', partitionBy: ['region'] });
    await writeSql(engine, localTable(location), SALES_ROWS(10, 'south'), { mode: 'append' });
    const n = 1;

    for (const order of ['concurrent', 'sequential'] as const) {
      const a = localTable(location);
      const b = localTable(location);
      const base = (await a.snapshot()).version;
      assert.equal((await b.snapshot()).version, base);
      const pa = await prepareSql(engine, a, SALES_ROWS(100 + base * 10, 'north'), { mode: 'append' });
      const pb = await prepareSql(engine, b, SALES_ROWS(200 + base * 10, 'east'), { mode: 'append' });
      assert.equal(pa.commit.readVersion, base);
      assert.equal(pb.commit.readVersion, base);
      const versions = order === 'concurrent'
        ? await Promise.all([a.commit(pa.commit), b.commit(pb.commit)])
        : [await a.commit(pa.commit), await b.commit(pb.commit)];
      assert.deepEqual([...versions].sort((x, y) => x - y), [base + 1, base + 2], `${order}: versions`);
      for (const v of versions) {
        const actions = await readActions(location, v);
        assert.deepEqual(kinds(actions), { commitInfo: 1, add: 1 }, `${order}: commit ${v}`);
        assert.equal(only<CommitInfo>(actions, 'commitInfo')[0]!.readVersion, base, 'readVersion stays the version the writer read');
      }
      // both writers' caches and a fresh reader see both appends
      for (const reader of [a, b, localTable(location)]) {
        const snap = await reader.snapshot();
        assert.equal(snap.version, base + 2);
        assert.equal(snap.numRecords, 6 + (base - n + 2) * 3);
      }
    }
    assert.deepEqual(await logDir(location), [0, 1, 2, 3, 4, 5].map(commitFileName));
    const rows = (await readWithIngot(engine, localTable(location))).rows;
    assert.deepEqual(rows.map((r) => Number(r['id'])).sort((x, y) => x - y),
      [0, 1, 2, 10, 11, 12, 110, 111, 112, 130, 131, 132, 210, 211, 212, 230, 231, 232]);
  });

  test('two replaces of the same partition from the same read version: one commits, the other fails with COMMIT_CONFLICT', async (t) => {
    const location = path.join(scratch(t, 'replaces'), 'sales');
    await writeSql(engine, localTable(location), `${SALES_ROWS(0, 'north')} UNION ALL ${SALES_ROWS(10, 'south')}`, { mode: 'append', partitionBy: ['region'] });
    const north: Filter[] = [{ column: 'region', op: '=', value: 'north' }];

    for (const order of ['concurrent', 'sequential'] as const) {
      const a = localTable(location);
      const b = localTable(location);
      const base = (await a.snapshot()).version;
      await b.snapshot();
      const pa = await prepareSql(engine, a, SALES_ROWS(500 + base * 10, 'north'), { mode: 'replace', replaceWhere: north });
      const pb = await prepareSql(engine, b, SALES_ROWS(600 + base * 10, 'north'), { mode: 'replace', replaceWhere: north });
      const results = order === 'concurrent'
        ? await Promise.allSettled([a.commit(pa.commit), b.commit(pb.commit)])
        : await (async () => {
            const first = await Promise.allSettled([a.commit(pa.commit)]);
            return [...first, ...(await Promise.allSettled([b.commit(pb.commit)]))];
          })();
      const won = results.flatMap((r, i) => (r.status === 'fulfilled' ? [{ i, version: r.value }] : []));
      const lost = results.flatMap((r) => (r.status === 'rejected' ? [r.reason as unknown] : []));
      assert.equal(won.length, 1, `${order}: exactly one replace commits`);
      assert.equal(won[0]!.version, base + 1);
      assert.equal(lost.length, 1);
      const err = lost[0];
      assert.ok(err instanceof IngotError, `${order}: the loser throws an IngotError, got ${String(err)}`);
      assert.equal(err.code, 'COMMIT_CONFLICT');
      assert.equal(err.context.version, base + 1);
      assert.match(err.message, new RegExp(`concurrent commit ${base + 1} conflicts`));
      if (order === 'sequential') assert.equal(won[0]!.i, 0);

      // no commit beyond the winner's; north holds only the winner's rows, south is untouched
      assert.deepEqual(await logDir(location), Array.from({ length: base + 2 }, (_, v) => commitFileName(v)));
      const winnerFirst = (won[0]!.i === 0 ? 500 : 600) + base * 10;
      const rows = (await readWithIngot(engine, localTable(location))).rows;
      assert.deepEqual(rows.filter((r) => r['region'] === 'north').map((r) => Number(r['id'])).sort((x, y) => x - y), [winnerFirst, winnerFirst + 1, winnerFirst + 2]);
      assert.deepEqual(rows.filter((r) => r['region'] === 'south').map((r) => Number(r['id'])).sort((x, y) => x - y), [10, 11, 12]);
    }
  });

  test('replaces of different partitions from the same read version both commit', async (t) => {
    const location = path.join(scratch(t, 'replaces2'), 'sales');
    await writeSql(engine, localTable(location), `${SALES_ROWS(0, 'north')} UNION ALL ${SALES_ROWS(10, 'south')}`, { mode: 'append', partitionBy: ['region'] });
    const a = localTable(location);
    const b = localTable(location);
    await a.snapshot();
    await b.snapshot();
    const pa = await prepareSql(engine, a, SALES_ROWS(500, 'north'), { mode: 'replace', replaceWhere: [{ column: 'region', op: '=', value: 'north' }] });
    const pb = await prepareSql(engine, b, SALES_ROWS(600, 'south'), { mode: 'replace', replaceWhere: [{ column: 'region', op: '=', value: 'south' }] });
    const versions = await Promise.all([a.commit(pa.commit), b.commit(pb.commit)]);
    assert.deepEqual([...versions].sort((x, y) => x - y), [1, 2]);
    const rows = (await readWithIngot(engine, localTable(location))).rows;
    assert.deepEqual(rows.map((r) => Number(r['id'])).sort((x, y) => x - y), [500, 501, 502, 600, 601, 602]);
  });

  test('an overwrite conflicts with a concurrent append; an append after a concurrent overwrite does not', async (t) => {
    const location = path.join(scratch(t, 'overwrite-race'), 'sales');
    await writeSql(engine, localTable(location), SALES_ROWS(0, 'north'), { mode: 'append', partitionBy: ['region'] });

    const w1 = localTable(location);
    const w2 = localTable(location);
    await w1.snapshot();
    await w2.snapshot();
    const append = await prepareSql(engine, w1, SALES_ROWS(100, 'south'), { mode: 'append' });
    const overwrite = await prepareSql(engine, w2, SALES_ROWS(200, 'east'), { mode: 'overwrite' });
    assert.equal(await w1.commit(append.commit), 1);
    await assert.rejects(w2.commit(overwrite.commit), (err: unknown) => err instanceof IngotError && err.code === 'COMMIT_CONFLICT');

    const w3 = localTable(location);
    const w4 = localTable(location);
    await w3.snapshot();
    await w4.snapshot();
    const overwrite2 = await prepareSql(engine, w3, SALES_ROWS(300, 'east'), { mode: 'overwrite' });
    const append2 = await prepareSql(engine, w4, SALES_ROWS(400, 'west'), { mode: 'append' });
    assert.equal(await w3.commit(overwrite2.commit), 2);
    assert.equal(await w4.commit(append2.commit), 3);
    const rows = (await readWithIngot(engine, localTable(location))).rows;
    assert.deepEqual(rows.map((r) => Number(r['id'])).sort((x, y) => x - y), [300, 301, 302, 400, 401, 402]);
  });

  test('two writers creating the same table: one creates version 0, the other fails with COMMIT_CONFLICT', async (t) => {
    const location = path.join(scratch(t, 'create-race'), 'sales');
    const a = localTable(location);
    const b = localTable(location);
    const pa = await prepareSql(engine, a, SALES_ROWS(0, 'north'), { mode: 'append', partitionBy: ['region'] });
    const pb = await prepareSql(engine, b, SALES_ROWS(100, 'south'), { mode: 'append', partitionBy: ['region'] });
    const results = await Promise.allSettled([a.commit(pa.commit), b.commit(pb.commit)]);
    assert.deepEqual(results.filter((r) => r.status === 'fulfilled').map((r) => r.value), [0]);
    const [lost] = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
    assert.ok(lost?.reason instanceof IngotError && lost.reason.code === 'COMMIT_CONFLICT', `loser error: ${String(lost?.reason)}`);
    assert.deepEqual(await logDir(location), [commitFileName(0)]);
    assert.equal(kinds(await readActions(location, 0))['metaData'], 1);
  });

  test('appends committed by several processes at once land at consecutive versions with no lost write', async (t) => {
    const location = path.join(scratch(t, 'append-procs'), 'sales');
    await writeSql(engine, localTable(location), SALES_ROWS(0, 'north', 1), { mode: 'append', partitionBy: ['region'] });
    const processes = 3;
    const commitsEach = 4;
    const startAt = String(Date.now() + 2500);
    const code = `
      const { DuckDBEngine } = await import(process.env.ENGINE_URL);
      const { localTable, writeSql } = await import(process.env.HELPERS_URL);
      const engine = await DuckDBEngine.open({ threads: 1 });
      const table = localTable(process.env.LOCATION);
      while (Date.now() < Number(process.env.START_AT)) await new Promise((r) => setTimeout(r, 1));
      const versions = [];
      for (let i = 0; i < ${commitsEach}; i++) {
        const first = 1000 * Number(process.env.WRITER) + 10 * i;
        versions.push(await writeSql(engine, table,
          'SELECT ' + first + ' + range AS id, \\'w' + process.env.WRITER + '\\' AS region, 1.0::DOUBLE AS amount FROM range(2)',
          { mode: 'append' }));
      }
      await engine.close();
      process.stdout.write(JSON.stringify(versions));`;
    const outputs = await Promise.all(Array.from({ length: processes }, (_, w) =>
      runNode(code, { ENGINE_URL, HELPERS_URL, LOCATION: location, START_AT: startAt, WRITER: String(w + 1) })));
    const versions = outputs.flatMap((o) => JSON.parse(o) as number[]).sort((x, y) => x - y);
    const total = processes * commitsEach;
    assert.deepEqual(versions, Array.from({ length: total }, (_, i) => i + 1), 'every commit got its own version');
    assert.deepEqual(await logDir(location), Array.from({ length: total + 1 }, (_, v) => commitFileName(v)));
    const snap = await localTable(location).snapshot();
    assert.equal(snap.files.size, 1 + total);
    const rows = (await readWithIngot(engine, localTable(location))).rows;
    assert.equal(rows.length, 1 + 2 * total);
    const expectedIds = [0];
    for (let w = 1; w <= processes; w++) for (let i = 0; i < commitsEach; i++) expectedIds.push(1000 * w + 10 * i, 1000 * w + 10 * i + 1);
    assert.deepEqual(rows.map((r) => Number(r['id'])).sort((x, y) => x - y), expectedIds.sort((x, y) => x - y));
  });
});

// ---------------------------------------------------------------------------------------------

describe('write validation', () => {
  const setup = async (t: { after: (fn: () => void) => void }, name: string): Promise<string> => {
    const location = path.join(scratch(t, name), 'sales');
    await writeSql(engine, localTable(location), `${SALES_ROWS(0, 'north')} UNION ALL ${SALES_ROWS(10, 'south')}`, { mode: 'append', partitionBy: ['region'] });
    return location;
  };
  const expectError = (code: string, check: (err: IngotError) => void) => (err: unknown): boolean => {
    assert.ok(err instanceof IngotError, `expected IngotError ${code}, got ${String(err)}`);
    assert.equal(err.code, code, err.message);
    check(err);
    return true;
  };
  const unchanged = async (location: string): Promise<void> => {
    assert.deepEqual(await logDir(location), [commitFileName(0)], 'nothing was committed');
    const rows = (await readWithIngot(engine, localTable(location))).rows;
    assert.deepEqual(rows.map((r) => Number(r['id'])).sort((x, y) => x - y), [0, 1, 2, 10, 11, 12]);
  };

  test('append with a different schema fails with SCHEMA_MISMATCH naming the column', async (t) => {
    const location = await setup(t, 'schema');
    const table = localTable(location);
    await assert.rejects(
      writeSql(engine, table, `SELECT 20::BIGINT AS id, 'north' AS region, 'lots' AS amount`, { mode: 'append' }),
      expectError('SCHEMA_MISMATCH', (err) => {
        assert.equal(err.context.column, 'amount');
        assert.match(err.message, /column amount is double in the table but string in the write/);
      }),
    );
    await assert.rejects(
      writeSql(engine, table, `SELECT 20::BIGINT AS id, 'north' AS region, 1.0::DOUBLE AS amount, 'x' AS comment`, { mode: 'append' }),
      expectError('SCHEMA_MISMATCH', (err) => {
        assert.equal(err.context.column, 'comment');
        assert.match(err.message, /column comment \(string\) is not in the table schema/);
      }),
    );
    await assert.rejects(
      writeSql(engine, table, `SELECT 20::INTEGER AS id, 'north' AS region, 1.0::DOUBLE AS amount`, { mode: 'append' }),
      expectError('SCHEMA_MISMATCH', (err) => assert.equal(err.context.column, 'id')),
    );
    await assert.rejects(
      writeSql(engine, table, SALES_ROWS(20, 'north'), { mode: 'append', partitionBy: ['id'] }),
      expectError('SCHEMA_MISMATCH', (err) => assert.match(err.message, /partitioned by \(region\), the write by \(id\)/)),
    );
    await unchanged(location);
  });

  test('replace writing a file outside replaceWhere fails with PARTITION_VIOLATION', async (t) => {
    const location = await setup(t, 'violation');
    const table = localTable(location);
    await assert.rejects(
      writeSql(engine, table, `${SALES_ROWS(100, 'north')} UNION ALL ${SALES_ROWS(200, 'south')}`,
        { mode: 'replace', replaceWhere: [{ column: 'region', op: '=', value: 'north' }] }),
      expectError('PARTITION_VIOLATION', (err) => {
        assert.match(String(err.context.file), /^region=south\/[^/]+\.parquet$/);
        assert.match(err.message, /is outside region = 'north'/);
      }),
    );
    // the planner alone, on a file it is handed
    const snap = await table.snapshot();
    assert.throws(() => planWrite(snap, {
      mode: 'replace',
      schema: snap.schema,
      replaceWhere: [{ column: 'region', op: 'in', value: ['north', 'east'] }],
      files: [{ path: 'region=west/f.parquet', size: 1, partitionValues: { region: 'west' }, modificationTime: 0, stats: { numRecords: 1, minValues: {}, maxValues: {}, nullCount: {} } }],
    }), expectError('PARTITION_VIOLATION', (err) => assert.equal(err.context.file, 'region=west/f.parquet')));
    await assert.rejects(
      writeSql(engine, table, SALES_ROWS(100, 'north'), { mode: 'replace', replaceWhere: [{ column: 'id', op: '=', value: 100 }] }),
      expectError('DATASET_INVALID', (err) => assert.equal(err.context.column, 'id')),
    );
    await assert.rejects(
      writeSql(engine, table, SALES_ROWS(100, 'north'), { mode: 'replace' }),
      expectError('DATASET_INVALID', (err) => assert.match(err.message, /replaceWhere/)),
    );
    await unchanged(location);
  });
});

// ---------------------------------------------------------------------------------------------
// issue 19, item 12: data files that are not what the log says

describe('data files the log does not describe (issue 19, item 12)', () => {
  /** A one-file table at `<dir>/t` with rows (1, 'a'), (2, 'b'); returns its location and its one add's raw path. */
  async function oneFileTable(dir: string): Promise<{ location: string; addPath: string }> {
    const location = path.join(dir, 't');
    await writeSql(engine, localTable(location), `SELECT * FROM (VALUES (1, 'a'), (2, 'b')) AS v(id, name)`, { mode: 'append' });
    const [add] = only<Add>(await readActions(location, 0), 'add');
    return { location, addPath: add!.path };
  }

  /** Sets the path of commit 0's add to `newPath`. */
  async function setAddPath(location: string, newPath: string): Promise<void> {
    const file = path.join(location, '_delta_log', commitFileName(0));
    const lines = (await fs.readFile(file, 'utf8')).trim().split('\n').map((l) => JSON.parse(l) as { add?: { path: string } });
    for (const l of lines) if (l.add) l.add.path = newPath;
    await fs.writeFile(file, lines.map((l) => JSON.stringify(l)).join('\n') + '\n');
  }

  const code = (c: string, message?: RegExp) => (err: unknown): boolean => {
    assert.ok(err instanceof IngotError, `an IngotError, got ${String(err)}`);
    assert.equal(err.code, c, err.message);
    if (message) assert.match(err.message, message);
    return true;
  };

  test('a data file replaced by another Parquet file of a different size is refused with FILE_MISMATCH naming the file and both sizes', async (t) => {
    const { location, addPath } = await oneFileTable(scratch(t, 'file-mismatch'));
    const file = path.join(location, decodePath(addPath, location));
    const recorded = (await fs.stat(file)).size;
    // another writer's file in its place: other columns, so a reader trusting it would return NULLs
    await engine.query(`COPY (SELECT range AS other, 'x' || range AS more FROM range(50)) TO '${file.replace(/'/g, "''")}' (FORMAT parquet)`);
    const actual = (await fs.stat(file)).size;
    assert.notEqual(actual, recorded);
    await assert.rejects(readWithIngot(engine, localTable(location)), code('FILE_MISMATCH', new RegExp(`${decodePath(addPath, location).replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} has ${actual} bytes but the Delta log records ${recorded}`)));
    await assert.rejects(readWithIngot(engine, localTable(location)), (err: unknown) => {
      assert.ok(err instanceof IngotError);
      assert.deepEqual([err.context.table, err.context.recordedSize, err.context.actualSize], [path.resolve(location), recorded, actual]);
      return true;
    });
  });

  test('an add path leaving the table root through ../ is refused with LOG_CORRUPT, and the file outside is not read', async (t) => {
    const dir = scratch(t, 'escape');
    const { location, addPath } = await oneFileTable(dir);
    // a Parquet file beside the table, of the same size as the table's own file would need to be
    const outside = path.join(dir, 'outside');
    await fs.mkdir(outside);
    await fs.copyFile(path.join(location, decodePath(addPath, location)), path.join(outside, 'secret.parquet'));
    for (const escape of ['../outside/secret.parquet', 'sub/../../outside/secret.parquet', '%2E%2E/outside/secret.parquet']) {
      await setAddPath(location, escape);
      await assert.rejects(readWithIngot(engine, localTable(location)), code('LOG_CORRUPT', /leaves the table root/), escape);
    }
  });

  test('an absolute URI: under the table root it is read; elsewhere (a shallow clone\'s) too, as a key climbing out of the root', async (t) => {
    const dir = scratch(t, 'absolute');
    const { location, addPath } = await oneFileTable(dir);
    const inside = path.join(location, decodePath(addPath, location));
    await setAddPath(location, pathToFileURL(inside).href);
    const read = await readWithIngot(engine, localTable(location));
    assert.deepEqual(read.rows.map((r) => Number(r['id'])).sort(), [1, 2]);
    const outside = path.join(dir, 'elsewhere.parquet');
    await fs.copyFile(inside, outside);
    await setAddPath(location, pathToFileURL(outside).href);
    assert.equal(decodePath(pathToFileURL(outside).href, location), '../elsewhere.parquet');
    const elsewhere = await readWithIngot(engine, localTable(location));
    assert.deepEqual(elsewhere.rows.map((r) => Number(r['id'])).sort(), [1, 2]);
    // vacuum lists only under the root: the file outside is never a candidate
    await fs.rm(inside);
    const { vacuum } = await import('../src/operations/vacuum.js');
    assert.deepEqual((await vacuum(localTable(location), { retentionHours: 0, enforceRetention: false, dryRun: true })).files.filter((f) => f.includes('elsewhere')), []);
    // on an object store an absolute URI outside the root is still refused
    assert.throws(() => decodePath('s3://other-bucket/t/part-1.parquet', 's3://bucket/t'), code('PROTOCOL_UNSUPPORTED', /lies outside the table root/));
  });
});
