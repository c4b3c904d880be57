/**
 * The change data feed against Apache Spark (pyspark + delta-spark, one local session for every
 * check: `test/reference/change_feed_spark.py`): Spark's `readChangeFeed` reads the feed of tables
 * ingot wrote (appends, updates, deletes, merges, whole-file deletes, an overwrite; partitioned
 * and not) exactly as ingot's `table_changes` does, and `table_changes` reads the feed of tables
 * Spark wrote (UPDATE, DELETE, MERGE under `delta.enableChangeDataFeed`) exactly as Spark does:
 * same rows, `_change_type` and `_commit_version`. The conformance tables with a change feed
 * (/work/shared/conformance/delta, written by Spark, delta-rs and Databricks) are read by ingot as
 * by Spark and delta-rs's `load_cdf`. Needs python3 with pyspark, delta-spark and deltalake, and
 * Java 17; fails (never skips) without them.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { DuckDBEngine } from '../src/engine/duckdb/engine.js';
import { LocalStore } from '../src/storage/local.js';
import { DeltaTable } from '../src/table/table.js';
import { cli, ROOT, tempDir } from './fixtures.js';
import { runSpark, writeChangeHistory, writeSql } from './helpers.js';

const PYTHON = process.env['INGOT_PYTHON'] ?? 'python3';
const CONFORMANCE = process.env['INGOT_CONFORMANCE'] ?? '/work/shared/conformance/delta';

/** Conformance tables with a change feed, and the first version their log still holds. */
const CONFORMANCE_TABLES: { name: string; from: number }[] = [
  { name: 'delta-rs/cdf-table', from: 0 },
  { name: 'delta-rs/cdf-table-non-partitioned', from: 0 },
  { name: 'delta-rs/cdf-table-with-cdc-and-dvs', from: 0 },
  { name: 'delta-rs/checkpoint-cdf-table', from: 3 },
  { name: 'delta-rs/cdc_ict_table', from: 0 },
  { name: 'delta-rs/simple_table_with_cdc', from: 0 },
];

interface SparkFeed { path: string; columns?: string[]; rows?: unknown[][]; error?: string }

const key = (r: unknown): string => JSON.stringify(r);
const sorted = (rows: unknown[][]): string[] => rows.map(key).sort();

/** ingot's `table_changes` of the table at `location` from `from` to `to` (latest when undefined): rows of `columns`. */
async function ingotFeed(location: string, columns: string[], from: number, to?: number): Promise<unknown[][]> {
  const cols = columns.map((c) => `"${c}"`).join(', ');
  const out = await cli(['sql', '--table', `x.t=${location}`, '--format', 'json', `SELECT ${cols} FROM table_changes('x.t', ${from}${to === undefined ? '' : `, ${to}`})`]);
  assert.equal(out.code, 0, `${location}: ${out.err}`);
  return (JSON.parse(out.out) as Record<string, unknown>[]).map((r) => columns.map((c) => r[c]));
}

/** delta-rs's `load_cdf` of `location` from `from`: rows of `columns` (dates as ISO text, integers beyond 2^53 as text). */
function deltaRsFeed(location: string, columns: string[], from: number): unknown[][] {
  const r = spawnSync(PYTHON, ['-c', `
import sys, json, datetime
from deltalake import DeltaTable
import pyarrow as pa
cols = sys.argv[3].split(',')
t = pa.table(DeltaTable(sys.argv[1]).load_cdf(starting_version=int(sys.argv[2])).read_all()).to_pylist()
plain = lambda v: v.isoformat() if isinstance(v, (datetime.date, datetime.datetime)) else str(v) if isinstance(v, int) and not isinstance(v, bool) and abs(v) > 2**53 - 1 else v
print(json.dumps([[plain(r[c]) for c in cols] for r in t]))
`, location, String(from), columns.join(',')], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(r.stdout) as unknown[][];
}

describe('change data feed and Spark', () => {
  let dir: string;
  let cleanup: () => Promise<void>;
  let engine: DuckDBEngine;
  /** Tables ingot wrote (Spark reads them), tables Spark wrote (ingot reads them). */
  const ours = { partitioned: '', plain: '' };
  const theirs = { partitioned: '', plain: '' };
  let feeds: SparkFeed[];

  before(async () => {
    ({ dir, cleanup } = await tempDir('cdf-spark'));
    engine = await DuckDBEngine.open();
    ours.partitioned = path.join(dir, 'ingot_orders');
    ours.plain = path.join(dir, 'ingot_plain');
    theirs.partitioned = path.join(dir, 'spark_orders');
    theirs.plain = path.join(dir, 'spark_plain');
    for (const [location, partitionBy] of [[ours.partitioned, ['grp']], [ours.plain, []]] as const) {
      const table = new DeltaTable(new LocalStore(location), engine);
      const { rows } = await writeChangeHistory(engine, table, [...partitionBy]);
      await writeSql(engine, table, rows(20, 23, 'fresh'), { mode: 'overwrite' });
    }
    const spark = (location: string, partitioned: boolean): string[] => {
      const t = `delta.\`${location}\``;
      return [
        `CREATE TABLE ${t} (id BIGINT, status STRING, grp INT, amount DOUBLE, day DATE) USING delta ${partitioned ? 'PARTITIONED BY (grp) ' : ''}TBLPROPERTIES (delta.enableChangeDataFeed = true)`,
        `INSERT INTO ${t} SELECT id, 'new', CAST(id % 2 AS INT), id * 1.5, date_add(DATE'2024-01-01', CAST(id AS INT)) FROM range(0, 6)`,
        `INSERT INTO ${t} SELECT id, 'new', CAST(id % 2 AS INT), id * 1.5, date_add(DATE'2024-01-01', CAST(id AS INT)) FROM range(6, 8)`,
        `UPDATE ${t} SET status = 'paid', amount = amount + 1 WHERE id IN (1, 2)`,
        `DELETE FROM ${t} WHERE id = 4`,
        `MERGE INTO ${t} AS target USING (SELECT * FROM VALUES (2L, 'shipped', 0, 3.0D, DATE'2024-02-01'), (3L, 'gone', 1, 0.0D, DATE'2024-02-01'), (9L, 'new', 1, 9.5D, DATE'2024-02-02') AS s(id, status, grp, amount, day)) AS source
           ON target.id = source.id WHEN MATCHED AND source.status = 'gone' THEN DELETE WHEN MATCHED THEN UPDATE SET * WHEN NOT MATCHED THEN INSERT *`,
        `DELETE FROM ${t} WHERE grp = 0`,
      ];
    };
    const out = runSpark(path.join(ROOT, 'test', 'reference', 'change_feed_spark.py'), [], JSON.stringify({
      statements: [...spark(theirs.partitioned, true), ...spark(theirs.plain, false)],
      reads: [ours.partitioned, ours.plain, theirs.partitioned, theirs.plain, ...CONFORMANCE_TABLES.map((c) => path.join(CONFORMANCE, c.name))].map((p, i) => ({ path: p, from: i >= 4 ? CONFORMANCE_TABLES[i - 4]!.from : 0 })),
    }), 'Spark');
    feeds = out.split('\n').filter((l) => l.trim() !== '').map((l) => JSON.parse(l) as SparkFeed);
    assert.equal(feeds.length, 4 + CONFORMANCE_TABLES.length, out.slice(0, 500));
  });
  after(async () => {
    await engine?.close();
    await cleanup?.();
  });

  /** Spark's feed of `location` (failing on Spark's error). */
  const sparkFeed = (location: string): Required<Omit<SparkFeed, 'error'>> => {
    const f = feeds.find((x) => x.path === location)!;
    assert.equal(f.error, undefined, `Spark could not read the change feed of ${location}: ${f.error}`);
    return f as Required<Omit<SparkFeed, 'error'>>;
  };

  it('Spark readChangeFeed reads the change feed ingot wrote as ingot does (partitioned and not)', async () => {
    for (const location of [ours.partitioned, ours.plain]) {
      const spark = sparkFeed(location);
      assert.deepEqual(spark.columns, ['id', 'status', 'grp', 'amount', 'day', '_change_type', '_commit_version']);
      const ingot = await ingotFeed(location, spark.columns, 0);
      assert.deepEqual(sorted(ingot), sorted(spark.rows), location);
      // every kind of change, in every version
      assert.deepEqual([...new Set(spark.rows.map((r) => r[5]))].sort(), ['delete', 'insert', 'update_postimage', 'update_preimage']);
      assert.deepEqual([...new Set(spark.rows.map((r) => r[6]))].sort(), [0, 1, 2, 3, 4, 5, 6]);
    }
  });

  it('table_changes reads the change feed Spark wrote (UPDATE, DELETE, MERGE) as Spark does', async () => {
    for (const location of [theirs.partitioned, theirs.plain]) {
      const spark = sparkFeed(location);
      const ingot = await ingotFeed(location, spark.columns, 0);
      assert.deepEqual(sorted(ingot), sorted(spark.rows), location);
      assert.ok(spark.rows.length >= 20, `${spark.rows.length} change rows`);
      assert.deepEqual([...new Set(spark.rows.map((r) => r[5]))].sort(), ['delete', 'insert', 'update_postimage', 'update_preimage']);
      // a range of one version
      const one = await ingotFeed(location, spark.columns, 4, 4);
      assert.deepEqual(sorted(one), sorted(spark.rows.filter((r) => r[6] === 4)));
    }
  });

  it('the conformance tables with a change feed: ingot reads them as Spark and delta-rs load_cdf do', async () => {
    for (const { name, from } of CONFORMANCE_TABLES) {
      const location = path.join(CONFORMANCE, name);
      const spark = sparkFeed(location);
      const ingot = await ingotFeed(location, spark.columns, from);
      assert.ok(ingot.length > 0, name);
      assert.deepEqual(sorted(ingot), sorted(spark.rows), `${name}: ingot and Spark`);
      assert.deepEqual(sorted(ingot), sorted(deltaRsFeed(location, spark.columns, from)), `${name}: ingot and delta-rs`);
    }
    // a table without a change feed: a clear error
    const out = await cli(['sql', '--table', `x.t=${path.join(CONFORMANCE, 'spark-golden/deltalog-getChanges')}`, "SELECT * FROM table_changes('x.t', 0, 1)"]);
    assert.equal(out.code, 1);
    assert.match(out.err, /has no change data feed: set the table property delta\.enableChangeDataFeed = true/);
  });
});
