/**
 * Change data: `merge` (insert-only, keep the first arrival) and `apply changes` (SCD type 1
 * and 2) over a generated change feed (fixed seed) with late, out-of-order arrivals, repeated
 * values and deletes, run day by day and as a full refresh. Every table is compared with an
 * independent computation in plain TypeScript over the same feed, and read by delta-rs too.
 * Also `unique(..., { over: 'table' })`.
 */
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { datasetSchema } from '../src/pipeline/definition.js';
import { loadProject } from '../src/project.js';
import { Runner } from '../src/run/runner.js';
import type { DuckDBEngine } from '../src/engine/duckdb/engine.js';
import { tempDir } from './fixtures.js';
import { canonicalRows, readWithDeltaRs, readWithIngot } from './helpers.js';
import { seeded as prng } from '../examples/seeded.js';

// ---------------------------------------------------------------------------------------------
// the change feed

interface Change {
  id: number;
  seq: number;
  /** `2024-01-01 00:00:00` plus `seq` minutes. */
  changed_at: string;
  op: 'U' | 'D';
  name: string;
  amount: number | null;
  /** Index of the day the change lands (its file's day). */
  arrival: number;
  file: 'a.csv' | 'b.csv';
}

const DAYS = ['2024-03-01', '2024-03-02', '2024-03-03', '2024-03-04', '2024-03-05'];
/** A day after the generated ones, for single changes written by the tests. */
const EXTRA_DAY = '2024-03-06';
const dayOf = (c: Change): string => [...DAYS, EXTRA_DAY][c.arrival]!;
const NAMES = ['ada', 'bo', 'cy', 'di'];

function changedAt(seq: number): string {
  const d = new Date(Date.UTC(2024, 0, 1) + seq * 60_000);
  return d.toISOString().replace('T', ' ').slice(0, 19);
}

/**
 * 40 changes a day over 30 keys; sequence numbers follow creation, but a fifth of the changes
 * land one or two days late; 12 % are deletes; a quarter of the updates repeat the key's
 * previous values; some amounts are NULL. Each day's changes are shuffled over two files.
 */
function generateFeed(seed: number): Change[] {
  const rnd = prng(seed);
  const last = new Map<number, { name: string; amount: number | null }>();
  const feed: Change[] = [];
  let seq = 0;
  for (let day = 0; day < DAYS.length; day++) {
    for (let i = 0; i < 40; i++) {
      const id = Math.floor(rnd() * 30);
      seq += 1 + Math.floor(rnd() * 3);
      const op = rnd() < 0.12 ? 'D' : 'U';
      const prev = last.get(id);
      const values = op === 'U' && prev && rnd() < 0.25 ? prev : { name: NAMES[Math.floor(rnd() * NAMES.length)]!, amount: rnd() < 0.05 ? null : Math.floor(rnd() * 1000) };
      if (op === 'U') last.set(id, values);
      const arrival = Math.min(DAYS.length - 1, day + (rnd() < 0.2 ? 1 + Math.floor(rnd() * 2) : 0));
      feed.push({ id, seq, changed_at: changedAt(seq), op, ...values, arrival, file: rnd() < 0.5 ? 'a.csv' : 'b.csv' });
    }
  }
  return feed;
}

/** The feed's files: `landing/changes/day=<day>/{a,b}.csv`, rows shuffled. */
async function writeFeed(dir: string, feed: Change[], seed: number): Promise<void> {
  const rnd = prng(seed + 1);
  for (const [d, day] of DAYS.entries()) {
    for (const file of ['a.csv', 'b.csv'] as const) {
      const rows = feed.filter((c) => c.arrival === d && c.file === file);
      for (let i = rows.length - 1; i > 0; i--) {
        const j = Math.floor(rnd() * (i + 1));
        [rows[i], rows[j]] = [rows[j]!, rows[i]!];
      }
      await writeCsv(dir, day, file, rows);
    }
  }
}

async function writeCsv(dir: string, day: string, file: string, rows: Change[]): Promise<void> {
  const folder = path.join(dir, 'landing', 'changes', `day=${day}`);
  await fs.mkdir(folder, { recursive: true });
  const lines = ['id,seq,changed_at,op,name,amount', ...rows.map((c) => [c.id, c.seq, c.changed_at, c.op, c.name, c.amount ?? ''].join(','))];
  await fs.writeFile(path.join(folder, file), lines.join('\n') + '\n');
}

// ---------------------------------------------------------------------------------------------
// the project

const FEED_SQL = 'SELECT id, seq, changed_at, op, name, amount FROM bronze.changes WHERE day >= {{start}} AND day < {{end}}';

async function writeProject(dir: string): Promise<void> {
  const ds = path.join(dir, 'datasets');
  await fs.mkdir(path.join(ds, 'bronze'), { recursive: true });
  await fs.mkdir(path.join(ds, 'silver'), { recursive: true });
  await fs.writeFile(path.join(dir, 'ingot.config.ts'), "import { defineConfig } from 'ingot';\nexport default defineConfig({ lake: './lake' });\n");
  const def = (o: Record<string, unknown>): string => `export default ${JSON.stringify(o, null, 2)};\n`;
  await fs.writeFile(path.join(ds, 'bronze', 'changes.ts'), def({
    name: 'bronze.changes',
    source: { kind: 'files', path: 'landing/changes/day={day}/*.csv', format: 'csv',
      columns: { id: 'INTEGER', seq: 'BIGINT', changed_at: 'TIMESTAMP', op: 'VARCHAR', name: 'VARCHAR', amount: 'INTEGER' } },
    materialization: 'replace partition',
    partitionBy: ['day'],
  }));
  // insert-only straight from the files (the media system's rule), in the default order: the
  // file (`_source`), then the columns (id, seq, ...)
  await fs.writeFile(path.join(ds, 'bronze', 'first_seen.ts'), def({
    name: 'bronze.first_seen',
    source: { kind: 'files', path: 'landing/changes/day={day}/*.csv', format: 'csv',
      columns: { id: 'INTEGER', seq: 'BIGINT', changed_at: 'TIMESTAMP', op: 'VARCHAR', name: 'VARCHAR', amount: 'INTEGER' } },
    materialization: 'merge', key: ['id'], partitionBy: ['day'],
  }));
  // insert-only: the first arrival by change time, and by the default order (file, then values)
  await fs.writeFile(path.join(ds, 'silver', 'first_by_time.ts'), def({
    name: 'silver.first_by_time', sql: FEED_SQL, materialization: 'merge', key: ['id'], orderBy: 'changed_at',
  }));
  await fs.writeFile(path.join(ds, 'silver', 'first_default.ts'), def({
    name: 'silver.first_default',
    sql: 'SELECT id, name, amount, _source FROM bronze.changes WHERE day >= {{start}} AND day < {{end}}',
    materialization: 'merge', key: ['id'],
  }));
  // partitioned, so that a run touching one key shows that only that key's file is rewritten
  await fs.writeFile(path.join(ds, 'silver', 'scd1.ts'), def({
    name: 'silver.scd1', sql: FEED_SQL.replace('amount FROM', 'amount, id % 3 AS bucket FROM'), partitionBy: ['bucket'], materialization: 'apply changes', key: ['id'],
    changes: { sequenceBy: 'seq', deleteWhen: "op = 'D'", exceptColumns: ['op'] },
  }));
  // the same through .sql directives
  await fs.writeFile(path.join(ds, 'silver', 'scd2.sql'), [
    '-- materialization: apply changes', '-- key: id', '-- sequence_by: changed_at', "-- delete_when: op = 'D'", '-- scd_type: 2', '-- except_columns: op, seq', FEED_SQL,
  ].join('\n'));
}

// ---------------------------------------------------------------------------------------------
// the reference computations, run by run (each `batches` entry is one run's changes)

type Row = Record<string, unknown>;

/** Insert-only: per run, the first row of each key by `before`; keys already present skipped. */
function referenceFirst(batches: Change[][], before: (a: Change, b: Change) => number, project: (c: Change) => Row): Row[] {
  const table = new Map<number, Row>();
  for (const batch of batches) {
    const first = new Map<number, Change>();
    for (const c of [...batch].sort(before)) if (!first.has(c.id)) first.set(c.id, c);
    for (const [id, c] of first) if (!table.has(id)) table.set(id, project(c));
  }
  return [...table.values()];
}

/** SCD1: per run, the latest change of each key applies if newer than the row; deletes remove. */
function referenceScd1(batches: Change[][]): Row[] {
  const table = new Map<number, Change>();
  for (const batch of batches) {
    const latest = new Map<number, Change>();
    for (const c of batch) if ((latest.get(c.id)?.seq ?? -1) < c.seq) latest.set(c.id, c);
    for (const [id, c] of latest) {
      const row = table.get(id);
      if (row && c.seq <= row.seq) continue;
      if (c.op === 'D') table.delete(id);
      else table.set(id, c);
    }
  }
  return [...table.values()].map((c) => ({ id: c.id, seq: c.seq, changed_at: c.changed_at, name: c.name, amount: c.amount, bucket: c.id % 3 }));
}

interface Version { changed_at: string; name: string; amount: number | null; valid_from: string; valid_to: string | null }

/**
 * SCD2: per run and key, the events the history records (versions; a version closed where no
 * other starts was closed by a delete) plus the run's changes not recorded yet, replayed in
 * time order through a state machine (open / closed).
 */
function referenceScd2(batches: Change[][]): Row[] {
  const history = new Map<number, Version[]>();
  for (const batch of batches) {
    for (const id of new Set(batch.map((c) => c.id))) {
      const versions = history.get(id) ?? [];
      const events: { at: string; del: boolean; name: string; amount: number | null; changed_at: string }[] = [];
      for (const v of versions) {
        events.push({ at: v.valid_from, del: false, name: v.name, amount: v.amount, changed_at: v.changed_at });
        if (v.valid_to !== null && !versions.some((w) => w.valid_from === v.valid_to)) events.push({ at: v.valid_to, del: true, name: '', amount: null, changed_at: '' });
      }
      for (const c of batch.filter((x) => x.id === id)) {
        if (!events.some((e) => e.at === c.changed_at)) events.push({ at: c.changed_at, del: c.op === 'D', name: c.name, amount: c.amount, changed_at: c.changed_at });
      }
      events.sort((a, b) => (a.at < b.at ? -1 : 1));
      const next: Version[] = [];
      let open: Version | undefined;
      for (const e of events) {
        if (e.del) {
          if (open) open.valid_to = e.at;
          open = undefined;
        } else if (!open || open.name !== e.name || open.amount !== e.amount) {
          if (open) open.valid_to = e.at;
          open = { changed_at: e.changed_at, name: e.name, amount: e.amount, valid_from: e.at, valid_to: null };
          next.push(open);
        }
      }
      history.set(id, next);
    }
  }
  return [...history].flatMap(([id, vs]) => vs.map((v) => ({ id, changed_at: v.changed_at, name: v.name, amount: v.amount, valid_from: v.valid_from, valid_to: v.valid_to, is_current: v.valid_to === null })));
}

// ---------------------------------------------------------------------------------------------

/** Rows as comparable text: sorted JSON lines with timestamps cut to seconds. */
function normalize(rows: Row[]): string[] {
  const value = (v: unknown): unknown => (typeof v === 'string' && /^\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}:\d{2}/.test(v) ? v.slice(0, 19).replace('T', ' ') : typeof v === 'bigint' ? Number(v) : v);
  return rows.map((r) => JSON.stringify(Object.fromEntries(Object.keys(r).sort().map((k) => [k, value(r[k])])))).sort();
}

async function tableRows(runner: Runner, name: string): Promise<Row[]> {
  const read = await readWithIngot(runner.engine as DuckDBEngine, runner.lake.table(name));
  return read.rows.map((r) => Object.fromEntries(Object.entries(r).map(([k, v]) => [k, typeof v === 'string' && /^-?\d+$/.test(v) && k === 'seq' ? Number(v) : v])));
}

/** The table as delta-rs reads it equals ingot's read. */
async function assertDeltaRsAgrees(runner: Runner, name: string): Promise<void> {
  const ours = await readWithIngot(runner.engine as DuckDBEngine, runner.lake.table(name));
  const rs = readWithDeltaRs(runner.lake.table(name).location);
  assert.equal(rs.version, ours.version, `${name}: version`);
  const opts = { naiveTimestampsAreUtc: true };
  assert.deepEqual(canonicalRows(ours.schema, rs.rows, opts), canonicalRows(ours.schema, ours.rows, opts), `${name}: delta-rs read`);
}

const byTime = (a: Change, b: Change): number => (a.changed_at < b.changed_at ? -1 : a.changed_at > b.changed_at ? 1 : 0);
/** The default order of `merge`: `_source` (the file), then the output's columns (id, name, amount NULLS LAST). */
const defaultOrder = (dayOf: (c: Change) => string) => (a: Change, b: Change): number => {
  const key = (c: Change): [string, number, string, number] => [`${dayOf(c)}/${c.file}`, c.id, c.name, c.amount ?? Number.MAX_SAFE_INTEGER];
  const [x, y] = [key(a), key(b)];
  for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) return x[i]! < y[i]! ? -1 : 1;
  return 0;
};
const fileThenSeq = (a: Change, b: Change): number => {
  const [x, y] = [`${dayOf(a)}/${a.file}`, `${dayOf(b)}/${b.file}`];
  return x !== y ? (x < y ? -1 : 1) : a.id !== b.id ? a.id - b.id : a.seq - b.seq;
};
const firstSeenRow = (c: Change): Row => ({ id: c.id, seq: c.seq, day: dayOf(c), _source: `landing/changes/day=${dayOf(c)}/${c.file}` });
/** bronze.first_seen without the columns that vary by run (`_ingested_at`, `_run_id`). */
async function firstSeen(runner: Runner): Promise<Row[]> {
  return (await tableRows(runner, 'bronze.first_seen')).map((r) => ({ id: r['id'], seq: r['seq'], day: r['day'], _source: r['_source'] }));
}
const firstByTimeRow = (c: Change): Row => ({ id: c.id, seq: c.seq, changed_at: c.changed_at, op: c.op, name: c.name, amount: c.amount });
const firstDefaultRow = (c: Change): Row => ({ id: c.id, name: c.name, amount: c.amount, _source: `landing/changes/day=${dayOf(c)}/${c.file}` });

describe('change data: merge and apply changes', () => {
  const SEED = 20240301;
  const feed = generateFeed(SEED);
  const batches = DAYS.map((_d, i) => feed.filter((c) => c.arrival === i));
  let dir: string;
  let cleanup: () => Promise<void>;
  let runner: Runner;

  before(async () => {
    ({ dir, cleanup } = await tempDir('changes'));
    await writeProject(dir);
    await writeFeed(dir, feed, SEED);
    runner = await Runner.open(await loadProject(dir));
  });
  after(async () => {
    await runner.close();
    await cleanup();
  });

  it('the feed has what the tests need: late arrivals, repeated values, deletes, keys in several files of a day', () => {
    const late = feed.filter((c) => batches.slice(0, c.arrival).some((b) => b.some((x) => x.id === c.id && x.seq > c.seq)));
    assert.ok(late.length >= 5, `changes older than one already loaded for their key: ${late.length}`);
    assert.ok(feed.filter((c) => c.op === 'D').length >= 10);
    assert.ok(batches.every((b) => new Set(b.map((c) => c.id)).size < b.length), 'every day has several changes of some key');
  });

  it('runs day by day: each table equals the reference computation after every run, and delta-rs reads the same', async () => {
    for (const [i, day] of DAYS.entries()) {
      const result = await runner.run(day);
      assert.equal(result.status, 'success', result.error);
      const upTo = batches.slice(0, i + 1);
      assert.deepEqual(normalize(await tableRows(runner, 'silver.first_by_time')), normalize(referenceFirst(upTo, byTime, firstByTimeRow)), `first_by_time after ${day}`);
      assert.deepEqual(normalize(await tableRows(runner, 'silver.first_default')), normalize(referenceFirst(upTo, defaultOrder(dayOf), firstDefaultRow)), `first_default after ${day}`);
      assert.deepEqual(normalize(await firstSeen(runner)), normalize(referenceFirst(upTo, fileThenSeq, firstSeenRow)), `first_seen after ${day}`);
      const bronze = result.datasets.find((d) => d.dataset === 'bronze.first_seen')!;
      assert.equal(bronze.rowsIn, batches[i]!.length);
      assert.deepEqual(normalize(await tableRows(runner, 'silver.scd1')), normalize(referenceScd1(upTo)), `scd1 after ${day}`);
      assert.deepEqual(normalize(await tableRows(runner, 'silver.scd2')), normalize(referenceScd2(upTo)), `scd2 after ${day}`);
    }
    for (const name of ['bronze.first_seen', 'silver.first_by_time', 'silver.first_default', 'silver.scd1', 'silver.scd2']) {
      await assertDeltaRsAgrees(runner, name);
      const [last] = await runner.lake.table(name).history(1);
      assert.equal(last!.operation, 'MERGE', `${name} is merged into`);
    }
    // SCD2 sanity, independently of the reference: one current row per live key, no overlaps
    const scd2 = await tableRows(runner, 'silver.scd2');
    const current = scd2.filter((r) => r['is_current'] === true).map((r) => r['id']);
    assert.equal(new Set(current).size, current.length);
    assert.ok(scd2.length > current.length + 20, 'history holds closed versions');
  });

  it('a run that fails (two changes of a key with the same sequence) leaves every table unchanged', async () => {
    const versions = async (): Promise<number[]> => Promise.all(['bronze.changes', 'silver.scd1', 'silver.scd2', 'silver.first_by_time'].map(async (n) => (await runner.lake.table(n).snapshot()).version));
    const before = await versions();
    const rowsBefore = normalize(await tableRows(runner, 'silver.scd1'));
    const clash: Change[] = [
      { id: 7, seq: 100_000, changed_at: changedAt(100_000), op: 'U', name: 'ada', amount: 1, arrival: 5, file: 'a.csv' },
      { id: 7, seq: 100_000, changed_at: changedAt(100_000), op: 'U', name: 'bo', amount: 2, arrival: 5, file: 'a.csv' },
      { id: 8, seq: 100_001, changed_at: changedAt(100_001), op: 'U', name: 'cy', amount: 3, arrival: 5, file: 'a.csv' },
    ];
    await writeCsv(dir, EXTRA_DAY, 'a.csv', clash);
    const result = await runner.run(EXTRA_DAY);
    assert.equal(result.status, 'failed');
    assert.match(result.error ?? '', /silver\.scd1: 2 changes of key \{"id":7\} have the same seq 100000/);
    assert.deepEqual(await versions(), before);
    assert.deepEqual(normalize(await tableRows(runner, 'silver.scd1')), rowsBefore);
    // a NULL key fails the run too, naming the dataset (a files source: not reported as unreadable input)
    await fs.writeFile(path.join(dir, 'landing', 'changes', `day=${EXTRA_DAY}`, 'a.csv'), 'id,seq,changed_at,op,name,amount\n,300000,2024-06-01 00:00:00,U,ada,1\n');
    const nullKey = await runner.run(EXTRA_DAY);
    assert.equal(nullKey.status, 'failed');
    assert.match(nullKey.error ?? '', /^bronze\.first_seen: 1 output rows have a NULL in key \(id\)/);
    assert.deepEqual(await versions(), before);
    await fs.rm(path.join(dir, 'landing', 'changes', `day=${EXTRA_DAY}`), { recursive: true });
  });

  it('a run changing one key rewrites only the file holding it', async () => {
    const scd1 = runner.lake.table('silver.scd1');
    const files = (await scd1.snapshot()).files.size;
    assert.equal(files, 3, 'one file per bucket');
    const one: Change = { id: 4, seq: 200_000, changed_at: changedAt(200_000), op: 'U', name: 'zed', amount: 5, arrival: DAYS.length, file: 'a.csv' };
    await writeCsv(dir, EXTRA_DAY, 'a.csv', [one]);
    const result = await runner.run(EXTRA_DAY);
    assert.equal(result.status, 'success', result.error);
    const [merge] = await scd1.history(1);
    assert.equal(merge!.operation, 'MERGE');
    assert.deepEqual([merge!.operationMetrics['numRemovedFiles'], merge!.operationMetrics['numAddedFiles'], merge!.operationMetrics['numTargetRowsUpdated']], ['1', '1', '1']);
    assert.equal((await scd1.snapshot()).files.size, 3);
    batches.push([one]);
    feed.push(one);
    assert.deepEqual(normalize(await tableRows(runner, 'silver.scd1')), normalize(referenceScd1(batches)));
    assert.deepEqual(normalize(await tableRows(runner, 'silver.scd2')), normalize(referenceScd2(batches)));
  });

  it('a full refresh rebuilds each table from the whole feed as one batch', async () => {
    const result = await runner.run(undefined);
    assert.equal(result.status, 'success', result.error);
    const all = [feed];
    assert.deepEqual(normalize(await tableRows(runner, 'silver.first_by_time')), normalize(referenceFirst(all, byTime, firstByTimeRow)));
    assert.deepEqual(normalize(await tableRows(runner, 'silver.first_default')), normalize(referenceFirst(all, defaultOrder(dayOf), firstDefaultRow)));
    assert.deepEqual(normalize(await firstSeen(runner)), normalize(referenceFirst(all, fileThenSeq, firstSeenRow)));
    assert.deepEqual(normalize(await tableRows(runner, 'silver.scd1')), normalize(referenceScd1(all)));
    assert.deepEqual(normalize(await tableRows(runner, 'silver.scd2')), normalize(referenceScd2(all)));
    await assertDeltaRsAgrees(runner, 'silver.scd2');
  });
});

describe('keyed dataset definitions', () => {
  it('are validated: key with merge / apply changes only, changes with apply changes only, except columns', () => {
    const base = { name: 'silver.x', sql: 'SELECT 1 AS id' };
    const errors = (d: Record<string, unknown>): string[] => {
      const r = datasetSchema.safeParse({ ...base, ...d });
      return r.success ? [] : r.error.issues.map((i) => i.message);
    };
    assert.deepEqual(errors({ materialization: 'merge', key: ['id'], orderBy: 'ts' }), []);
    assert.deepEqual(errors({ materialization: 'apply changes', key: ['id'], changes: { sequenceBy: 'seq', scdType: 2, exceptColumns: ['seq'] } }), []);
    assert.match(errors({ materialization: 'merge' }).join(), /need key/);
    assert.match(errors({ materialization: 'append', key: ['id'] }).join(), /need key/);
    assert.match(errors({ materialization: 'apply changes', key: ['id'] }).join(), /needs changes/);
    assert.match(errors({ materialization: 'apply changes', key: ['id'], changes: { sequenceBy: 'seq', exceptColumns: ['seq'] } }).join(), /exceptColumns cannot hold/);
    assert.match(errors({ materialization: 'apply changes', key: ['id'], changes: { sequenceBy: 'seq', scdType: 3 } }).join(), /./);
  });
});

describe('unique over the table', () => {
  const DAYS_IDS: [string, (number | null)[]][] = [
    ['2024-01-01', [1, 2, 3, null]],
    ['2024-01-02', [3, 4, 4, 5, null]],
    ['2024-01-03', [1, 6, 7, 7, 7]],
  ];
  const values = DAYS_IDS.flatMap(([day, ids]) => ids.map((id, i) => `(DATE '${day}', ${id ?? 'NULL'}, ${i})`)).join(', ');
  const sql = `SELECT * FROM (VALUES ${values}) AS t(day, order_id, line) WHERE day >= {{start}} AND day < {{end}}`;

  /** Per run: the order ids that fail (NULL passes), given the ids the table holds. */
  function failing(ids: (number | null)[], table: Set<number>, over: 'table' | 'batch'): (number | null)[] {
    return ids.filter((id) => id !== null && (ids.filter((x) => x === id).length > 1 || (over === 'table' && table.has(id))));
  }

  it('fails batch rows whose key the committed table holds, or that the batch holds twice; full refresh compares with nothing', async (t) => {
    const { dir, cleanup } = await tempDir('unique-table');
    t.after(cleanup);
    await fs.mkdir(path.join(dir, 'datasets', 'silver'), { recursive: true });
    await fs.writeFile(path.join(dir, 'ingot.config.ts'), "import { defineConfig } from 'ingot';\nexport default defineConfig({ lake: './lake' });\n");
    for (const over of ['table', 'batch'] as const) {
      await fs.writeFile(path.join(dir, 'datasets', 'silver', `orders_${over}.ts`), `import { dataset, unique } from 'ingot';
export default dataset({
  name: 'silver.orders_${over}', sql: ${JSON.stringify(sql)}, materialization: 'append',
  expectations: [unique('order_id', { over: '${over}', action: 'quarantine' })],
});
`);
    }
    const runner = await Runner.open(await loadProject(dir));
    t.after(() => runner.close());
    const ids = async (name: string): Promise<(number | null)[]> => (await tableRows(runner, name)).map((r) => r['order_id'] as number | null);
    const sortIds = (xs: (number | null)[]): string[] => xs.map(String).sort();
    const kept = { table: [] as (number | null)[], batch: [] as (number | null)[] };
    const quarantined = { table: [] as (number | null)[], batch: [] as (number | null)[] };
    for (const [day, dayIds] of DAYS_IDS) {
      const result = await runner.run(day);
      assert.equal(result.status, 'success', result.error);
      for (const over of ['table', 'batch'] as const) {
        const fail = failing(dayIds, new Set(kept[over].filter((x): x is number => x !== null)), over);
        const keptNow = [...dayIds];
        for (const f of fail) keptNow.splice(keptNow.indexOf(f), 1);
        kept[over].push(...keptNow);
        quarantined[over].push(...fail);
        const r = result.datasets.find((d) => d.dataset === `silver.orders_${over}`)!;
        assert.deepEqual(r.expectations.map((e) => [e.name, e.failed]), [['order_id_unique', fail.length]], `${over} on ${day}`);
        assert.deepEqual(sortIds(await ids(`silver.orders_${over}`)), sortIds(kept[over]), `${over} on ${day}`);
      }
    }
    assert.deepEqual(sortIds(await ids('silver.orders_table_quarantine')), sortIds(quarantined.table));
    assert.deepEqual(sortIds(await ids('silver.orders_batch_quarantine')), sortIds(quarantined.batch));
    assert.ok(quarantined.table.length > quarantined.batch.length, 'the table check catches more');

    const full = await runner.run(undefined);
    assert.equal(full.status, 'success', full.error);
    const all = DAYS_IDS.flatMap(([, xs]) => xs);
    const fail = failing(all, new Set(), 'batch');
    const r = full.datasets.find((d) => d.dataset === 'silver.orders_table')!;
    assert.equal(r.expectations[0]!.failed, fail.length);
    assert.equal((await ids('silver.orders_table')).length, all.length - fail.length);
  });
});

describe('apply changes with insertOnly columns', () => {
  // (day, id, seq, op, v): key 2 updated later, key 3 gets a late older change, key 4 deleted then inserted again
  const CHANGES: [string, number, number, string, string][] = [
    ['2024-01-01', 1, 1, 'U', 'a'], ['2024-01-01', 2, 2, 'U', 'b'], ['2024-01-01', 3, 5, 'U', 'c'], ['2024-01-01', 4, 3, 'U', 'd'],
    ['2024-01-02', 2, 6, 'U', 'b2'], ['2024-01-02', 3, 4, 'U', 'stale'], ['2024-01-02', 4, 7, 'D', ''], ['2024-01-02', 5, 8, 'U', 'e'],
    ['2024-01-03', 2, 9, 'U', 'b3'], ['2024-01-03', 4, 10, 'U', 'd2'], ['2024-01-03', 5, 11, 'U', 'e2'], ['2024-01-03', 5, 12, 'U', 'e3'],
  ];
  const values = CHANGES.map(([day, id, seq, op, v]) => `(DATE '${day}', ${id}, ${seq}, '${op}', '${v}')`).join(', ');

  /** Per run: the latest change per key applies if newer; an update keeps `first_day`, an insert sets it to the run's day. */
  function reference(upTo: string): Row[] {
    const table = new Map<number, { seq: number; v: string; first_day: string; last_day: string }>();
    for (const day of [...new Set(CHANGES.map((c) => c[0]))].filter((d) => d <= upTo)) {
      const latest = new Map<number, [string, number, number, string, string]>();
      for (const c of CHANGES.filter((x) => x[0] === day)) if ((latest.get(c[1])?.[2] ?? -1) < c[2]) latest.set(c[1], c);
      for (const [id, [, , seq, op, v]] of latest) {
        const row = table.get(id);
        if (row && seq <= row.seq) continue;
        if (op === 'D') table.delete(id);
        else table.set(id, { seq, v, first_day: row?.first_day ?? day, last_day: day });
      }
    }
    return [...table].map(([id, r]) => ({ id, ...r }));
  }

  it('keeps the values a key was inserted with on update; a key deleted and inserted again starts over', async (t) => {
    const { dir, cleanup } = await tempDir('insert-only');
    t.after(cleanup);
    await fs.mkdir(path.join(dir, 'datasets', 'silver'), { recursive: true });
    await fs.writeFile(path.join(dir, 'ingot.config.ts'), "import { defineConfig } from 'ingot';\nexport default defineConfig({ lake: './lake' });\n");
    await fs.writeFile(path.join(dir, 'datasets', 'silver', 'items.sql'), [
      '-- materialization: apply changes', '-- key: id', '-- sequence_by: seq', "-- delete_when: op = 'D'", '-- except_columns: op', '-- insert_only: first_day',
      `SELECT id, seq, op, v, day AS first_day, day AS last_day FROM (VALUES ${values}) AS t(day, id, seq, op, v) WHERE day >= {{start}} AND day < {{end}}`,
    ].join('\n'));
    const runner = await Runner.open(await loadProject(dir));
    t.after(() => runner.close());
    for (const day of ['2024-01-01', '2024-01-02', '2024-01-03']) {
      const result = await runner.run(day);
      assert.equal(result.status, 'success', result.error);
      assert.deepEqual(normalize(await tableRows(runner, 'silver.items')), normalize(reference(day)), `after ${day}`);
    }
    const rows = await tableRows(runner, 'silver.items');
    assert.ok(rows.some((r) => String(r['first_day']) !== String(r['last_day'])), 'some rows were updated after their insert');
  });

  it('is validated: SCD type 1 only, never the key, the sequence or an except column', () => {
    const errors = (changes: Record<string, unknown>): string => {
      const r = datasetSchema.safeParse({ name: 'silver.x', sql: 'SELECT 1 AS id', materialization: 'apply changes', key: ['id'], changes });
      return r.success ? '' : r.error.issues.map((i) => i.message).join();
    };
    assert.equal(errors({ sequenceBy: 'seq', insertOnly: ['first_day'] }), '');
    for (const bad of [{ scdType: 2, insertOnly: ['first_day'] }, { insertOnly: ['id'] }, { insertOnly: ['seq'] }, { exceptColumns: ['op'], insertOnly: ['op'] }]) {
      assert.match(errors({ sequenceBy: 'seq', ...bad }), /insertOnly is for SCD type 1/, JSON.stringify(bad));
    }
  });
});
