import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { crc32 } from 'node:zlib';
import { DuckDBEngine } from '../src/engine/duckdb/engine.js';
import { ROW_FILE, ROW_NUMBER } from '../src/engine/engine.js';
import { IngotError } from '../src/errors.js';
import { scanOf } from '../src/operations/scan.js';
import { LocalStore } from '../src/storage/local.js';
import type { Action, Add } from '../src/table/actions.js';
import { writeCheckpoint } from '../src/table/checkpoint.js';
import { decodeBitmapArray, deletionVectorKey, readDeletionVectors, z85Decode, z85Encode as z85, type DeletionVectorDescriptor } from '../src/table/deletion-vector.js';
import { encodeCommit } from '../src/table/actions.js';
import { DeltaTable } from '../src/table/table.js';
import { canonicalRows, readWithDeltaRs, readWithIngot, REPO_ROOT, tempDir } from './helpers.js';

const CORPUS = path.resolve(process.env['INGOT_CONFORMANCE_DIR'] ?? path.join(REPO_ROOT, '..', 'shared', 'conformance', 'delta'));

// ---------------------------------------------------------------------------------------------
// Test-side encoders, written from PROTOCOL.md and the RoaringFormatSpec, to build DVs by hand.


/** Z85 of `bytes`, zero-padded to a multiple of 4 bytes (as Delta pads inline DVs). */
function z85Encode(bytes: Buffer): string {
  return z85(Buffer.concat([bytes, Buffer.alloc((4 - (bytes.length % 4)) % 4)]));
}

type Kind = 'array' | 'bitmap' | 'run';

/** One 32-bit Roaring bitmap (portable format) of `low` (ascending), container kinds chosen by `kind(key)`. */
function encodeRoaring32(low: number[], kind: (key: number) => Kind): Buffer {
  const containers = new Map<number, number[]>();
  for (const v of low) {
    const list = containers.get(v >>> 16) ?? [];
    list.push(v & 0xffff);
    containers.set(v >>> 16, list);
  }
  const keys = [...containers.keys()];
  const kinds = keys.map(kind);
  const hasRun = kinds.includes('run');
  const bodies = keys.map((k, i) => {
    const vs = containers.get(k)!;
    if (kinds[i] === 'bitmap') {
      const b = Buffer.alloc(8192);
      for (const v of vs) b[v >>> 3] = b[v >>> 3]! | (1 << (v & 7));
      return b;
    }
    if (kinds[i] === 'run') {
      const runs: [number, number][] = [];
      for (const v of vs) {
        const last = runs[runs.length - 1];
        if (last && last[1] === v - 1) last[1] = v;
        else runs.push([v, v]);
      }
      const b = Buffer.alloc(2 + runs.length * 4);
      b.writeUInt16LE(runs.length, 0);
      runs.forEach(([from, to], r) => { b.writeUInt16LE(from, 2 + r * 4); b.writeUInt16LE(to - from, 4 + r * 4); });
      return b;
    }
    const b = Buffer.alloc(vs.length * 2);
    vs.forEach((v, j) => b.writeUInt16LE(v, j * 2));
    return b;
  });
  const head: Buffer[] = [];
  if (hasRun) {
    const cookie = Buffer.alloc(4);
    cookie.writeUInt32LE((12347 | ((keys.length - 1) << 16)) >>> 0);
    const flags = Buffer.alloc(Math.ceil(keys.length / 8));
    kinds.forEach((k, i) => { if (k === 'run') flags[i >>> 3] = flags[i >>> 3]! | (1 << (i & 7)); });
    head.push(cookie, flags);
  } else {
    const cookie = Buffer.alloc(8);
    cookie.writeUInt32LE(12346, 0);
    cookie.writeUInt32LE(keys.length, 4);
    head.push(cookie);
  }
  const keyCards = Buffer.alloc(keys.length * 4);
  keys.forEach((k, i) => { keyCards.writeUInt16LE(k, i * 4); keyCards.writeUInt16LE(containers.get(k)!.length - 1, i * 4 + 2); });
  head.push(keyCards);
  if (!hasRun || keys.length >= 4) {
    const offsets = Buffer.alloc(keys.length * 4);
    let at = head.reduce((n, b) => n + b.length, 0) + offsets.length;
    bodies.forEach((b, i) => { offsets.writeUInt32LE(at, i * 4); at += b.length; });
    head.push(offsets);
  }
  return Buffer.concat([...head, ...bodies]);
}

/** A serialized DV: magic 1681511377 and the portable 64-bit Roaring bitmap of `rows` (ascending). */
function encodeDv(rows: number[], kind: (key: number) => Kind = () => 'array'): Buffer {
  const buckets = new Map<number, number[]>();
  for (const r of rows) {
    const high = Math.floor(r / 2 ** 32);
    const list = buckets.get(high) ?? [];
    list.push(r % 2 ** 32);
    buckets.set(high, list);
  }
  const parts: Buffer[] = [];
  const head = Buffer.alloc(12);
  head.writeUInt32LE(1681511377, 0);
  head.writeBigUInt64LE(BigInt(buckets.size), 4);
  parts.push(head);
  for (const [high, low] of buckets) {
    const key = Buffer.alloc(4);
    key.writeUInt32LE(high);
    parts.push(key, encodeRoaring32(low, kind));
  }
  return Buffer.concat(parts);
}

/** A DV file ("Deletion Vector File Storage Format") holding `dvs`, with the offset of each. */
function dvFile(dvs: Buffer[]): { bytes: Buffer; offsets: number[] } {
  const parts: Buffer[] = [Buffer.from([1])];
  const offsets: number[] = [];
  let at = 1;
  for (const d of dvs) {
    const size = Buffer.alloc(4);
    size.writeUInt32BE(d.length);
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(crc32(d));
    parts.push(size, d, crc);
    offsets.push(at);
    at += 8 + d.length;
  }
  return { bytes: Buffer.concat(parts), offsets };
}

/** The `u` descriptor text for `uuid` with `prefix`. */
function uuidDv(uuid: string, prefix = ''): string {
  return prefix + z85Encode(Buffer.from(uuid.replace(/-/g, ''), 'hex'));
}

const range = (from: number, to: number, step = 1): number[] => Array.from({ length: Math.ceil((to - from) / step) }, (_, i) => from + i * step);

// ---------------------------------------------------------------------------------------------

describe('deletion vector decoding', () => {
  it('decodes z85 and the PROTOCOL.md examples (a UUID with a random prefix, an inline DV)', () => {
    assert.deepEqual([...z85Decode('HelloWorld')], [0x86, 0x4f, 0xd2, 0x6f, 0xb5, 0x59, 0xf7, 0x5b]); // ZeroMQ RFC 32 test vector
    assert.throws(() => z85Decode('Hello~orld'), /invalid character "~"/);
    assert.throws(() => z85Decode('Hell'), /not a multiple of 5/);
    const u: DeletionVectorDescriptor = { storageType: 'u', pathOrInlineDv: 'ab^-aqEH.-t@S}K{vb[*k^', offset: 4, sizeInBytes: 40, cardinality: 6 };
    assert.equal(deletionVectorKey(u, '/t'), 'ab/deletion_vector_d2c639aa-8816-431a-aaf6-d3fe2512ff61.bin');
    assert.equal(deletionVectorKey({ ...u, pathOrInlineDv: u.pathOrInlineDv.slice(2) }, '/t'), 'deletion_vector_d2c639aa-8816-431a-aaf6-d3fe2512ff61.bin');
    assert.equal(deletionVectorKey({ ...u, storageType: 'p', pathOrInlineDv: 'file:///t/x/deletion_vector_1.bin' }, '/t'), 'x/deletion_vector_1.bin');
    assert.throws(() => deletionVectorKey({ ...u, storageType: 'p', pathOrInlineDv: 's3://b/deletion_vector_1.bin' }, '/t'), (e: unknown) => e instanceof IngotError && e.code === 'PROTOCOL_UNSUPPORTED');
    // the spec's inline example is in Delta's native format (big-endian magic 1681511376)
    assert.deepEqual(decodeBitmapArray(z85Decode('wi5b=000010000siXQKl0rr91000f55c8Xg0@@D72lkbi5=-{L', 40)), [3, 4, 7, 11, 18, 29]);
  });

  it('decodes hand-built bitmaps with array, bitmap and run containers and several 32-bit buckets', () => {
    const cases: { name: string; rows: number[]; kind: (key: number) => Kind }[] = [
      { name: 'array', rows: [0, 1, 5, 65535, 65536, 1_000_000], kind: () => 'array' },
      { name: 'bitmap', rows: range(0, 65536, 3).concat(range(65536 * 7, 65536 * 7 + 5000)), kind: () => 'bitmap' },
      { name: 'run, no offsets (< 4 containers)', rows: range(10, 20).concat([30], range(65536, 65536 + 40000)), kind: () => 'run' },
      { name: 'mixed, with offsets', rows: range(1000, 61000).concat(range(65536, 131072, 3), [131077, 150000, 199999], range(4 * 65536, 4 * 65536 + 65536)), kind: (k) => (['run', 'bitmap', 'array', 'array', 'run'] as Kind[])[k]! },
      { name: 'beyond 2^32', rows: [7, 2 ** 32 + 1, 2 ** 32 + 65536 * 3, 5 * 2 ** 32 + 9], kind: (k) => (k === 0 ? 'run' : 'array') },
    ];
    for (const c of cases) assert.deepEqual(decodeBitmapArray(encodeDv(c.rows, c.kind)), c.rows, c.name);
    const good = encodeDv([1, 2, 3]);
    assert.throws(() => decodeBitmapArray(Buffer.concat([good, Buffer.alloc(1)])), /1 trailing bytes/);
    assert.throws(() => decodeBitmapArray(good.subarray(0, good.length - 1)), /bitmap ends at byte/);
    assert.throws(() => decodeBitmapArray(encodeDv([1, 5, 3])), /not ascending \(3 after 5\)/);
    const badMagic = Buffer.from(good);
    badMagic.writeUInt32LE(7, 0);
    assert.throws(() => decodeBitmapArray(badMagic), /magic number 7/);
  });

  it('reads the corpus DV files through the store and checks checksum, size and cardinality', async () => {
    const location = path.join(CORPUS, 'delta-rs', 'table-with-dv-small');
    const store = new LocalStore(location);
    const dv: DeletionVectorDescriptor = { storageType: 'u', pathOrInlineDv: 'vBn[lx{q8@P<9BNH/isA', offset: 1, sizeInBytes: 36, cardinality: 2 };
    assert.deepEqual(await readDeletionVectors(store, [undefined, dv, null]), [undefined, [0, 9], undefined]);
    await assert.rejects(readDeletionVectors(store, [{ ...dv, cardinality: 3 }]), (e: unknown) => e instanceof IngotError && e.code === 'LOG_CORRUPT' && /deletes 2 rows, the log says 3/.test(e.message));

    const { dir, cleanup } = tempDir('dv-corrupt');
    try {
      const key = deletionVectorKey(dv, location);
      const bytes = await fs.readFile(path.join(location, key));
      bytes[bytes.length - 6] = bytes[bytes.length - 6]! ^ 0xff; // inside the bitmap data
      await fs.writeFile(path.join(dir, key), bytes);
      await assert.rejects(readDeletionVectors(new LocalStore(dir), [dv]), (e: unknown) =>
        e instanceof IngotError && e.code === 'LOG_CORRUPT' && e.message.includes(path.join(dir, key)) && /checksum/.test(e.message));
      await fs.rm(path.join(dir, key));
      await assert.rejects(readDeletionVectors(new LocalStore(dir), [dv]), /deletion_vector_.*\.bin: the file does not exist/);
    } finally {
      cleanup();
    }
  });
});

describe('tables with deletion vectors', () => {
  let engine: DuckDBEngine;
  let dir: string;
  let cleanup: () => void;
  before(async () => {
    engine = await DuckDBEngine.open();
    ({ dir, cleanup } = tempDir('dv'));
  });
  after(async () => {
    await engine.close();
    cleanup();
  });

  const sortedRows = (rows: Record<string, unknown>[]): string[] => rows.map((r) => JSON.stringify(r)).sort();

  it('reads corpus DV tables (Spark-written, with checkpoints, column mapping, partitions) as delta-rs does', async () => {
    for (const rel of ['delta-rs/table-with-dv-small', 'spark-golden/log-replay-dv-key-cases', 'spark-golden/dv-partitioned-with-checkpoint', 'spark-golden/dv-with-columnmapping']) {
      const location = path.join(CORPUS, rel);
      const table = new DeltaTable(new LocalStore(location), engine);
      const ours = await readWithIngot(engine, table);
      const theirs = readWithDeltaRs(location);
      assert.equal(ours.version, theirs.version, rel);
      assert.deepEqual(sortedRows(canonicalRows(ours.schema, ours.rows)), sortedRows(canonicalRows(ours.schema, theirs.rows)), rel);
    }
    const small = new DeltaTable(new LocalStore(path.join(CORPUS, 'delta-rs', 'table-with-dv-small')), engine);
    assert.equal((await readWithIngot(engine, small, 0)).rows.length, 10);
    assert.deepEqual((await readWithIngot(engine, small, 1)).rows.map((r) => r['value']).sort((a, b) => Number(a) - Number(b)), [1, 2, 3, 4, 5, 6, 7, 8]);
    assert.equal((await small.snapshot(1)).numRecords, 8);
  });

  it('skips large deleted row sets in any container kind, keeps row ids, and survives an ingot checkpoint', async () => {
    const location = path.join(dir, 'big');
    const store = new LocalStore(location);
    await fs.mkdir(path.join(location, 'ab'), { recursive: true });
    const files = { a: 'part-a.parquet', b: 'part-b.parquet', c: 'part-c.parquet' };
    const sizes = { a: 200_000, b: 1000, c: 100 };
    for (const [k, f] of Object.entries(files)) {
      await engine.query(`COPY (SELECT range AS id, '${k}' AS f FROM range(${sizes[k as 'a']})) TO '${path.join(location, f)}' (FORMAT parquet, ROW_GROUP_SIZE 30000)`);
    }
    const add = async (k: 'a' | 'b' | 'c', dv?: DeletionVectorDescriptor): Promise<Add> => ({
      path: files[k], partitionValues: {}, size: (await fs.stat(path.join(location, files[k]))).size, modificationTime: 1, dataChange: true,
      stats: JSON.stringify({ numRecords: sizes[k], minValues: {}, maxValues: {}, nullCount: {} }),
      ...(dv ? { deletionVector: dv } : {}),
    });
    // file a: a run (key 0), a dense bitmap (key 1), sparse arrays (keys 2, 3): 4 containers, so offsets are written
    const dvA1 = range(1000, 61000).concat(range(65536, 131072, 3), [131077, 150000, 199999]);
    const dvA2 = [0, ...dvA1.slice(0, -1), 199998, 199999];
    const kindA = (key: number): Kind => (['run', 'bitmap', 'array', 'array'] as Kind[])[key]!;
    const uuid = randomUUID();
    const file = dvFile([encodeDv(dvA1, kindA), encodeDv(dvA2, kindA)]);
    await fs.writeFile(path.join(location, 'ab', `deletion_vector_${uuid}.bin`), file.bytes);
    const descA = (rows: number[], i: number): DeletionVectorDescriptor => ({ storageType: 'u', pathOrInlineDv: uuidDv(uuid, 'ab'), offset: file.offsets[i]!, sizeInBytes: encodeDv(rows, kindA).length, cardinality: rows.length });
    // file b: inline, run containers without offsets
    const dvB = range(10, 20).concat([500]);
    const inline = encodeDv(dvB, () => 'run');
    const descB: DeletionVectorDescriptor = { storageType: 'i', pathOrInlineDv: z85Encode(inline), sizeInBytes: inline.length, cardinality: dvB.length };

    const protocol = { minReaderVersion: 3, minWriterVersion: 7, readerFeatures: ['deletionVectors'], writerFeatures: ['deletionVectors'] };
    const schema = { type: 'struct', fields: [{ name: 'id', type: 'long', nullable: true, metadata: {} }, { name: 'f', type: 'string', nullable: true, metadata: {} }] };
    const commits: Action[][] = [
      [{ protocol }, { metaData: { id: randomUUID(), format: { provider: 'parquet', options: {} }, schemaString: JSON.stringify(schema), partitionColumns: [], configuration: { 'delta.enableDeletionVectors': 'true' }, createdTime: 1 } },
        { add: await add('a') }, { add: await add('b') }, { add: await add('c') }],
      [{ remove: { path: files.a, deletionTimestamp: Date.now(), dataChange: true } }, { add: await add('a', descA(dvA1, 0)) },
        { remove: { path: files.b, deletionTimestamp: Date.now(), dataChange: true } }, { add: await add('b', descB) }],
      // the new DV's add comes before the old DV's remove: replay must not depend on the order
      [{ add: await add('a', descA(dvA2, 1)) }, { remove: { path: files.a, deletionTimestamp: Date.now(), dataChange: true, deletionVector: descA(dvA1, 0) } }],
    ];
    await fs.mkdir(path.join(location, '_delta_log'));
    for (const [v, actions] of commits.entries()) await fs.writeFile(path.join(location, '_delta_log', `${String(v).padStart(20, '0')}.json`), encodeCommit(actions));

    const table = new DeltaTable(store, engine);
    const expected = (deleted: { a: number[]; b: number[] }): number => [...Object.entries(sizes)]
      .reduce((n, [k, size]) => n + size - (deleted[k as 'a' | 'b']?.length ?? 0), 0);
    const deletedAt = [{ a: [], b: [] }, { a: dvA1, b: dvB }, { a: dvA2, b: dvB }];
    for (let v = 0; v < 3; v++) {
      const ours = await readWithIngot(engine, table, v);
      const theirs = readWithDeltaRs(location, v);
      assert.equal(ours.rows.length, expected(deletedAt[v]!), `version ${v}`);
      assert.deepEqual(sortedRows(canonicalRows(ours.schema, ours.rows)), sortedRows(canonicalRows(ours.schema, theirs.rows)), `version ${v}`);
      assert.equal((await table.snapshot(v)).numRecords, ours.rows.length);
    }

    // row ids: file a's surviving rows are exactly the positions not in its DV
    const scan = await scanOf(table, await table.snapshot());
    await engine.attachTable('dv.ids', { ...scan, rowIds: true });
    const ids = await engine.query(`SELECT ${ROW_NUMBER} AS r FROM dv.ids WHERE ${ROW_FILE} = '${path.join(location, files.a)}' AND id = ${ROW_NUMBER} ORDER BY r`);
    const gone = new Set(dvA2);
    assert.deepEqual(ids.map((r) => Number(r['r'])), range(0, sizes.a).filter((r) => !gone.has(r)));
    // re-attached without deletion vectors, the same name reads every row again
    await engine.attachTable('dv.ids', { ...scan, files: scan.files.map((f) => ({ path: f.path, partitionValues: f.partitionValues })) });
    assert.equal(Number((await engine.query('SELECT count(*) AS n FROM dv.ids'))[0]!['n']), 201_100);

    // a checkpoint written by ingot keeps the deletionVector structs for ingot and delta-rs
    await writeCheckpoint(store, await table.snapshot(), engine);
    const checkpoint = await engine.readRows(path.join(location, '_delta_log', `${'2'.padStart(20, '0')}.checkpoint.parquet`));
    const dvs = checkpoint.flatMap((r) => [(r['add'] as Add | null)?.deletionVector, (r['remove'] as { deletionVector?: unknown } | null)?.deletionVector]).filter((d) => d);
    assert.equal(dvs.length, 3, 'two adds and one remove carry a deletion vector');
    for (let v = 0; v < 2; v++) await fs.rm(path.join(location, '_delta_log', `${String(v).padStart(20, '0')}.json`));
    const fresh = await readWithIngot(engine, new DeltaTable(new LocalStore(location), engine));
    assert.equal(fresh.rows.length, expected(deletedAt[2]!));
    const rs = readWithDeltaRs(location);
    assert.deepEqual(sortedRows(canonicalRows(fresh.schema, rs.rows)), sortedRows(canonicalRows(fresh.schema, fresh.rows)));
  });
});
