/**
 * Hostile and careless use (issue 19): each test replays an attack on real files and real
 * processes and checks that ingot refuses it cleanly, naming the argument, field, file or column,
 * with nothing written.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, promises as fs } from 'node:fs';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { checkRange, countIntervals, dateRange, intervalOf, MAX_RANGE_INTERVALS, parseDate } from '../src/pipeline/interval.js';
import { intervalsBetween } from '../src/schedule/calendar.js';
import { openMetadataAt } from '../src/metadata/open.js';
import { createApiKey } from '../src/serve/api-keys.js';
import { DuckDBEngine } from '../src/engine/duckdb/engine.js';
import { LocalStore } from '../src/storage/local.js';
import { commitKey } from '../src/table/log.js';
import { DeltaTable } from '../src/table/table.js';
import { cli, eachLine, ROOT, tempDir } from './fixtures.js';
import { readWithIngot, writeSql } from './helpers.js';
import { call, serveProject, type Served } from './serve-helpers.js';

const BIN = path.join(ROOT, 'src', 'cli', 'bin.ts');

/** `ingot <args>` in a child process, killed after `timeoutMs` (a runaway loop fails the test instead of hanging it). */
function ingot(args: string[], timeoutMs = 90_000): Promise<{ code: number | null; signal: NodeJS.Signals | null; err: string; timedOut: boolean }> {
  const child = spawn(process.execPath, ['--max-old-space-size=256', '--import', 'tsx', BIN, ...args], { cwd: ROOT, stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  child.stderr.setEncoding('utf8').on('data', (t: string) => { err += t; });
  let timedOut = false;
  const timer = setTimeout(() => { timedOut = true; child.kill('SIGKILL'); }, timeoutMs);
  return new Promise((resolve) => child.on('exit', (code, signal) => {
    clearTimeout(timer);
    resolve({ code, signal, err, timedOut });
  }));
}

/** A project with one daily pipeline `events` starting 2016-01-01 over one SQL dataset. */
async function eventsProject(dir: string): Promise<void> {
  await fs.mkdir(path.join(dir, 'datasets', 'bronze'), { recursive: true });
  await fs.writeFile(path.join(dir, 'datasets', 'bronze', 'events.sql'), '-- materialization: append\nSELECT CAST({{logical_date}} AS DATE) AS day, range AS i FROM range(3)\n');
  await fs.writeFile(path.join(dir, 'ingot.config.ts'), `import { defineConfig, pipeline } from 'ingot';
export default defineConfig({ lake: './lake', pipelines: [pipeline({ name: 'events', datasets: ['bronze.*'], start: '2016-01-01', interval: 'daily' })] });
`);
}

const RANGE = /outside the supported dates 1900-01-01 to 9998-12-31/;

describe('dates at the end of the calendar', () => {
  it('intervals, ranges and their counts stay inside the four-digit calendar', () => {
    assert.equal(parseDate('9998-12-31T23'), '9998-12-31T23:00');
    assert.equal(parseDate('1900-01-01'), '1900-01-01');
    for (const bad of ['9999-12-31', '9999-01-01', '1899-12-31T23:00', '0001-01-01']) {
      assert.throws(() => parseDate(bad, '--to'), (e: Error) => RANGE.test(e.message) && e.message.startsWith('--to'), bad);
    }
    assert.deepEqual(intervalOf('9998-12-31', 'month'), { start: '9998-12-01', end: '9999-01-01' });
    assert.deepEqual(intervalOf('9998-12-31T23:00'), { start: '9998-12-31T23:00', end: '9999-01-01T00:00' });
    assert.throws(() => intervalOf('9999-12-31'), RANGE);
    assert.throws(() => intervalOf('9999-12-31', 'month'), RANGE);
    assert.throws(() => dateRange('9999-12-30', '9999-12-31'), RANGE);
    assert.throws(() => intervalsBetween('9999-12-30', '9999-12-31', 'daily'), RANGE);
    assert.deepEqual(dateRange('9998-12-30', '9998-12-31'), ['9998-12-30', '9998-12-31']);
    // the count is arithmetic and agrees with the listing
    for (const [from, to, kind, grain] of [['2024-01-30', '2024-03-02', 'daily', 'day'], ['2023-11-15', '2024-03-02', 'monthly', 'month'],
      ['2024-03-30T22:00', '2024-04-01', 'hourly', 'hour'], ['2024-03-30T22:00', '2024-03-31T02:00', 'hourly', 'hour']] as const) {
      assert.equal(countIntervals(from, to, grain), intervalsBetween(from, to, kind).length, `${from}..${to} ${kind}`);
    }
    assert.equal(checkRange('2000-01-01', '2027-05-18', 'day'), MAX_RANGE_INTERVALS);
    assert.throws(() => checkRange('2000-01-01', '2027-05-19', 'day'), /--from 2000-01-01 to --to 2027-05-19 is 10001 days; at most 10000/);
    assert.throws(() => checkRange('2024-01-02', '2024-01-01', 'day'), /--from 2024-01-02 is after --to 2024-01-01/);
  });

  it('ingot run refuses a range or a date past the supported dates at once, in a real process, with nothing written', async (t) => {
    const { dir, cleanup } = await tempDir('hostile-dates');
    t.after(cleanup);
    await eventsProject(dir);
    // before: the range never ended (the day after 9999-12-31 sorts before it) and died out of memory
    const loop = await ingot(['run', '-p', dir, '--from', '9999-12-30', '--to', '9999-12-31']);
    assert.equal(loop.timedOut, false, 'the run ended');
    assert.equal(loop.code, 1, loop.err);
    assert.match(loop.err, /error \[CONFIG_INVALID\]: --from "9999-12-30" is outside the supported dates 1900-01-01 to 9998-12-31/);
    // before: committed a partition predicate on '+010000-01-01'
    const last = await ingot(['run', '-p', dir, '--date', '9999-12-31']);
    assert.equal(last.code, 1, last.err);
    assert.match(last.err, /--date "9999-12-31" is outside the supported dates/);
    assert.equal(existsSync(path.join(dir, 'lake', 'bronze')), false, 'no table was written');

    const early = await cli(['run', '-p', dir, '--date', '1899-12-31']);
    assert.equal(early.code, 1);
    assert.match(early.err, /--date "1899-12-31" is outside the supported dates/);
    const long = await cli(['plan', '-p', dir, '--from', '1900-01-01', '--to', '9998-12-31']);
    assert.equal(long.code, 1);
    assert.match(long.err, /--from 1900-01-01 to --to 9998-12-31 is 2958099 days; at most 10000 intervals at once/);
    const hours = await cli(['plan', '-p', dir, '--from', '2024-01-01T00:00', '--to', '2025-12-31T00:00']);
    assert.match(hours.err, /is \d+ hours; at most 10000/);
    // the last supported days plan as any others
    const edge = await cli(['plan', '-p', dir, '--from', '9998-12-30', '--to', '9998-12-31', '--format', 'json']);
    assert.equal(edge.code, 0, edge.err);
    assert.deepEqual((JSON.parse(edge.out) as { runs: { logicalDate: string; steps: { interval: unknown }[] }[] }).runs.map((r) => [r.logicalDate, r.steps[0]!.interval]),
      [['9998-12-30', { start: '9998-12-30', end: '9998-12-31' }], ['9998-12-31', { start: '9998-12-31', end: '9999-01-01' }]]);
  });

  it('ingot backfill and trigger refuse dates past the calendar, ranges over the cap and dates before the pipeline\'s start', async (t) => {
    const { dir, cleanup } = await tempDir('hostile-backfill');
    t.after(cleanup);
    await eventsProject(dir);
    const loop = await ingot(['backfill', 'events', '-p', dir, '--from', '2016-01-01', '--to', '9999-12-31']);
    assert.equal(loop.timedOut, false);
    assert.equal(loop.code, 1, loop.err);
    assert.match(loop.err, /--to "9999-12-31" is outside the supported dates/);
    const long = await cli(['backfill', 'events', '-p', dir, '--from', '2016-01-01', '--to', '9998-12-31']);
    assert.equal(long.code, 1);
    assert.match(long.err, /--from 2016-01-01 to --to 9998-12-31 is \d+ days; at most 10000 intervals at once/);
    const early = await cli(['backfill', 'events', '-p', dir, '--from', '2015-12-30', '--to', '2016-01-02']);
    assert.equal(early.code, 1);
    assert.match(early.err, /--from 2015-12-30 is before pipeline events's start 2016-01-01/);
    const trigger = await cli(['trigger', 'events', '-p', dir, '--date', '2015-12-31']);
    assert.equal(trigger.code, 1);
    assert.match(trigger.err, /--date 2015-12-31 is before pipeline events's start 2016-01-01/);
    const store = await openMetadataAt('.ingot/metadata.db', dir);
    try {
      assert.deepEqual(await store.intervals('events'), [], 'nothing was queued or run');
    } finally {
      await store.close();
    }
    assert.equal(existsSync(path.join(dir, 'lake', 'bronze')), false);
  });

  describe('the API of a real `ingot serve` process', () => {
    let dir: string;
    let cleanup: () => Promise<void>;
    let url: string;
    let write: string;
    let server: ReturnType<typeof spawn>;

    before(async () => {
      ({ dir, cleanup } = await tempDir('hostile-api'));
      await eventsProject(dir);
      const store = await openMetadataAt('.ingot/metadata.db', dir);
      write = (await createApiKey(store, 'write')).key;
      await store.close();
      server = spawn(process.execPath, ['--max-old-space-size=256', '--import', 'tsx', BIN, 'serve', '-p', dir, '--port', '0', '--no-scheduler'], { cwd: ROOT, stdio: ['ignore', 'ignore', 'pipe'] });
      url = await new Promise<string>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error('ingot serve did not listen within 60 s')), 60_000);
        eachLine(server.stderr!, (l) => {
          const m = /"event":"listening".*"url":"([^"]+)"/.exec(l);
          if (m) {
            clearTimeout(timer);
            resolve(m[1]!);
          }
        });
        server.on('exit', (code) => reject(new Error(`ingot serve exited (${code})`)));
      });
    });
    after(async () => {
      server.kill('SIGTERM');
      await new Promise((r) => server.once('exit', r));
      await cleanup();
    });

    /** A request that fails the test if the server does not answer within 20 s. */
    const post = async (route: string, body: unknown) => {
      const answer = call(`${url}${route}`, write, { method: 'POST', body });
      const timeout = new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`no answer to ${route} within 20 s`)), 20_000).unref());
      return Promise.race([answer, timeout]);
    };

    it('refuses a backfill to 9999-12-31 at once (it hung the server) and still answers after', async () => {
      const r = await post('/api/pipelines/events/backfill', { from: '2016-01-01', to: '9999-12-31' });
      assert.equal(r.status, 422);
      assert.equal(r.body.error, 'VALIDATION');
      assert.equal(r.body.field, 'to');
      assert.match(r.body.message, /to "9999-12-31" is outside the supported dates 1900-01-01 to 9998-12-31/);
      const long = await post('/api/pipelines/events/backfill', { from: '2016-01-01', to: '9998-12-31' });
      assert.equal(long.status, 422);
      assert.equal(long.body.field, 'to');
      assert.match(long.body.message, /is \d+ days; at most 10000 intervals at once/);
      assert.equal((await call(`${url}/health`, undefined)).status, 200);
    });

    it('refuses a trigger or a backfill before the pipeline\'s start, naming the field', async () => {
      const trigger = await post('/api/pipelines/events/trigger', { date: '2015-12-31' });
      assert.equal(trigger.status, 422);
      assert.equal(trigger.body.field, 'date');
      assert.match(trigger.body.message, /date 2015-12-31 is before pipeline events's start 2016-01-01/);
      const backfill = await post('/api/pipelines/events/backfill', { from: '2015-12-01', to: '2016-01-03' });
      assert.equal(backfill.status, 422);
      assert.equal(backfill.body.field, 'from');
      const last = await post('/api/pipelines/events/trigger', { date: '9999-12-31' });
      assert.equal(last.status, 422);
      assert.equal(last.body.field, 'date');
      const store = await openMetadataAt('.ingot/metadata.db', dir);
      try {
        assert.deepEqual(await store.intervals('events'), [], 'nothing was queued');
      } finally {
        await store.close();
      }
      // a date from the start on is queued as before
      const ok = await post('/api/pipelines/events/trigger', { date: '2016-01-01' });
      assert.equal(ok.status, 202, ok.text);
    });
  });
});

/** A project whose bronze.events loads `landing/day={day}/*.csv` (columns id, amount), with `files` (name → CSV text) for day 2024-01-01. */
async function filesProject(dir: string, files: Record<string, string>, extra = ''): Promise<string> {
  await fs.mkdir(path.join(dir, 'datasets', 'bronze'), { recursive: true });
  await fs.writeFile(path.join(dir, 'ingot.config.ts'), "import { defineConfig } from 'ingot';\nexport default defineConfig({ lake: './lake' });\n");
  await fs.writeFile(path.join(dir, 'datasets', 'bronze', 'events.ts'), `import { dataset, files } from 'ingot';
export default dataset({ name: 'bronze.events', source: files({ path: 'landing/day={day}/*.csv', format: 'csv'${extra} }), materialization: 'replace partition', partitionBy: ['day'] });
`);
  const landing = path.join(dir, 'landing', 'day=2024-01-01');
  await fs.mkdir(landing, { recursive: true });
  for (const [name, text] of Object.entries(files)) await fs.writeFile(path.join(landing, name), text);
  return landing;
}

/** Rows of `sql` through `ingot sql --format json`. */
async function sqlRows(dir: string, sql: string): Promise<Record<string, unknown>[]> {
  const r = await cli(['sql', '-p', dir, '--format', 'json', sql]);
  assert.equal(r.code, 0, r.err);
  return JSON.parse(r.out) as Record<string, unknown>[];
}

describe('landing files named like globs', () => {
  it('reads each file by its exact name: x*.csv does not read xa.csv again, nor y[ab].csv ya.csv, nor z?.csv zz.csv', async (t) => {
    const { dir, cleanup } = await tempDir('hostile-glob');
    t.after(cleanup);
    const files = {
      'x*.csv': 'id,amount\n1,1.5\n2,2.5\n', 'xa.csv': 'id,amount\n3,3.5\n',
      'y[ab].csv': 'id,amount\n4,4.5\n', 'ya.csv': 'id,amount\n5,5.5\n',
      'z?.csv': 'id,amount\n6,6.5\n', 'zz.csv': 'id,amount\n7,7.5\n', 'e[!x].csv': 'id,amount\n8,8.5\n',
    };
    await filesProject(dir, files);
    const run = await ingot(['run', '-p', dir, '--date', '2024-01-01']);
    assert.equal(run.code, 0, run.err);
    const rows = await sqlRows(dir, 'SELECT CAST(id AS INTEGER) AS id, amount, _source FROM bronze.events ORDER BY id');
    assert.deepEqual(rows.map((r) => [r['id'], r['amount'], path.basename(String(r['_source']))]), [
      [1, 1.5, 'x*.csv'], [2, 2.5, 'x*.csv'], [3, 3.5, 'xa.csv'], [4, 4.5, 'y[ab].csv'], [5, 5.5, 'ya.csv'],
      [6, 6.5, 'z?.csv'], [7, 7.5, 'zz.csv'], [8, 8.5, 'e[!x].csv'],
    ]);
  });

  it('reads a lone file named like a glob by its exact name, with declared columns too', async (t) => {
    const { dir, cleanup } = await tempDir('hostile-glob-one');
    t.after(cleanup);
    // one file of the day: the single-file read; the glob `a*.csv` would have matched the other day's name pattern too
    const landing = await filesProject(dir, { 'a*.csv': 'id,amount\n1,1.0\n' }, ", columns: { id: 'INTEGER', amount: 'DOUBLE' }");
    await fs.writeFile(path.join(landing, '..', 'stray.csv'), 'id,amount\n99,0\n');
    await fs.writeFile(path.join(landing, 'ab.csv.tmp'), 'id,amount\n98,0\n');
    await fs.writeFile(path.join(landing, 'ab.csv'), 'id,amount\n2,2.0\n');
    const run = await cli(['run', '-p', dir, '--date', '2024-01-01']);
    assert.equal(run.code, 0, run.err);
    assert.deepEqual((await sqlRows(dir, 'SELECT CAST(id AS INTEGER) AS id FROM bronze.events ORDER BY id')).map((r) => r['id']), [1, 2]);
  });
});

describe('Delta data files named like globs', () => {
  it('a table whose files are x*.parquet and xa.parquet reads each once', async (t) => {
    const { dir, cleanup } = await tempDir('hostile-glob-delta');
    t.after(cleanup);
    const engine = await DuckDBEngine.open();
    t.after(() => engine.close());
    const location = path.join(dir, 't');
    const table = new DeltaTable(new LocalStore(location), engine);
    await writeSql(engine, table, 'SELECT 1 AS id', { mode: 'append' });
    await writeSql(engine, table, 'SELECT 2 AS id', { mode: 'append' });
    // another writer's file names: rename the data files and their add actions
    for (const [version, name] of [[0, 'x*.parquet'], [1, 'xa.parquet']] as const) {
      const commit = path.join(location, commitKey(version));
      const lines = (await fs.readFile(commit, 'utf8')).trim().split('\n').map((l) => JSON.parse(l) as Record<string, { path: string }>);
      for (const l of lines) {
        if (!l['add']) continue;
        await fs.rename(path.join(location, decodeURIComponent(l['add'].path)), path.join(location, name));
        l['add'].path = name;
      }
      await fs.writeFile(commit, lines.map((l) => JSON.stringify(l)).join('\n') + '\n');
    }
    const read = await readWithIngot(engine, new DeltaTable(new LocalStore(location), engine));
    assert.deepEqual(read.rows.map((r) => Number(r['id'])).sort(), [1, 2]);
  });
});

describe('input columns named as lineage columns', () => {
  it('refuses a CSV bringing _run_id, _source or _ingested_at, naming the file and the column, and commits nothing', async (t) => {
    const { dir, cleanup } = await tempDir('hostile-lineage');
    t.after(cleanup);
    await filesProject(dir, {
      'b.csv': 'id,amount\n2,2.5\n',
      'a.csv': 'id,amount,_run_id,_source\n1,1.5,forged-run,forged-source\n',
    });
    const run = await ingot(['run', '-p', dir, '--date', '2024-01-01']);
    assert.equal(run.code, 1, run.err);
    assert.match(run.err, /bronze\.events: landing\/day=2024-01-01\/a\.csv: column _run_id has the name of the lineage column _run_id, which ingot sets on every row \(_ingested_at, _source, _run_id\): rename or drop that column/);
    assert.equal(existsSync(path.join(dir, 'lake', 'bronze', 'events')), false, 'nothing committed');
    // without the forged columns the same day loads, with ingot's lineage
    await fs.writeFile(path.join(dir, 'landing', 'day=2024-01-01', 'a.csv'), 'id,amount\n1,1.5\n');
    assert.equal((await cli(['run', '-p', dir, '--date', '2024-01-01'])).code, 0);
    const rows = await sqlRows(dir, 'SELECT CAST(id AS INTEGER) AS id, _source, _run_id LIKE \'2024-01-01_%\' AS ours FROM bronze.events ORDER BY id');
    assert.deepEqual(rows, [{ id: 1, _source: 'landing/day=2024-01-01/a.csv', ours: true }, { id: 2, _source: 'landing/day=2024-01-01/b.csv', ours: true }]);
  });

  it('refuses an NDJSON file with _Ingested_At (names compare as SQL compares them) and a CSV with declared columns bringing _source', async (t) => {
    const { dir, cleanup } = await tempDir('hostile-lineage-json');
    t.after(cleanup);
    await fs.mkdir(path.join(dir, 'datasets', 'bronze'), { recursive: true });
    await fs.writeFile(path.join(dir, 'ingot.config.ts'), "import { defineConfig } from 'ingot';\nexport default defineConfig({ lake: './lake' });\n");
    await fs.writeFile(path.join(dir, 'datasets', 'bronze', 'events.ts'), `import { dataset, files } from 'ingot';
export default dataset({ name: 'bronze.events', source: files({ path: 'landing/day={day}/*.json', format: 'ndjson' }), materialization: 'replace partition', partitionBy: ['day'] });
`);
    await fs.mkdir(path.join(dir, 'landing', 'day=2024-01-01'), { recursive: true });
    await fs.writeFile(path.join(dir, 'landing', 'day=2024-01-01', 'e.json'), '{"id": 1, "_Ingested_At": "1999-01-01 00:00:00"}\n');
    const json = await cli(['run', '-p', dir, '--date', '2024-01-01']);
    assert.equal(json.code, 1);
    assert.match(json.err, /FAILED in bronze\.events: bronze\.events: landing\/day=2024-01-01\/e\.json: column _Ingested_At has the name of the lineage column _ingested_at/);

    const { dir: csvDir, cleanup: csvCleanup } = await tempDir('hostile-lineage-declared');
    t.after(csvCleanup);
    await filesProject(csvDir, { 'a.csv': 'id,amount,_source\n1,1.5,elsewhere\n' }, ", columns: { id: 'INTEGER', amount: 'DOUBLE' }");
    const csv = await cli(['run', '-p', csvDir, '--date', '2024-01-01']);
    assert.equal(csv.code, 1);
    assert.match(csv.err, /landing\/day=2024-01-01\/a\.csv: column _source has the name of the lineage column _source/);
  });
});

describe('loose arguments', () => {
  let s: Served;
  let cleanup: () => Promise<void>;
  before(async () => {
    const t = await tempDir('hostile-params');
    cleanup = t.cleanup;
    s = await serveProject(t.dir, ['2024-01-01']);
  });
  after(async () => {
    await s.close();
    await cleanup();
  });

  it('integer endpoint parameters take decimal digits only: 0x10, 1e1, 0b11, 0o7, +3, " 3" and Infinity are refused naming the field', async () => {
    assert.equal((await call(`${s.url}/models/events/k3/10`, s.keys.read)).status, 200);
    assert.equal((await call(`${s.url}/models/copies?copies=3`, s.keys.read)).status, 200);
    for (const bad of ['0x10', '1e1', '0b11', '0o7', '+3', '%203', 'Infinity', '10.0']) {
      const inPath = await call(`${s.url}/models/events/k3/${bad}`, s.keys.read);
      assert.equal(inPath.status, 422, `min=${bad}: ${inPath.text}`);
      assert.equal(inPath.body.field, 'min');
      assert.match(inPath.body.message, /^min must be an integer between 1 and 24/);
      const inQuery = await call(`${s.url}/models/copies?copies=${bad}`, s.keys.read);
      assert.equal(inQuery.status, 422, `copies=${bad}: ${inQuery.text}`);
      assert.equal(inQuery.body.field, 'copies');
    }
    const limit = await call(`${s.url}/api/tables/bronze.events/rows?limit=1e1`, s.keys.read);
    assert.equal(limit.status, 422);
    assert.equal(limit.body.field, 'limit');
    assert.match(limit.body.message, /limit must be an integer, written in decimal digits \(got "1e1"\)/);
    assert.equal((await call(`${s.url}/api/tables/bronze.events/rows?limit=10`, s.keys.read)).body.items.length, 10);
  });

  it('a broken expectation is named in the error, without the SQL ingot generates around it', async (t) => {
    const { dir, cleanup: done } = await tempDir('hostile-expectation');
    t.after(done);
    await fs.mkdir(path.join(dir, 'datasets', 'silver'), { recursive: true });
    await fs.writeFile(path.join(dir, 'ingot.config.ts'), "import { defineConfig } from 'ingot';\nexport default defineConfig({ lake: './lake' });\n");
    const write = (expectations: string): Promise<void> => fs.writeFile(path.join(dir, 'datasets', 'silver', 'orders.ts'), `import { dataset } from 'ingot';
export default dataset({ name: 'silver.orders', sql: 'SELECT range AS id, range * 1.5 AS amount FROM range(5)', materialization: 'overwrite',
  expectations: [{ name: 'id_present', condition: 'id IS NOT NULL', action: 'drop' }, ${expectations}] });
`);
    await write("{ name: 'amount_positive', condition: 'amonut > 0', action: 'fail' }");
    const row = await ingot(['run', '-p', dir]);
    assert.equal(row.code, 1, row.err);
    assert.match(row.err, /expectation amount_positive \(amonut > 0\) cannot be evaluated: Binder Error: Referenced column "amonut" not found/);
    assert.doesNotMatch(row.err, /__fail_|__rows|__checked/);
    await write("{ name: 'enough_rows', condition: 'count(*) > nonsense', action: 'fail', scope: 'batch' }");
    const batch = await ingot(['run', '-p', dir]);
    assert.equal(batch.code, 1, batch.err);
    assert.match(batch.err, /expectation enough_rows \(count\(\*\) > nonsense\) cannot be evaluated: Binder Error/);
    assert.doesNotMatch(batch.err, /__fail_|__rows|__checked/);
    assert.equal(existsSync(path.join(dir, 'lake', 'silver', 'orders')), false);
  });
});

describe('a gap in the Delta log', () => {
  it('names the missing commit, and ingot history shows the gap and warns', async (t) => {
    const { dir, cleanup } = await tempDir('hostile-gap');
    t.after(cleanup);
    const engine = await DuckDBEngine.open();
    t.after(() => engine.close());
    const location = path.join(dir, 'lake', 'bronze', 'events');
    const table = new DeltaTable(new LocalStore(location), engine);
    for (let i = 0; i < 17; i++) await writeSql(engine, table, `SELECT ${i} AS i`, { mode: 'append' });
    assert.ok(existsSync(path.join(location, '_delta_log', '00000000000000000010.checkpoint.parquet')), 'a checkpoint at 10');
    await fs.rm(path.join(location, commitKey(12)));
    await fs.rm(path.join(location, commitKey(14)));
    await fs.rm(path.join(location, commitKey(15)));
    const fresh = (): DeltaTable => new DeltaTable(new LocalStore(location), engine);
    // before: "commit 13 is missing" (the first commit after the gap)
    await assert.rejects(fresh().snapshot(), (e: Error & { code?: string }) => e.code === 'LOG_CORRUPT' && /commit 12 is missing from the log, so version 16 cannot be reconstructed/.test(e.message));
    await assert.rejects(fresh().snapshot(13), /commit 12 is missing from the log, so version 13 cannot be reconstructed/);
    await assert.rejects(fresh().snapshot(12), /commit 12 is missing from the log, so version 12 cannot be reconstructed/);
    assert.equal((await fresh().snapshot(11)).version, 11);
    const history = await fresh().history();
    assert.deepEqual(history.map((e) => [e.version, e.operation, e.missing ?? null]).slice(0, 6), [
      [16, 'WRITE', null], [15, 'MISSING', { from: 14, to: 15 }], [13, 'WRITE', null], [12, 'MISSING', { from: 12, to: 12 }], [11, 'WRITE', null], [10, 'WRITE', null],
    ]);
    assert.equal(history.length, 16, '14 commits and 2 gaps');
    assert.deepEqual((await fresh().history(3)).map((e) => e.version), [16, 15, 13]);

    const cliHistory = await cli(['history', 'bronze.events', '--lake', path.join(dir, 'lake'), '--format', 'json']);
    assert.equal(cliHistory.code, 0, cliHistory.err);
    assert.match(cliHistory.err, /warning: bronze\.events: the log has a gap: version 12 is missing/);
    assert.match(cliHistory.err, /the log has a gap: versions 14 to 15 are missing/);
    const rows = JSON.parse(cliHistory.out) as Record<string, unknown>[];
    assert.deepEqual(rows.slice(0, 4).map((r) => [r['version'], r['operation']]), [[16, 'WRITE'], ['14-15', 'MISSING'], [13, 'WRITE'], [12, 'MISSING']]);
  });
});

describe('one corrupt table in a served lake', () => {
  it('GET /api/tables lists the other tables and marks the corrupt one unreadable with its error', async (t) => {
    const { dir, cleanup } = await tempDir('hostile-corrupt');
    t.after(cleanup);
    const s = await serveProject(dir, ['2024-01-01', '2024-01-02']);
    t.after(() => s.close());
    const before = await call(`${s.url}/api/tables`, s.keys.read);
    assert.deepEqual(before.body.items.map((x: { name: string }) => x.name), ['bronze.events', 'gold.by_k']);
    // a new commit of gold.by_k that is garbage
    const log = path.join(s.project.lake, 'gold', 'by_k', '_delta_log');
    await fs.writeFile(path.join(log, '00000000000000000002.json'), '{"add": {"path": "part-0.parquet", "size": \n not json at all');
    await new Promise((r) => setTimeout(r, 2100)); // the table list and snapshots are cached for up to 2 s
    const r = await call(`${s.url}/api/tables`, s.keys.read);
    assert.equal(r.status, 200, r.text);
    const [events, byK] = r.body.items as Record<string, unknown>[];
    assert.equal(events!['name'], 'bronze.events');
    assert.equal(events!['version'], 1);
    assert.equal(events!['numRecords'], 500);
    assert.equal(events!['unreadable'], undefined);
    assert.equal(byK!['name'], 'gold.by_k');
    assert.equal(byK!['version'], null);
    const unreadable = byK!['unreadable'] as { error: string; message: string };
    assert.equal(unreadable.error, 'LOG_CORRUPT');
    assert.match(unreadable.message, /^gold\.by_k\/_delta_log\/00000000000000000002\.json: .*line 1 is not valid JSON/);
    assert.ok(!unreadable.message.includes(s.project.lake), 'no server path in the message');
    // the readable table still answers its own routes
    assert.equal((await call(`${s.url}/api/tables/bronze.events/rows?limit=5`, s.keys.read)).body.items.length, 5);
  });
});
