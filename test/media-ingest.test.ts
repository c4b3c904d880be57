/**
 * The media reference system (examples/media-ingest) end to end: the generator's JSON files in a
 * bucket of a local S3-compatible server (moto), a missing day failing with its prefix, a month
 * backfilled, then a daily run. Every table is checked against values computed here from the
 * generator's records: first arrival kept per id (file order), lineage columns, the aggregates.
 * Then the pipelines as the reference deploys them: paused until resumed, one per source (a day
 * that fails for one source leaves the other's runs alone), and a monthly pipeline loading a
 * month of history in one run.
 */
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { DuckDBEngine } from '../src/engine/duckdb/engine.js';
import { Lake } from '../src/table/lake.js';
import { generate, MISSING_DAY, write, type LandingFile } from '../examples/media-ingest/generate.js';
import { loadProject } from '../src/project.js';
import { openMetadata } from '../src/metadata/open.js';
import { Scheduler } from '../src/schedule/scheduler.js';
import { cli, ROOT, tempDir } from './fixtures.js';
import { motoEnvironment, type MotoEnvironment } from './moto.js';
import { attachTables } from '../src/operations/query.js';

const EXAMPLE = path.join(ROOT, 'examples', 'media-ingest');
const BUCKET = 'media-landing';
const LAST = '2024-09-01';

type Row = Record<string, unknown>;

/** The first arrival of each id over `files` (in arrival order), with the file it came from. */
function firstArrivals(files: LandingFile[]): Map<string, { record: Row; file: string }> {
  const kept = new Map<string, { record: Row; file: string }>();
  for (const f of files) {
    for (const r of f.records) {
      if (!kept.has(r['id'] as string)) kept.set(r['id'] as string, { record: r, file: `s3://${BUCKET}/${f.key}` });
    }
  }
  return kept;
}

describe('examples/media-ingest on a local S3 server', () => {
  let moto: MotoEnvironment | undefined;
  let dir: string;
  let cleanup: () => Promise<void>;
  let engine: DuckDBEngine;
  // what landed up to LAST, in arrival order (day, then file name)
  const landed = generate().filter((f) => f.day <= LAST).sort((a, b) => a.key.split('/')[1]!.localeCompare(b.key.split('/')[1]!) || a.key.localeCompare(b.key));

  const query = async (sql: string): Promise<Row[]> => {
    const lake = new Lake(path.join(dir, 'lake'), engine);
    await attachTables(lake, engine, ['silver.media', 'silver.tiktokcomment', 'gold.outlet_daily', 'gold.video_comments', 'bronze.media']);
    return engine.query(sql);
  };

  before(async () => {
    ({ dir, cleanup } = await tempDir('media'));
    moto = await motoEnvironment({ INGOT_CACHE_DIR: path.join(dir, 'cache'), MEDIA_LANDING: `s3://${BUCKET}` });
    await write(generate().filter((f) => f.day <= LAST), `s3://${BUCKET}`);
    for (const f of ['ingot.config.ts', 'landing.ts', 'datasets']) await fs.cp(path.join(EXAMPLE, f), path.join(dir, f), { recursive: true });
    engine = await DuckDBEngine.open();
  });

  after(async () => {
    await engine?.close();
    await moto?.stop();
    await cleanup?.();
  });

  it('fails a day without files, naming its prefix, and commits nothing', async () => {
    const r = await cli(['run', '-p', dir, '--date', MISSING_DAY]);
    assert.notEqual(r.code, 0);
    assert.match(r.out + r.err, new RegExp(`no input files: nothing matches s3://${BUCKET}/media/${MISSING_DAY}/\\*\\.json`));
    await assert.rejects(fs.access(path.join(dir, 'lake', 'bronze', 'media')));
  });

  it('backfills a month and runs the next day: one row per id, the first arrival, with lineage', async () => {
    for (const p of ['media', 'tiktokcomment']) {
      const b = await cli(['backfill', p, '-p', dir, '--from', '2024-08-01', '--to', '2024-08-31']);
      assert.equal(b.code, 0, b.out + b.err);
    }
    const d = await cli(['run', '-p', dir, '--date', LAST]);
    assert.equal(d.code, 0, d.out + d.err);

    // bronze keeps every record as delivered, duplicates included
    const [bronze] = await query('SELECT count(*) AS n FROM bronze.media');
    assert.equal(Number(bronze!['n']), landed.filter((f) => f.key.startsWith('media/')).reduce((n, f) => n + f.records.length, 0));

    const media = firstArrivals(landed.filter((f) => f.key.startsWith('media/')));
    const rows = await query('SELECT id, source_file_name, metrics.views AS views, language, epoch_ms(created_at_etl) AS etl FROM silver.media');
    assert.equal(rows.length, media.size);
    const duplicates = landed.filter((f) => f.key.startsWith('media/')).reduce((n, f) => n + f.records.length, 0) - media.size;
    assert.ok(duplicates > 200, `the feed repeats ids (${duplicates} repeats)`);
    for (const r of rows) {
      const want = media.get(r['id'] as string);
      assert.ok(want, `unexpected id ${String(r['id'])}`);
      assert.equal(r['source_file_name'], want.file, `source file of ${String(r['id'])}`);
      assert.equal(Number(r['views']), (want.record['metrics'] as { views: number }).views, `views of ${String(r['id'])} (first arrival)`);
      assert.equal(r['language'] ?? undefined, want.record['language'], `language of ${String(r['id'])}`);
    }
    // created_at_etl: one value per batch, so per day of source files
    const etl = await query(`SELECT split_part(source_file_name, '/', 5) AS day, count(DISTINCT created_at_etl) AS n FROM silver.media GROUP BY 1 HAVING count(DISTINCT created_at_etl) <> 1`);
    assert.deepEqual(etl, []);

    const comments = firstArrivals(landed.filter((f) => f.key.startsWith('tiktokcomment/')));
    const crows = await query('SELECT id, digg_count, user_id, source_file_name FROM silver.tiktokcomment');
    assert.equal(crows.length, comments.size);
    for (const r of crows) {
      const want = comments.get(r['id'] as string)!;
      assert.equal(Number(r['digg_count']), want.record['digg_count']);
      assert.equal(r['user_id'], (want.record['user'] as { id: string }).id);
      assert.equal(r['source_file_name'], want.file);
    }

    // gold: items, views and shares per outlet and publication day
    const expected = new Map<string, [number, number, number]>();
    for (const { record } of media.values()) {
      const k = `${String(record['outlet'])}|${String(record['published_at']).slice(0, 10)}`;
      const [n, v, s] = expected.get(k) ?? [0, 0, 0];
      const m = record['metrics'] as { views: number; shares: number };
      expected.set(k, [n + 1, v + m.views, s + m.shares]);
    }
    const gold = await query(`SELECT outlet || '|' || CAST(published_day AS VARCHAR) AS k, items, views, shares FROM gold.outlet_daily`);
    assert.equal(gold.length, expected.size);
    for (const g of gold) assert.deepEqual([Number(g['items']), Number(g['views']), Number(g['shares'])], expected.get(g['k'] as string), String(g['k']));
  });

  it('re-running a loaded day changes nothing', async () => {
    const before = await query('SELECT (SELECT count(*) FROM silver.media) AS m, (SELECT count(*) FROM silver.tiktokcomment) AS c');
    const r = await cli(['run', '-p', dir, '--date', '2024-08-05']);
    assert.equal(r.code, 0, r.out + r.err);
    assert.deepEqual(await query('SELECT (SELECT count(*) FROM silver.media) AS m, (SELECT count(*) FROM silver.tiktokcomment) AS c'), before);
  });

  /** A fresh copy of the example; `config` rewrites its ingot.config.ts. */
  async function copy(prefix: string, config: (text: string) => string = (t) => t): Promise<{ dir: string; cleanup: () => Promise<void> }> {
    const t = await tempDir(prefix);
    for (const f of ['landing.ts', 'datasets']) await fs.cp(path.join(EXAMPLE, f), path.join(t.dir, f), { recursive: true });
    await fs.writeFile(path.join(t.dir, 'ingot.config.ts'), config(await fs.readFile(path.join(EXAMPLE, 'ingot.config.ts'), 'utf8')));
    return t;
  }

  it('deployed paused; once resumed, one pipeline per source: days without comment files fail tiktokcomment and not media', async (t) => {
    // two more days of media files, and none of comments
    const extra = generate().filter((f) => (f.day === '2024-09-02' || f.day === '2024-09-03') && f.key.startsWith('media/'));
    assert.ok(extra.length >= 2);
    await write(extra, `s3://${BUCKET}`);
    const p = await copy('media-sched', (text) => {
      assert.equal(text.match(/paused: true/g)?.length, 3, 'every pipeline is declared paused');
      return text.replaceAll("start: '2024-08-01', interval: 'daily'", "start: '2024-09-02', interval: 'daily'").replaceAll("retryDelay: '1m'", "retryDelay: '100ms'");
    });
    t.after(p.cleanup);
    const project = await loadProject(p.dir);
    const store = await openMetadata(project);
    const s = new Scheduler(project, store, { now: () => new Date('2024-09-04T02:00:00Z'), tickMs: 50, leaseMs: 5000, log: () => {} });
    t.after(async () => {
      await s.stop(0);
      await store.close();
    });
    s.start();
    await s.idle();
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(s.results.length, 0, 'paused pipelines start nothing');
    const listed = JSON.parse((await cli(['pipelines', '-p', p.dir, '--format', 'json'])).out) as { pipeline: string; paused: boolean }[];
    assert.deepEqual(listed.map((x) => [x.pipeline, x.paused]), [['media', true], ['tiktokcomment', true], ['media-monthly', true]]);

    for (const name of ['media', 'tiktokcomment']) {
      const r = await cli(['resume', name, '-p', p.dir]);
      assert.equal(r.code, 0, r.err);
    }
    await s.idle();
    const outcome = (name: string): string[][] => s.results.filter((r) => r.pipeline === name).map((r) => [r.logicalDate!, r.status]).sort((a, b) => a[0]!.localeCompare(b[0]!));
    assert.deepEqual(outcome('media'), [['2024-09-02', 'success'], ['2024-09-03', 'success']]);
    assert.deepEqual(outcome('tiktokcomment'), [['2024-09-02', 'failed'], ['2024-09-03', 'failed']]);
    assert.match(s.results.find((r) => r.pipeline === 'tiktokcomment')!.error!, new RegExp(`no input files: nothing matches s3://${BUCKET}/tiktokcomment/2024-09-0[23]/`));
    assert.deepEqual(outcome('media-monthly'), [], 'still paused');
    const [days] = await queryIn(p.dir, "SELECT count(DISTINCT day) AS n FROM bronze.media", ['bronze.media']);
    assert.equal(Number(days!['n']), 2);
    await assert.rejects(fs.access(path.join(p.dir, 'lake', 'bronze', 'tiktokcomment', '_delta_log')));
  });

  it('media-monthly loads a month of history in one run: every day of the month, one row per id', async (t) => {
    const p = await copy('media-monthly');
    t.after(p.cleanup);
    const b = await cli(['backfill', 'media-monthly', '-p', p.dir, '--from', '2024-08-01', '--to', '2024-08-01']);
    assert.equal(b.code, 0, b.out + b.err);
    assert.match(b.out, /media-monthly: 1 intervals? ran, 0 failed/);
    const august = landed.filter((f) => f.key.startsWith('media/') && f.day.startsWith('2024-08'));
    const [bronze] = await queryIn(p.dir, 'SELECT count(*) AS n, count(DISTINCT day) AS days, count(DISTINCT _run_id) AS runs FROM bronze.media', ['bronze.media']);
    assert.deepEqual([Number(bronze!['n']), Number(bronze!['days']), Number(bronze!['runs'])], [august.reduce((n, f) => n + f.records.length, 0), 31, 1]);
    const want = firstArrivals(august);
    const rows = await queryIn(p.dir, 'SELECT id, source_file_name FROM silver.media', ['silver.media']);
    assert.equal(rows.length, want.size);
    for (const r of rows) assert.equal(r['source_file_name'], want.get(r['id'] as string)?.file, String(r['id']));
    // a monthly interval recorded: the next backfill of the month has nothing to do
    const again = await cli(['backfill', 'media-monthly', '-p', p.dir, '--from', '2024-08-01', '--to', '2024-08-01']);
    assert.match(again.out, /media-monthly: 0 intervals ran, 0 failed, 1 skipped/);
  });

  async function queryIn(projectDir: string, sql: string, tables: string[]): Promise<Row[]> {
    const lake = new Lake(path.join(projectDir, 'lake'), engine);
    await attachTables(lake, engine, tables);
    return engine.query(sql);
  }
});
