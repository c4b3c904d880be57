/**
 * Exactly once from PostgreSQL: a loader process (test/workers/pg-load.ts) inserts rows into a
 * real PostgreSQL table and loads them incrementally (cursor `id`, append) into a real project,
 * in a loop, and is killed with SIGKILL at random moments: while it reads the source, after its
 * data files are written but before the commit, after the commit. After every kill the table must
 * hold exactly the PostgreSQL rows up to its greatest id, each once (every fifth kill waits for the
 * first new data file, so that short window is hit for sure); after the last kill a clean
 * run must leave the table with exactly every PostgreSQL row, each once (ids compared one by one).
 * Delays come from a seeded generator (INGOT_CRASH_SEED), so a failure names the seed and kill.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, promises as fs } from 'node:fs';
import * as path from 'node:path';
import { after, before, test } from 'node:test';
import pg from 'pg';
import { queryLake } from '../src/operations/query.js';
import { loadProject } from '../src/project.js';
import { Runner } from '../src/run/runner.js';
import { decodePath } from '../src/table/write.js';
import { eachLine, tempDir } from './fixtures.js';
import { REPO_ROOT } from './helpers.js';
import { startPostgres, type PostgresServer } from './postgres-server.js';
import { seeded } from '../examples/seeded.js';

const WORKER = path.join(REPO_ROOT, 'test', 'workers', 'pg-load.ts');
const KILLS = 30;
/** Rows the loader inserts before each run: enough that reading and writing take a while. */
const ROWS = 40_000;
/** Kills land after the loader's first insert, between these fractions of the duration of a run. */
const SPREAD = [0.3, 1.2] as const;
const SEED = Number(process.env['INGOT_CRASH_SEED'] ?? 20_250_301);

let server: PostgresServer;
let client: pg.Client;
before(async () => {
  server = await startPostgres();
  process.env['INGOT_TEST_PG'] = server.url;
  client = new pg.Client({ connectionString: server.url });
  await client.connect();
  // partitioned by bucket in the lake: a run writes many data files, so kills land among them too
  await client.query('CREATE TABLE public.orders (id bigserial PRIMARY KEY, amount numeric(8,2), note text, bucket int GENERATED ALWAYS AS (id % 16) STORED)');
});
after(async () => {
  await client?.end();
  await server?.stop();
});

/** Data files under the table root that no commit of its log adds (left by a loader killed before its commit). */
async function orphanFiles(location: string): Promise<string[]> {
  if (!existsSync(path.join(location, '_delta_log'))) return [];
  const added = new Set<string>();
  for (const name of (await fs.readdir(path.join(location, '_delta_log'))).filter((n) => /^\d{20}\.json$/.test(n))) {
    for (const line of (await fs.readFile(path.join(location, '_delta_log', name), 'utf8')).split('\n')) {
      if (line.startsWith('{"add"')) added.add(decodePath((JSON.parse(line) as { add: { path: string } }).add.path, location));
    }
  }
  const entries = await fs.readdir(location, { recursive: true, withFileTypes: true });
  return entries
    .filter((e) => e.isFile() && e.name.endsWith('.parquet'))
    .map((e) => path.relative(location, path.join(e.parentPath, e.name)).split(path.sep).join('/'))
    .filter((p) => !p.startsWith('_delta_log/') && !added.has(p));
}

test(`a PostgreSQL load killed with SIGKILL ${KILLS} times loads every row exactly once`, async (t) => {
  const { dir, cleanup } = await tempDir('pg-crash');
  t.after(cleanup);
  await fs.writeFile(path.join(dir, 'ingot.config.ts'), "export default { lake: './lake', engine: { threads: 1 } };\n");
  await fs.mkdir(path.join(dir, 'datasets', 'bronze'), { recursive: true });
  await fs.writeFile(path.join(dir, 'datasets', 'bronze', 'orders.ts'), `export default {
  name: 'bronze.orders',
  source: { kind: 'postgres', connection: 'env:INGOT_TEST_PG', table: 'public.orders', cursor: 'id' },
  materialization: 'append',
  partitionBy: ['bucket'],
};\n`);
  // the loader's temp files land here, so a kill while reading shows as a leftover CSV
  const tmp = path.join(dir, 'tmp');
  await fs.mkdir(tmp);
  const location = path.join(dir, 'lake', 'bronze', 'orders');
  const random = seeded(SEED);
  const runner = await Runner.open(await loadProject(dir));
  t.after(() => runner.close());

  /** The table's rows against PostgreSQL's rows up to the table's greatest id. */
  const check = async (where: string): Promise<bigint> => {
    const lake = existsSync(path.join(location, '_delta_log'))
      ? (await queryLake(runner.lake, runner.engine, 'SELECT CAST(count(*) AS VARCHAR) n, CAST(count(DISTINCT id) AS VARCHAR) ids, CAST(coalesce(sum(id), 0) AS VARCHAR) s, CAST(coalesce(max(id), 0) AS VARCHAR) m FROM bronze.orders'))[0]!
      : { n: '0', ids: '0', s: '0', m: '0' };
    const max = String(lake['m']);
    const [source] = (await client.query<{ n: string; s: string }>('SELECT count(*)::text n, coalesce(sum(id), 0)::text s FROM public.orders WHERE id <= $1', [max])).rows;
    assert.equal(lake['ids'], lake['n'], `${where}: no id is loaded twice`);
    assert.deepEqual([lake['n'], lake['s']], [source!.n, source!.s], `${where}: the table holds exactly PostgreSQL's rows up to id ${max}`);
    return BigInt(max);
  };

  const phases = { 'while reading': 0, 'writing data files, before the commit': 0, 'after committing': 0, 'before reading': 0 };
  let orphans = 0;
  /** How long the first loader's run took (ms), to spread the kills over a run. */
  let runMs = 0;
  /** The table's greatest id after the last kill. */
  let lastMax: bigint | undefined;
  for (let kill = 1; kill <= KILLS; kill++) {
    const where = `kill ${kill} (INGOT_CRASH_SEED=${SEED})`;
    const child = spawn(process.execPath, ['--import', 'tsx', WORKER], {
      cwd: REPO_ROOT,
      env: { ...process.env, PROJECT: dir, ROWS: String(ROWS), FIRST_DAY: String(kill * 100), TMPDIR: tmp },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const lines: string[] = [];
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
    // the first loader runs once to the end, to time a run (its first, in a fresh process, like every loader's)
    const waitFor = kill === 1 ? 'done ' : 'inserted ';
    const reached = new Promise<void>((resolve) => {
      eachLine(child.stdout, (line) => {
        lines.push(line);
        if (line.startsWith(waitFor)) resolve();
      });
    });
    const closed = once(child, 'close') as Promise<[number | null, NodeJS.Signals | null]>;
    await Promise.race([reached, closed]);
    // a run loads what earlier kills left unloaded too: it takes longer in proportion
    const scale = Number(lastMax === undefined ? 1 : (BigInt(lines.find((l) => l.startsWith('inserted '))?.split(' ')[1] ?? '0') - lastMax)) / ROWS;
    const delay = (SPREAD[0] + random() * (SPREAD[1] - SPREAD[0])) * runMs * Math.max(1, scale);
    if (kill > 1 && kill % 5 === 0) {
      // every fifth kill aims at the short window between the data files and the commit: as soon as a new file appears
      const end = Date.now() + 3 * delay;
      while (Date.now() < end && (await orphanFiles(location)).length <= orphans) await new Promise((r) => setTimeout(r, 5));
    } else if (kill > 1) {
      await new Promise((r) => setTimeout(r, delay));
    }
    child.kill('SIGKILL');
    const [code, signal] = await closed;
    assert.equal(signal, 'SIGKILL', `${where}: the loader exited by itself (code ${code}): ${stderr}`);

    // where the kill landed: new data files no commit adds mean while writing them (the source's
    // temp CSV lives on until then); a temp CSV alone, while reading; the last inserted batch in
    // the table, after the commit
    const csv = (await fs.readdir(tmp)).filter((n) => n.startsWith('ingot-pg-'));
    const newOrphans = (await orphanFiles(location)).length - orphans;
    orphans += newOrphans;
    if (kill === 1) runMs = Number(lines.find((l) => l.startsWith('done '))!.split(' ')[2]);
    const lastInserted = lines.filter((l) => l.startsWith('inserted ')).map((l) => BigInt(l.split(' ')[1]!)).pop();
    const max = await check(where);
    lastMax = max;
    if (newOrphans > 0) phases['writing data files, before the commit']++;
    else if (csv.length > 0) phases['while reading']++;
    else if (lines.some((l) => l.startsWith('done ')) || (lastInserted !== undefined && max >= lastInserted)) phases['after committing']++;
    else phases['before reading']++;
    for (const n of csv) await fs.rm(path.join(tmp, n), { force: true });
  }

  // a clean run loads the rest: every PostgreSQL row exactly once, id for id
  const r = await runner.run('2030-01-01');
  assert.equal(r.status, 'success', r.error);
  await check('after the clean run');
  const [lake] = await queryLake(runner.lake, runner.engine, "SELECT CAST(count(*) AS VARCHAR) n, md5(string_agg(CAST(id AS VARCHAR), ',' ORDER BY id)) h FROM bronze.orders");
  const [source] = (await client.query<{ n: string; h: string }>("SELECT count(*)::text n, md5(string_agg(id::text, ',' ORDER BY id)) h FROM public.orders")).rows;
  assert.deepEqual([lake!['n'], lake!['h']], [source!.n, source!.h], 'the table holds every PostgreSQL id exactly once');
  // the amounts and notes came along with their ids
  const [content] = await queryLake(runner.lake, runner.engine, "SELECT CAST(sum(amount) AS VARCHAR) a, md5(string_agg(note, ',' ORDER BY id)) h FROM bronze.orders");
  const [sourceContent] = (await client.query<{ a: string; h: string }>("SELECT sum(amount)::text a, md5(string_agg(note, ',' ORDER BY id)) h FROM public.orders")).rows;
  assert.deepEqual([content!['a'], content!['h']], [sourceContent!.a, sourceContent!.h]);

  t.diagnostic(`seed ${SEED}: ${KILLS} kills: ${JSON.stringify(phases)}; ${source!.n} rows; ${orphans} orphaned data files`);
  assert.ok(phases['while reading'] > 0, 'some kills landed while the source was read');
  assert.ok(phases['writing data files, before the commit'] > 0, 'some kills landed between writing the data files and the commit');
  assert.ok(phases['after committing'] > 0, 'some kills landed after a commit');
});
