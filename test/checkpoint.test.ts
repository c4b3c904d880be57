import assert from 'node:assert/strict';
import { existsSync, promises as fs } from 'node:fs';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { DuckDBEngine } from '../src/engine/duckdb/engine.js';
import { LocalStore } from '../src/storage/local.js';
import { IngotError } from '../src/errors.js';
import { readCheckpoint } from '../src/table/checkpoint.js';
import { DeltaTable } from '../src/table/table.js';
import { canonicalRows, readWithDeltaRs, readWithIngot, REPO_ROOT, tempDir, writeSql } from './helpers.js';

const CORPUS = path.resolve(process.env['INGOT_CONFORMANCE_DIR'] ?? path.join(REPO_ROOT, '..', 'shared', 'conformance', 'delta'));

/** Sorted JSON of rows, for order-free comparison. */
function sorted(rows: Record<string, unknown>[]): string[] {
  return rows.map((r) => JSON.stringify(r)).sort();
}

describe('checkpoints', () => {
  let engine: DuckDBEngine;
  let dir: string;
  let cleanup: () => void;
  before(async () => {
    engine = await DuckDBEngine.open();
    ({ dir, cleanup } = tempDir('checkpoint'));
  });
  after(async () => {
    await engine.close();
    cleanup();
  });

  it('writes one every 10 commits that ingot and delta-rs read without the commits before it', async () => {
    const location = path.join(dir, 't');
    const table = new DeltaTable(new LocalStore(location), engine);
    for (let v = 0; v < 12; v++) {
      const mode = v === 6 ? 'replace' : 'append';
      await writeSql(engine, table, `SELECT ${v} * 100 + range AS id, DATE '2001-01-01' + ${v % 3} AS d, 'v${v}' AS s FROM range(5)`, {
        mode, partitionBy: ['d'], ...(mode === 'replace' ? { replaceWhere: [{ column: 'd', op: '=', value: '2001-01-01' }] } : {}),
      });
    }
    const log = await fs.readdir(path.join(location, '_delta_log'));
    assert.deepEqual(log.filter((n) => n.includes('checkpoint')).sort(), ['00000000000000000010.checkpoint.parquet', '_last_checkpoint']);
    assert.deepEqual(JSON.parse(await fs.readFile(path.join(location, '_delta_log', '_last_checkpoint'), 'utf8')).version, 10);

    const expected = await readWithIngot(engine, table);
    assert.equal(expected.version, 11);
    for (let v = 0; v < 10; v++) await fs.rm(path.join(location, '_delta_log', `${String(v).padStart(20, '0')}.json`));

    const fresh = new DeltaTable(new LocalStore(location), engine);
    const got = await readWithIngot(engine, fresh);
    assert.equal(got.version, 11);
    assert.deepEqual(sorted(got.rows), sorted(expected.rows));
    const snapshot = await fresh.snapshot();
    assert.ok(snapshot.tombstones.size > 0, 'the checkpoint keeps the replace\'s tombstones');

    const rs = readWithDeltaRs(location);
    assert.equal(rs.version, 11);
    assert.deepEqual(sorted(canonicalRows(got.schema, rs.rows)), sorted(canonicalRows(got.schema, got.rows)));

    // no engine needed: the checkpoint is decoded in process, to the same snapshot
    const withoutReader = await new DeltaTable(new LocalStore(location)).snapshot();
    assert.equal(withoutReader.version, 11);
    assert.deepEqual([...withoutReader.files.values()].map((f) => JSON.stringify(f)).sort(), [...snapshot.files.values()].map((f) => JSON.stringify(f)).sort());
    assert.deepEqual(new Map(withoutReader.tombstones), new Map(snapshot.tombstones));
  });

  it('a corrupt _last_checkpoint falls back to listing the log', async () => {
    const location = path.join(dir, 't');
    await fs.writeFile(path.join(location, '_delta_log', '_last_checkpoint'), '{"version": 3, trunc');
    const got = await readWithIngot(engine, new DeltaTable(new LocalStore(location), engine));
    assert.equal(got.version, 11);
    assert.equal(got.rows.length, 50); // 12 writes of 5 rows; the replace at version 6 dropped versions 0 and 3
  });

  it('the in-process decoder reads a checkpoint as DuckDB does, and a codec it lacks goes to the engine', async () => {
    const location = path.join(dir, 't');
    const key = '_delta_log/00000000000000000010.checkpoint.parquet';
    const ref = { version: 10, files: [key], kind: 'classic' as const };
    const decoded = await readCheckpoint(new LocalStore(location), ref);
    const byDuckDB = (await engine.readActions(path.join(location, key), ['protocol', 'metaData', 'add', 'remove', 'txn', 'domainMetadata', 'checkpointMetadata', 'sidecar']));
    assert.ok(decoded.some((a) => 'add' in a) && decoded.some((a) => 'remove' in a) && decoded.some((a) => 'metaData' in a));
    assert.deepEqual(decoded, byDuckDB);

    // the same checkpoint rewritten with ZSTD pages, a codec the decoder does not have
    const copy = path.join(dir, 'zstd');
    await fs.cp(location, copy, { recursive: true });
    await engine.query(`COPY (SELECT * FROM read_parquet('${path.join(location, key)}')) TO '${path.join(copy, key)}' (FORMAT parquet, COMPRESSION zstd)`);
    await assert.rejects(readCheckpoint(new LocalStore(copy), ref), (err: IngotError) => err.code === 'LOG_CORRUPT' && err.message.includes('00000000000000000010.checkpoint.parquet') && /ZSTD/.test(err.message));
    assert.deepEqual(await readCheckpoint(new LocalStore(copy), ref, engine), byDuckDB);
    const snapshot = await new DeltaTable(new LocalStore(copy), engine).snapshot();
    assert.equal(snapshot.version, 11);
  });

  it('decodes every checkpoint of the conformance corpus (Spark, delta-rs: classic, multi-part, V2, sidecars) as DuckDB reads it', async () => {
    assert.ok(existsSync(CORPUS), `the Delta conformance corpus is missing at ${CORPUS}`);
    const files: string[] = [];
    const walk = async (d: string): Promise<void> => {
      for (const e of await fs.readdir(d, { withFileTypes: true })) {
        const p = path.join(d, e.name);
        if (e.isDirectory()) await walk(p);
        else if (/\.parquet$/.test(e.name) && (/\.checkpoint\./.test(e.name) || path.basename(d) === '_sidecars') && p.includes('/_delta_log/')) files.push(p);
      }
    };
    await walk(CORPUS);
    assert.ok(files.length >= 40, `${files.length} checkpoint files in the corpus`);
    const keys = ['protocol', 'metaData', 'add', 'remove', 'txn', 'domainMetadata', 'checkpointMetadata', 'sidecar'];
    // Spark's typed stats columns (stats_parsed, partitionValues_parsed): DuckDB renders their dates as text; ingot reads neither
    const comparable = (actions: object[]): string => JSON.stringify(actions.map((a) => Object.fromEntries(Object.entries(a).map(([k, v]) => {
      const rest = { ...(v as Record<string, unknown>) };
      delete rest['stats_parsed'];
      delete rest['partitionValues_parsed'];
      return [k, rest];
    }))));
    for (const file of files) {
      const at = file.indexOf('/_delta_log/');
      const decoded = await readCheckpoint(new LocalStore(file.slice(0, at)), { version: 0, files: [file.slice(at + 1)], kind: 'classic' });
      const byDuckDB = (await engine.readActions(file, keys)).flatMap((row) => keys.filter((k) => row[k] !== null && row[k] !== undefined).map((k) => ({ [k]: row[k] })));
      assert.ok(decoded.length > 0, file);
      assert.equal(comparable(decoded), comparable(byDuckDB), file);
    }
  });
});
