/**
 * The change data feed (Delta protocol "Change Data Files") read by ingot: `table_changes` in
 * `ingot sql` over a table delta-rs wrote with `delta.enableChangeDataFeed = true` (inserts,
 * a delete, an update, a merge: `cdc` actions and `_change_data/` files), compared with
 * delta-rs's own `load_cdf`; and written by ingot (appends, an update, deletes, a merge, an
 * overwrite on a partitioned table) and read back identically by ingot and delta-rs.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { existsSync, readdirSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { DuckDBEngine } from '../src/engine/duckdb/engine.js';
import { LocalStore } from '../src/storage/local.js';
import { DeltaTable } from '../src/table/table.js';
import { cli, tempDir } from './fixtures.js';
import { writeChangeHistory, writeSql } from './helpers.js';

const PYTHON = process.env['INGOT_PYTHON'] ?? 'python3';

/** Runs python `code` with `args`; its stdout. */
function python(code: string, ...args: string[]): string {
  const r = spawnSync(PYTHON, ['-c', code, ...args], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  return r.stdout;
}

/** delta-rs's `load_cdf` of the table at `table` from version `from` to `to`: [columns..., _change_type, _commit_version] rows. */
function loadCdf(table: string, from: number, to: number, columns: string[]): unknown[][] {
  return JSON.parse(python(`
import sys, json
from deltalake import DeltaTable
import pyarrow as pa
cols = sys.argv[4].split(',')
t = pa.table(DeltaTable(sys.argv[1]).load_cdf(starting_version=int(sys.argv[2]), ending_version=int(sys.argv[3])).read_all()).to_pylist()
print(json.dumps([[r[c] for c in cols] + [r['_change_type'], r['_commit_version']] for r in t], default=str))
`, table, String(from), String(to), columns.join(','))) as unknown[][];
}

const key = (r: unknown[]): string => JSON.stringify(r);
const sorted = (rows: unknown[][]): unknown[][] => [...rows].sort((a, b) => key(a).localeCompare(key(b)));

describe('change data feed', () => {
  let engine: DuckDBEngine;
  before(async () => { engine = await DuckDBEngine.open(); });
  after(async () => { await engine.close(); });

  it('ingot writes the change feed of appends, an update, deletes, a merge and an overwrite; delta-rs load_cdf reads it as ingot does', async (t) => {
    const { dir, cleanup } = await tempDir('cdf-write');
    t.after(cleanup);
    const location = path.join(dir, 'orders');
    const table = new DeltaTable(new LocalStore(location), engine);
    // v0: created with the feed on; v1: an append (no change files: its adds are its inserts);
    // v2: an update (pre- and post-images); v3: a delete of some rows of a file; v4: a merge
    // updating, deleting, inserting; v5: a delete of whole files (the partition grp = 0: no change
    // files, its removes are its deletes); v6: an overwrite
    const { rows } = await writeChangeHistory(engine, table);
    const protocol = (await table.snapshot()).protocol;
    assert.equal(protocol.minWriterVersion, 7);
    assert.ok(protocol.writerFeatures?.includes('changeDataFeed'), JSON.stringify(protocol));
    await writeSql(engine, table, rows(20, 22, 'fresh'), { mode: 'overwrite' });
    assert.equal((await table.snapshot()).version, 6);
    const changeDir = path.join(location, '_change_data');
    assert.ok(existsSync(changeDir) && readdirSync(changeDir, { recursive: true }).some((f) => String(f).endsWith('.parquet')), 'change data files are written under _change_data/');

    const reference = loadCdf(location, 0, 6, ['id', 'status', 'grp']);
    const out = await cli(['sql', '--table', `raw.orders=${location}`, '--format', 'json',
      "SELECT id, status, grp, _change_type, _commit_version FROM table_changes('raw.orders', 0, 6)"]);
    assert.equal(out.code, 0, out.err);
    const ours = (JSON.parse(out.out) as Record<string, unknown>[]).map((r) => [Number(r['id']), r['status'], Number(r['grp']), r['_change_type'], Number(r['_commit_version'])]);
    assert.deepEqual(sorted(ours), sorted(reference));
    // what each version recorded
    const of = (v: number): unknown[][] => sorted(ours.filter((r) => r[4] === v).map((r) => [r[0], r[1], r[3]]));
    assert.deepEqual(of(1), [[6, 'new', 'insert'], [7, 'new', 'insert']]);
    assert.deepEqual(of(2), [[1, 'new', 'update_preimage'], [1, 'paid', 'update_postimage'], [2, 'new', 'update_preimage'], [2, 'paid', 'update_postimage']]);
    assert.deepEqual(of(3), [[4, 'new', 'delete']]);
    assert.deepEqual(of(4), [[2, 'paid', 'update_preimage'], [2, 'shipped', 'update_postimage'], [3, 'new', 'delete'], [9, 'new', 'insert']]);
    assert.deepEqual(of(5).map((r) => r[0]), [0, 2, 6]);
    assert.ok(of(5).every((r) => r[2] === 'delete'));
    assert.deepEqual(of(6).map((r) => [r[0], r[2]]), [[1, 'delete'], [20, 'insert'], [21, 'insert'], [5, 'delete'], [7, 'delete'], [9, 'delete']].sort((a, b) => key(a).localeCompare(key(b))));
  });


  it('table_changes reads the change feed delta-rs wrote (inserts, delete, update, merge) as load_cdf does', async (t) => {
    const { dir, cleanup } = await tempDir('cdf');
    t.after(cleanup);
    const table = path.join(dir, 'orders');
    python(`
import sys, pyarrow as pa
from deltalake import DeltaTable, write_deltalake
p = sys.argv[1]
write_deltalake(p, pa.table({'id': pa.array([1, 2, 3], pa.int64()), 'status': ['new', 'new', 'new']}), configuration={'delta.enableChangeDataFeed': 'true'})
write_deltalake(p, pa.table({'id': pa.array([4, 5], pa.int64()), 'status': ['new', 'new']}), mode='append')
dt = DeltaTable(p)
dt.delete("id = 2")
dt.update(updates={'status': "'paid'"}, predicate='id = 3')
src = pa.table({'id': pa.array([4, 6], pa.int64()), 'status': ['shipped', 'new']})
dt.merge(src, 's.id = t.id', source_alias='s', target_alias='t').when_matched_update_all().when_not_matched_insert_all().execute()
`, table);
    const reference = JSON.parse(python(`
import sys, json
from deltalake import DeltaTable
import pyarrow as pa
t = pa.table(DeltaTable(sys.argv[1]).load_cdf(starting_version=0, ending_version=4).read_all()).to_pylist()
print(json.dumps([[r['id'], r['status'], r['_change_type'], r['_commit_version']] for r in t]))
`, table)) as [number, string, string, number][];
    const key = (r: unknown[]): string => JSON.stringify(r);
    const sorted = (rows: unknown[][]): unknown[][] => [...rows].sort((a, b) => key(a).localeCompare(key(b)));
    const out = await cli(['sql', '--table', `raw.orders=${table}`, '--format', 'json',
      "SELECT id, status, _change_type, _commit_version, _commit_timestamp FROM table_changes('raw.orders', 0, 4)"]);
    assert.equal(out.code, 0, out.err);
    const rows = JSON.parse(out.out) as { id: number; status: string; _change_type: string; _commit_version: number; _commit_timestamp: string }[];
    assert.deepEqual(sorted(rows.map((r) => [Number(r.id), r.status, r._change_type, Number(r._commit_version)])), sorted(reference));
    // every kind of change is there, and the commit timestamps are the commits'
    assert.deepEqual([...new Set(rows.map((r) => r._change_type))].sort(), ['delete', 'insert', 'update_postimage', 'update_preimage']);
    assert.ok(rows.every((r) => typeof r._commit_timestamp === 'string' && r._commit_timestamp.startsWith(String(new Date().getUTCFullYear()))), JSON.stringify(rows[0]));
    // a range of one version
    const one = await cli(['sql', '--table', `raw.orders=${table}`, '--format', 'json', "SELECT id, _change_type FROM table_changes('raw.orders', 2, 2)"]);
    assert.deepEqual(JSON.parse(one.out), [{ id: 2, _change_type: 'delete' }]);
    // past the latest version: a clear error
    const bad = await cli(['sql', '--table', `raw.orders=${table}`, "SELECT * FROM table_changes('raw.orders', 3, 9)"]);
    assert.equal(bad.code, 1);
    assert.match(bad.err, /change feed from version 3 to 9: the versions must satisfy 0 ≤ from ≤ to ≤ 4/);
  });

  it('a range reaching back before the change feed was turned on is refused, naming the version; from then on it reads', async (t) => {
    const { dir, cleanup } = await tempDir('cdf-late');
    t.after(cleanup);
    const table = path.join(dir, 'orders');
    // v0: no feed; v1: an update (no change files); v2: the feed turned on; v3: an update (change files)
    python(`
import sys, pyarrow as pa
from deltalake import DeltaTable, write_deltalake
p = sys.argv[1]
write_deltalake(p, pa.table({'id': pa.array([1, 2, 3], pa.int64()), 'status': ['new', 'new', 'new']}))
DeltaTable(p).update(updates={'status': "'paid'"}, predicate='id = 1')
DeltaTable(p).alter.set_table_properties({'delta.enableChangeDataFeed': 'true'})
DeltaTable(p).update(updates={'status': "'shipped'"}, predicate='id = 2')
`, table);
    const early = await cli(['sql', '--table', `raw.orders=${table}`, "SELECT * FROM table_changes('raw.orders', 1, 3)"]);
    assert.equal(early.code, 1);
    assert.match(early.err, /the change data feed was off at version 1/);
    const out = await cli(['sql', '--table', `raw.orders=${table}`, '--format', 'json', "SELECT id, status, _change_type, _commit_version FROM table_changes('raw.orders', 2, 3)"]);
    assert.equal(out.code, 0, out.err);
    assert.deepEqual(sorted((JSON.parse(out.out) as Record<string, unknown>[]).map((r) => Object.values(r))), sorted(loadCdf(table, 2, 3, ['id', 'status'])));
    assert.equal((JSON.parse(out.out) as unknown[]).length, 2);
  });
});
