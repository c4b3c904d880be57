/**
 * The change data feed (Delta protocol "Change Data Files") read by ingot: `table_changes` in
 * `ingot sql` over a table delta-rs wrote with `delta.enableChangeDataFeed = true` (inserts,
 * a delete, an update, a merge: `cdc` actions and `_change_data/` files), compared with
 * delta-rs's own `load_cdf`.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { cli, tempDir } from './fixtures.js';

const PYTHON = process.env['INGOT_PYTHON'] ?? 'python3';

/** Runs python `code` with `args`; its stdout. */
function python(code: string, ...args: string[]): string {
  const r = spawnSync(PYTHON, ['-c', code, ...args], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  return r.stdout;
}

describe('change data feed', () => {
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
});
