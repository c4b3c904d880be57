/**
 * The lake on S3, against a local S3-compatible server (moto, `pip install 'moto[server]'`):
 * the object-store contract, a Delta table with a checkpoint and time travel, the flights
 * pipeline with its lake on S3, and delta-rs reading what ingot wrote there.
 */
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { CreateBucketCommand } from '@aws-sdk/client-s3';
import { DuckDBEngine } from '../src/engine/duckdb/engine.js';
import { IngotError } from '../src/errors.js';
import { openStore } from '../src/storage/open.js';
import { S3Store, s3ClientFromEnv } from '../src/storage/s3.js';
import { NotFoundError } from '../src/storage/store.js';
import { deleteRows } from '../src/operations/delete.js';
import { optimize } from '../src/operations/optimize.js';
import { DeltaTable } from '../src/table/table.js';
import { Lake } from '../src/table/lake.js';
import { cli, flightsProject, tempDir } from './fixtures.js';
import { motoEnvironment, type MotoEnvironment } from './moto.js';
import { canonicalRows, readWithDeltaRs, readWithIngot, writeSql } from './helpers.js';

const BUCKET = 'ingot-test';
const DAYS = ['2001-01-01', '2001-01-02'];

/** Sorted JSON of rows, for order-free comparison. */
function sorted(rows: Record<string, unknown>[]): string[] {
  return rows.map((r) => JSON.stringify(r)).sort();
}

describe('the lake on S3 (moto server)', () => {
  let moto: MotoEnvironment | undefined;
  let dir: string;
  let cleanup: () => Promise<void>;
  let engine: DuckDBEngine;
  let storageOptions: Record<string, string>;

  before(async () => {
    ({ dir, cleanup } = await tempDir('s3'));
    moto = await motoEnvironment({ INGOT_CACHE_DIR: path.join(dir, 'cache') });
    ({ storageOptions } = moto);
    await (await s3ClientFromEnv()).send(new CreateBucketCommand({ Bucket: BUCKET }));
    engine = await DuckDBEngine.open();
  });

  after(async () => {
    await engine?.close();
    await moto?.stop();
    await cleanup?.();
  });

  it('keeps the object-store contract', async () => {
    const store = openStore(`s3://${BUCKET}/contract/`);
    assert.ok(store instanceof S3Store);
    assert.equal(store.root, `s3://${BUCKET}/contract`);
    assert.equal(store.locate('a/b.json'), `s3://${BUCKET}/contract/a/b.json`);
    assert.deepEqual(await store.list(''), []);
    await store.put('a/one.json', '{"n":1}');
    await store.put('a/b/two.bin', Buffer.from([0, 1, 2]));
    await store.put('top.txt', 'top');
    await openStore(`s3://${BUCKET}/contract-other`).put('x', 'outside the root');
    assert.equal((await store.get('a/one.json')).toString(), '{"n":1}');
    assert.deepEqual([...(await store.get('a/b/two.bin'))], [0, 1, 2]);
    await assert.rejects(store.get('a/missing'), (err) => err instanceof NotFoundError && err.key === 'a/missing');
    assert.equal(await store.head('a/missing'), undefined);
    const head = await store.head('a/b/two.bin');
    assert.equal(head?.size, 3);
    assert.ok(Math.abs(head!.modified - Date.now()) < 60_000);
    assert.deepEqual((await store.list('a')).map((o) => o.key), ['a/one.json']);
    assert.deepEqual((await store.list('a', { recursive: true })).map((o) => [o.key, o.size]), [['a/b/two.bin', 3], ['a/one.json', 7]]);
    assert.deepEqual((await store.list('', { recursive: true })).map((o) => o.key), ['a/b/two.bin', 'a/one.json', 'top.txt']);
    assert.deepEqual(await store.list('nothing-here'), []);
    assert.deepEqual(await store.folders(''), ['a']);
    assert.deepEqual(await store.folders('a'), ['b']);
    assert.deepEqual(await store.folders('nothing-here'), []);
    await store.put('a/one.json', 'replaced');
    assert.equal((await store.get('a/one.json')).toString(), 'replaced');
    await store.delete('a/one.json');
    await store.delete('a/one.json'); // absent: ignored
    assert.equal(await store.head('a/one.json'), undefined);

    // pagination: listings longer than a page, with and without a delimiter
    const paged = new S3Store(store.root, { pageSize: 4 });
    const many = Array.from({ length: 10 }, (_, i) => `many/${String(i).padStart(2, '0')}`);
    await Promise.all([...many, 'many/sub/deeper'].map((k) => store.put(k, 'x')));
    assert.deepEqual((await paged.list('many')).map((o) => o.key), many);
    assert.deepEqual((await paged.list('many', { recursive: true })).map((o) => o.key), [...many, 'many/sub/deeper']);
    // names after a given one: the server starts the listing there (StartAfter), across pages
    assert.deepEqual(await paged.names('many', { startAfter: '03' }), many.slice(4).map((k) => k.slice('many/'.length)));
    assert.deepEqual(await paged.names('many', { startAfter: '0' }), many.map((k) => k.slice('many/'.length)));
    assert.deepEqual(await paged.names('many', { startAfter: '09' }), []);
    assert.deepEqual(await paged.folders(''), ['a', 'many']);
    assert.deepEqual(await paged.folders('many'), ['sub']);
  });

  it('putIfAbsent: a second put of a key loses, and of N concurrent puts exactly one wins', async () => {
    const store = openStore(`s3://${BUCKET}/conditional`);
    assert.equal(await store.putIfAbsent('k', 'first'), true);
    assert.equal(await store.putIfAbsent('k', 'second'), false);
    assert.equal((await store.get('k')).toString(), 'first');
    for (let round = 0; round < 5; round++) {
      const key = `race/${round}`;
      const results = await Promise.all(Array.from({ length: 12 }, (_, i) => store.putIfAbsent(key, `writer ${i}`)));
      assert.equal(results.filter(Boolean).length, 1, `round ${round}: ${JSON.stringify(results)}`);
      assert.equal((await store.get(key)).toString(), `writer ${results.indexOf(true)}`);
    }
  });

  it('holds a Delta table: appends, a checkpoint, time travel, cached files re-fetched when they differ', async () => {
    const location = `s3://${BUCKET}/tables/events`;
    const table = new DeltaTable(openStore(location), engine);
    for (let v = 0; v < 12; v++) {
      await writeSql(engine, table, `SELECT ${v} * 100 + range AS id, DATE '2001-01-01' + ${v % 3} AS d, 'v${v}' AS s FROM range(5)`, { mode: 'append', partitionBy: ['d'] });
    }
    const store = table.store;
    const log = (await store.list('_delta_log')).map((o) => o.key.slice('_delta_log/'.length));
    assert.ok(log.includes('00000000000000000010.checkpoint.parquet'), log.join(', '));
    assert.deepEqual(JSON.parse((await store.get('_delta_log/_last_checkpoint')).toString()).version, 10);
    assert.equal((await store.list('d=2001-01-01')).length, 4, 'data files are objects under the table');

    const latest = await readWithIngot(engine, table);
    assert.equal(latest.version, 11);
    // the lake's tables: folders two levels down whose log holds a commit (the contract test's objects are none)
    assert.deepEqual(await new Lake(`s3://${BUCKET}`).list(), ['tables.events']);
    assert.equal(latest.rows.length, 60);
    const v3 = await readWithIngot(engine, table, 3);
    assert.deepEqual(sorted(v3.rows.map((r) => ({ id: Number(r['id']) }))), sorted(Array.from({ length: 4 }, (_, v) => [0, 1, 2, 3, 4].map((i) => ({ id: v * 100 + i }))).flat()));

    // a fresh reader, an empty cache and no commits before the checkpoint: reads through it
    await fs.rm(path.join(dir, 'cache'), { recursive: true, force: true });
    for (let v = 0; v < 10; v++) await store.delete(`_delta_log/${String(v).padStart(20, '0')}.json`);
    const fresh = new DeltaTable(openStore(location), engine);
    assert.deepEqual(sorted((await readWithIngot(engine, fresh)).rows), sorted(latest.rows));
    await assert.rejects(fresh.snapshot(3), /version 3 has expired from the log/);

    // a cached copy of another size is fetched again
    const cached = await store.localCopy([]);
    const some = (await fs.readdir(path.join(cached, 'd=2001-01-02')))[0]!;
    await fs.writeFile(path.join(cached, 'd=2001-01-02', some), 'truncated');
    assert.deepEqual(sorted((await readWithIngot(engine, fresh)).rows), sorted(latest.rows));

    const rs = readWithDeltaRs(location, undefined, 'datafusion', storageOptions);
    assert.equal(rs.version, 11);
    assert.deepEqual(canonicalRows(latest.schema, rs.rows), canonicalRows(latest.schema, latest.rows));

    // operations that rewrite files read local copies and upload what they write
    const compacted = await optimize(fresh, engine);
    assert.deepEqual([compacted.version, compacted.metrics['numFilesRemoved'], compacted.metrics['numFilesAdded']], [12, 12, 3]);
    const deleted = await deleteRows(fresh, engine, { where: 'id % 2 = 0' });
    assert.equal(deleted.version, 13);
    const after = await readWithIngot(engine, fresh);
    assert.deepEqual(sorted(after.rows), sorted(latest.rows.filter((r) => Number(r['id']) % 2 !== 0)));
    assert.equal((await fresh.snapshot()).files.size, 3);
    assert.deepEqual(canonicalRows(after.schema, readWithDeltaRs(location, undefined, 'datafusion', storageOptions).rows), canonicalRows(after.schema, after.rows));
  });

  it('a data file replaced by an object of another size is refused with FILE_MISMATCH, not read (issue 19, item 12)', async () => {
    const location = `s3://${BUCKET}/tables/replaced`;
    const table = new DeltaTable(openStore(location), engine);
    await writeSql(engine, table, `SELECT range AS id, 'x' || range AS s FROM range(5)`, { mode: 'append' });
    const [add] = [...(await table.snapshot()).files.values()];
    const recorded = add!.size;
    // another Parquet object in its place (other columns); the cache is empty, so it is downloaded
    const other = path.join(dir, 'other.parquet');
    await engine.query(`COPY (SELECT range AS other FROM range(100)) TO '${other}' (FORMAT parquet)`);
    const bytes = await fs.readFile(other);
    assert.notEqual(bytes.length, recorded);
    await table.store.put(add!.path, bytes);
    await fs.rm(path.join(dir, 'cache'), { recursive: true, force: true });
    await assert.rejects(readWithIngot(engine, new DeltaTable(openStore(location), engine)), (err: unknown) => {
      assert.ok(err instanceof IngotError && err.code === 'FILE_MISMATCH', String(err));
      assert.match(err.message, new RegExp(`${location}: data file ${add!.path} has ${bytes.length} bytes but the Delta log records ${recorded}`));
      return true;
    });
  });

  it('runs the flights pipeline with its lake on S3, queried with ingot sql --lake and read by delta-rs', async () => {
    // the same project on a local lake, for reference (a loaded config stays cached in the process: two folders)
    const reference = await flightsProject(path.join(dir, 'flights-local'), DAYS);
    const local = await cli(['run', '-p', reference, '--from', DAYS[0]!, '--to', DAYS[1]!]);
    assert.equal(local.code, 0, local.err);
    const project = await flightsProject(path.join(dir, 'flights'), DAYS);
    const lake = `s3://${BUCKET}/lakes/flights`;
    const config = path.join(project, 'ingot.config.ts');
    const text = await fs.readFile(config, 'utf8');
    assert.ok(text.includes(`lake: './lake'`));
    await fs.writeFile(config, text.replace(`lake: './lake'`, `lake: '${lake}'`));
    const run = await cli(['run', '-p', project, '--from', DAYS[0]!, '--to', DAYS[1]!]);
    assert.equal(run.code, 0, run.err);
    assert.match(run.out, /2 of 2 runs succeeded/);
    assert.deepEqual(await fs.readdir(path.join(dir, 'cache', 'staging')), [], 'no staged copies are left');
    await assert.rejects(fs.access(path.join(project, 'lake')), 'nothing is written to a local lake');

    const tables = await cli(['tables', '--lake', lake, '--all', '--format', 'json']);
    assert.equal(tables.code, 0, tables.err);
    assert.deepEqual((JSON.parse(tables.out) as { table: string }[]).map((t) => t.table),
      // the run history lives in the project's metadata store (.ingot/metadata.db), not in the lake
      ['bronze.airports', 'bronze.flights_raw', 'gold.airport_daily', 'gold.route_monthly', 'gold.top5_monthly', 'silver.flights', 'silver.flights_quarantine']);
    const history = await cli(['history', 'silver.flights', '--lake', lake, '--format', 'json']);
    assert.equal((JSON.parse(history.out) as unknown[]).length, 2, history.err);

    const query = async (args: string[], select: string): Promise<Record<string, unknown>[]> => {
      const r = await cli(['sql', ...args, '--format', 'json', select]);
      assert.equal(r.code, 0, r.err);
      return JSON.parse(r.out) as Record<string, unknown>[];
    };
    await fs.rm(path.join(dir, 'cache'), { recursive: true, force: true }); // reads download from S3
    for (const select of [
      'SELECT CAST(flight_date AS VARCHAR) AS d, count(*) AS n, sum(delay_min) AS delay FROM silver.flights GROUP BY 1 ORDER BY 1',
      'SELECT * FROM gold.airport_daily ORDER BY ALL',
      'SELECT * FROM gold.top5_monthly ORDER BY ALL',
      'SELECT count(*) AS n FROM silver.flights_quarantine',
    ]) {
      const onS3 = await query(['--lake', lake], select);
      assert.ok(onS3.length > 0);
      assert.deepEqual(onS3, await query(['--lake', path.join(reference, 'lake')], select), select);
    }
    const days = await query(['--lake', lake], 'SELECT CAST(flight_date AS VARCHAR) AS d, count(*) AS n FROM silver.flights GROUP BY 1 ORDER BY 1');
    assert.deepEqual(days.map((r) => r['d']), DAYS);
    const [v0] = await query(['--lake', lake, '--version', 'silver.flights=0'], 'SELECT count(DISTINCT flight_date) AS n FROM silver.flights');
    assert.equal(Number(v0!['n']), 1, 'time travel to the first run');

    const daily = await new DeltaTable(openStore(`${lake}/gold/airport_daily`), engine).snapshot();
    const ingot = await query(['--lake', lake], 'SELECT * FROM gold.airport_daily');
    const rs = readWithDeltaRs(`${lake}/gold/airport_daily`, undefined, 'datafusion', storageOptions);
    assert.equal(rs.version, daily.version);
    assert.equal(rs.rows.length, ingot.length);
    assert.deepEqual(canonicalRows(daily.schema, rs.rows), canonicalRows(daily.schema, ingot, { naiveTimestampsAreUtc: true }));

    // a failed run commits nothing and deletes what it uploaded (forced, bronze.airports runs before the bad file)
    const objects = async (): Promise<string[]> => (await openStore(lake).list('', { recursive: true })).map((o) => o.key).filter((k) => !k.startsWith('_ingot/'));
    const before = await objects();
    const csv = path.join(project, 'landing', 'flights', `date=${DAYS[1]}`, 'flights.csv');
    const lines = (await fs.readFile(csv, 'utf8')).split('\n');
    lines[100] = lines[100]!.replace(/^([^,]+),[^,]+,/, '$1,late,');
    await fs.writeFile(csv, lines.join('\n'));
    const failed = await cli(['run', '-p', project, '--date', DAYS[1]!, '--rerun']);
    assert.equal(failed.code, 1);
    assert.match(failed.err, /FAILED in bronze\.flights_raw/);
    assert.deepEqual(await objects(), before);
    const [runs] = await query(['-p', project], `SELECT count(*) FILTER (WHERE status = 'failed') AS failed, count(*) FILTER (WHERE dataset = 'bronze.airports' AND status = 'success') AS airports FROM _ingot.run_datasets`);
    // bronze.airports ran in the first run, was up to date in the second, and was staged in the failed one
    assert.deepEqual([Number(runs!['failed']), Number(runs!['airports'])], [1, 2], 'bronze.airports was staged in the failed run too');
  });
});
