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

  it('_last_checkpoint starts the listing of the log, never ends it: newer checkpoints and commits are seen, gaps found, bad pointers ignored', async () => {
    const location = path.join(dir, 'pointer');
    const table = new DeltaTable(new LocalStore(location), engine);
    for (let v = 0; v < 23; v++) await writeSql(engine, table, `SELECT ${v} AS v, range AS i FROM range(2)`, { mode: 'append' });
    const pointer = path.join(location, '_delta_log', '_last_checkpoint');
    assert.equal(JSON.parse(await fs.readFile(pointer, 'utf8')).version, 20);
    const expected = await table.snapshot();
    assert.equal(expected.version, 22);
    // the live files' paths (a checkpoint rewrites their dataChange, so the actions differ from the writer's)
    const files = (s: { files: ReadonlyMap<string, unknown> }): string[] => [...s.files.keys()].sort();
    assert.equal(files(expected).length, 23);
    /** A fresh load with `text` as the pointer: the snapshot and where each listing of the log started ('' for the whole log). */
    const load = async (text: string | undefined, version?: number): Promise<{ version: number; files: string[]; listings: string[] }> => {
      if (text === undefined) await fs.rm(pointer, { force: true });
      else await fs.writeFile(pointer, text);
      const listings: string[] = [];
      const store = new LocalStore(location);
      const names = store.names.bind(store);
      store.names = async (prefix, options) => {
        listings.push(options?.startAfter ?? '');
        return names(prefix, options);
      };
      const s = await new DeltaTable(store, engine).snapshot(version);
      return { version: s.version, files: files(s), listings };
    };
    const at = (v: number): string => String(v).padStart(20, '0');
    // a good pointer: the log is listed from its checkpoint on
    assert.deepEqual(await load(JSON.stringify({ version: 20, size: 40 })), { version: 22, files: files(expected), listings: [at(20)] });
    // a stale pointer (another writer checkpointed since): listed from the older checkpoint, the newer one and every commit seen
    assert.deepEqual(await load(JSON.stringify({ version: 10, size: 20 })), { version: 22, files: files(expected), listings: [at(10)] });
    // pointers naming no checkpoint, or not this one, and unreadable ones: the whole log
    const badPointers: [string | undefined, string[]][] = [
      [JSON.stringify({ version: 5, size: 3 }), [at(5), '']], // no checkpoint at 5
      [JSON.stringify({ version: 20, parts: 3 }), [at(20), '']], // 20 is one file, not 3 parts
      [JSON.stringify({ version: 20, v2Checkpoint: { path: `${at(20)}.checkpoint.80a083e8-7026-4e79-81be-64bd76c43a11.json` } }), [at(20), '']],
      [JSON.stringify({ version: 40, size: 3 }), [at(40), '']], // ahead of the log
      [JSON.stringify({ version: -1 }), ['']], ['[]', ['']], ['null', ['']], ['{not json', ['']], [undefined, ['']],
    ];
    for (const [text, listings] of badPointers) assert.deepEqual(await load(text), { version: 22, files: files(expected), listings }, text);
    // time travel before the pointer lists the whole log; at or after it, from the pointer
    const v15 = await table.snapshot(15);
    assert.deepEqual(await load(JSON.stringify({ version: 20 }), 15), { version: 15, files: files(v15), listings: [''] });
    assert.deepEqual((await load(JSON.stringify({ version: 20 }), 21)).listings, [at(20)]);
    // a gap after the pointer's checkpoint is found
    await fs.writeFile(pointer, JSON.stringify({ version: 20 }));
    await fs.rename(path.join(location, '_delta_log', `${at(21)}.json`), path.join(dir, 'commit-21.json'));
    await assert.rejects(new DeltaTable(new LocalStore(location), engine).snapshot(),
      (err: IngotError) => err.code === 'LOG_CORRUPT' && /commit 21 is missing from the log, so version 22 cannot be reconstructed/.test(err.message));
    await fs.rename(path.join(dir, 'commit-21.json'), path.join(location, '_delta_log', `${at(21)}.json`));
    // commits made after a cached snapshot are read without a listing
    const cached = new DeltaTable(new LocalStore(location), engine);
    assert.equal((await cached.snapshot()).version, 22);
    await writeSql(engine, table, 'SELECT 23 AS v, range AS i FROM range(2)', { mode: 'append' });
    assert.equal((await cached.snapshot()).version, 23);
    assert.equal((await cached.snapshot()).numRecords, 48);
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
