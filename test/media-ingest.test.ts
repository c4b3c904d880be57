/**
 * The media reference system (examples/media-ingest) end to end: the generator's JSON files in a
 * bucket of a local S3-compatible server (moto), a missing day failing with its prefix, a month
 * backfilled, then a daily run. Every table is checked against values computed here from the
 * generator's records: first arrival kept per id (file order), lineage columns, the aggregates.
 */
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { DuckDBEngine } from '../src/engine/duckdb/engine.js';
import { Lake } from '../src/table/lake.js';
import { generate, MISSING_DAY, write, type LandingFile } from '../examples/media-ingest/generate.js';
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
    const b = await cli(['backfill', 'media', '-p', dir, '--from', '2024-08-01', '--to', '2024-08-31']);
    assert.equal(b.code, 0, b.out + b.err);
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
});
