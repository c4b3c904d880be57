import { randomUUID } from 'node:crypto';
import { posix } from 'node:path';
import { crc32 } from 'node:zlib';
import { IngotError } from '../errors.js';
import { NotFoundError, type ObjectStore } from '../storage/store.js';

/**
 * Deletion vectors (PROTOCOL.md, "Deletion Vectors" and Appendix "Deletion Vector Format"): the
 * rows of a data file that are logically deleted, as 0-based row positions in the file.
 */

/** "Deletion Vector Descriptor Schema": where a DV is stored and how many rows it deletes. */
export interface DeletionVectorDescriptor {
  /** `u`: file named by a UUID (relative to the table root), `i`: inline, `p`: absolute path. */
  storageType: string;
  /** `u`: `<random prefix><20-char z85 UUID>`; `i`: z85 of the serialized bitmap; `p`: a path URI. */
  pathOrInlineDv: string;
  /** Byte offset of the DV in its file (the `dataSize` field); absent for inline DVs, 0 if absent otherwise. */
  offset?: number | null;
  /** Size of the serialized bitmap in bytes (before z85 encoding when inline). */
  sizeInBytes: number;
  /** Number of rows the DV deletes. */
  cardinality: number;
}

/**
 * The DV's `uniqueId` ("Derived Fields"): `<storageType><pathOrInlineDv>[@<offset>]`. Together with
 * the data file's path it identifies a logical file in log replay. Undefined for no DV.
 */
export function deletionVectorId(dv: DeletionVectorDescriptor | null | undefined): string | undefined {
  if (!dv?.storageType) return undefined; // a checkpoint may hold a struct of nulls for no DV
  return dv.offset === undefined || dv.offset === null ? `${dv.storageType}${dv.pathOrInlineDv}` : `${dv.storageType}${dv.pathOrInlineDv}@${dv.offset}`;
}

const Z85 = '0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.-:+=^!/*?&<>()[]{}@%$#';
const Z85_VALUE = new Map([...Z85].map((c, i) => [c, i]));

/**
 * Decodes Z85 (ZeroMQ RFC 32, the Base85 variant Delta uses): every 5 characters give 4 bytes,
 * big-endian. `length` truncates the zero padding Delta adds to reach a multiple of 4 bytes.
 * Throws `Error` on a length that is not a multiple of 5 or a character outside the alphabet.
 */
export function z85Decode(text: string, length = (text.length / 5) * 4): Buffer {
  if (text.length % 5 !== 0) throw new Error(`z85 text of ${text.length} characters is not a multiple of 5`);
  const out = Buffer.alloc((text.length / 5) * 4);
  for (let i = 0; i < text.length; i += 5) {
    let v = 0;
    for (let j = i; j < i + 5; j++) {
      const d = Z85_VALUE.get(text[j]!);
      if (d === undefined) throw new Error(`z85 text has an invalid character ${JSON.stringify(text[j])} at ${j}`);
      v = v * 85 + d;
    }
    if (v > 0xffffffff) throw new Error(`z85 group at ${i} exceeds 32 bits`);
    out.writeUInt32BE(v, (i / 5) * 4);
  }
  if (length > out.length) throw new Error(`z85 text holds ${out.length} bytes, ${length} expected`);
  return out.subarray(0, length);
}

/** Encodes Z85 (ZeroMQ RFC 32): every 4 bytes (big-endian) give 5 characters. Throws `Error` on a length that is not a multiple of 4. */
export function z85Encode(bytes: Buffer): string {
  if (bytes.length % 4 !== 0) throw new Error(`z85 input of ${bytes.length} bytes is not a multiple of 4`);
  let out = '';
  for (let i = 0; i < bytes.length; i += 4) {
    let v = bytes.readUInt32BE(i);
    let group = '';
    for (let j = 0; j < 5; j++) {
      group = Z85[v % 85]! + group;
      v = Math.floor(v / 85);
    }
    out += group;
  }
  return out;
}

/**
 * `dv` (stored at `key`, relative to the table root) as a `u` descriptor, whose location is
 * relative to the table root ("Deletion Vector Descriptor Schema": `<random prefix><z85 UUID>`
 * naming `<prefix>/deletion_vector_<uuid>.bin`), when `key` has that form; else undefined.
 */
export function relativeDeletionVector(dv: DeletionVectorDescriptor, key: string): DeletionVectorDescriptor | undefined {
  const m = /^(?:([A-Za-z0-9]+)\/)?deletion_vector_([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})\.bin$/.exec(key);
  if (!m) return undefined;
  return { ...dv, storageType: 'u', pathOrInlineDv: `${m[1] ?? ''}${z85Encode(Buffer.from(m[2]!.replace(/-/g, ''), 'hex'))}` };
}

/**
 * Where a `u` or `p` DV lives, as a key relative to the table's store root ("Derived Fields",
 * `absolutePath`): `u` → `<prefix>/deletion_vector_<uuid>.bin`; `p` → the path, which must lie
 * under the table root, or (a local table) may lie elsewhere, as a key climbing out with `..`. Errors: PROTOCOL_UNSUPPORTED for a `p` path elsewhere or another kind.
 */
export function deletionVectorKey(dv: DeletionVectorDescriptor, root: string): string {
  if (dv.storageType === 'u') {
    const encoded = dv.pathOrInlineDv;
    if (encoded.length < 20) throw new IngotError('LOG_CORRUPT', `${root}: deletion vector ${JSON.stringify(encoded)} is too short to hold a UUID`, { table: root });
    const hex = z85Decode(encoded.slice(-20)).toString('hex');
    const uuid = `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
    const prefix = encoded.slice(0, -20);
    return `${prefix ? `${prefix}/` : ''}deletion_vector_${uuid}.bin`;
  }
  if (dv.storageType === 'p') {
    const file = decodeURIComponent(dv.pathOrInlineDv.replace(/^file:(\/\/)?/, ''));
    const base = root.endsWith('/') ? root : `${root}/`;
    if (file.startsWith(base)) return file.slice(base.length);
    // a shallow clone's DV in its source table: a key climbing out of a local root (see `decodePath`)
    if (root.startsWith('/') && file.startsWith('/')) return posix.relative(root, file);
    throw new IngotError('PROTOCOL_UNSUPPORTED', `${root}: deletion vector file ${dv.pathOrInlineDv} is outside the table; ingot reads deletion vectors stored elsewhere only for tables on a local file system`, { table: root });
  }
  throw new IngotError('PROTOCOL_UNSUPPORTED', `${root}: deletion vector storage type ${JSON.stringify(dv.storageType)} is not supported yet`, { table: root });
}

/** Magic number of the portable 64-bit RoaringBitmapArray serialization ("Deletion Vector Format"), little-endian. */
const PORTABLE_MAGIC = 1681511377;
/** Magic number of Delta's older "native" RoaringBitmapArray serialization, big-endian (PROTOCOL.md's inline example uses it). */
const NATIVE_MAGIC = 1681511376;
const SERIAL_COOKIE = 12347;
const SERIAL_COOKIE_NO_RUNCONTAINER = 12346;
/** Containers with more values than this are bitmaps (unless run-encoded). */
const ARRAY_MAX = 4096;
/** With run containers, offsets are written only from this many containers on. */
const NO_OFFSET_THRESHOLD = 4;
/** Bucket keys from here on would put row positions beyond 2^53. */
const MAX_BUCKET = 0x200000;

/**
 * Decodes a serialized DV ("Deletion Vector Format"): magic number 1681511377, then a 64-bit
 * Roaring bitmap in the portable format: a bucket count (u64), and per bucket its high 32 bits
 * (u32) followed by a 32-bit Roaring bitmap of the low bits (array, bitmap and run containers),
 * all little-endian. Also reads the native format (big-endian magic 1681511376 and bitmap count,
 * then per high-32-bit key from 0 up the size (u32 BE) and the 32-bit bitmap). Returns the
 * positions in ascending order. Throws `Error` naming what is wrong.
 */
export function decodeBitmapArray(data: Buffer): number[] {
  need(data, 0, 8);
  const out: number[] = [];
  let pos: number;
  if (data.readUInt32BE(0) === NATIVE_MAGIC) {
    const count = data.readUInt32BE(4);
    if (count > MAX_BUCKET) throw new Error(`bitmap has ${count} buckets, beyond 2^53 row positions`);
    pos = 8;
    for (let high = 0; high < count; high++) {
      need(data, pos, 4);
      const size = data.readUInt32BE(pos);
      const end = decodeRoaring32(data, pos + 4, high * 2 ** 32, out);
      if (end !== pos + 4 + size) throw new Error(`bitmap bucket ${high} has ${end - pos - 4} bytes, its header says ${size}`);
      pos = end;
    }
  } else {
    const magic = data.readUInt32LE(0);
    if (magic !== PORTABLE_MAGIC) throw new Error(`bitmap has magic number ${magic}, expected ${PORTABLE_MAGIC}`);
    need(data, 4, 8);
    const buckets = data.readBigUInt64LE(4);
    pos = 12;
    let last = -1;
    for (let b = 0n; b < buckets; b++) {
      need(data, pos, 4);
      const high = data.readUInt32LE(pos);
      if (high <= last) throw new Error(`bitmap bucket keys are not ascending (${high} after ${last})`);
      if (high >= MAX_BUCKET) throw new Error(`bitmap bucket key ${high} is beyond 2^53 row positions`);
      last = high;
      pos = decodeRoaring32(data, pos + 4, high * 2 ** 32, out);
    }
  }
  if (pos !== data.length) throw new Error(`bitmap has ${data.length - pos} trailing bytes`);
  for (let i = 1; i < out.length; i++) {
    if (out[i]! <= out[i - 1]!) throw new Error(`bitmap values are not ascending (${out[i]} after ${out[i - 1]})`);
  }
  return out;
}

/**
 * Decodes one 32-bit Roaring bitmap (RoaringFormatSpec, portable serialization) at `start`,
 * appending `base + value` for each value to `out`; returns the offset just after it.
 */
export function decodeRoaring32(data: Buffer, start: number, base: number, out: number[]): number {
  need(data, start, 4);
  const cookie = data.readUInt32LE(start);
  let pos = start + 4;
  let size: number;
  let runs: Buffer | undefined;
  if ((cookie & 0xffff) === SERIAL_COOKIE) {
    size = (cookie >>> 16) + 1;
    const bytes = Math.ceil(size / 8);
    need(data, pos, bytes);
    runs = data.subarray(pos, pos + bytes);
    pos += bytes;
  } else if (cookie === SERIAL_COOKIE_NO_RUNCONTAINER) {
    need(data, pos, 4);
    size = data.readUInt32LE(pos);
    pos += 4;
  } else {
    throw new Error(`roaring bitmap at byte ${start} has unknown cookie ${cookie}`);
  }
  need(data, pos, size * 4);
  const header = pos;
  pos += size * 4;
  if (!runs || size >= NO_OFFSET_THRESHOLD) pos += size * 4; // container offsets: not needed when reading in order
  let lastKey = -1;
  for (let i = 0; i < size; i++) {
    const key = data.readUInt16LE(header + i * 4);
    const cardinality = data.readUInt16LE(header + i * 4 + 2) + 1;
    if (key <= lastKey) throw new Error(`roaring bitmap at byte ${start} has container keys out of order`);
    lastKey = key;
    const high = base + key * 65536;
    const before = out.length;
    if (runs && (runs[i >>> 3]! >>> (i & 7)) & 1) {
      need(data, pos, 2);
      const n = data.readUInt16LE(pos);
      need(data, pos + 2, n * 4);
      for (let r = 0; r < n; r++) {
        const from = data.readUInt16LE(pos + 2 + r * 4);
        const to = from + data.readUInt16LE(pos + 4 + r * 4);
        if (to > 0xffff) throw new Error(`roaring run container at byte ${pos} overflows 16 bits`);
        for (let v = from; v <= to; v++) out.push(high + v);
      }
      pos += 2 + n * 4;
    } else if (cardinality <= ARRAY_MAX) {
      need(data, pos, cardinality * 2);
      for (let k = 0; k < cardinality; k++) out.push(high + data.readUInt16LE(pos + k * 2));
      pos += cardinality * 2;
    } else {
      need(data, pos, 8192);
      for (let w = 0; w < 2048; w++) {
        let word = data.readUInt32LE(pos + w * 4);
        while (word !== 0) {
          const bit = 31 - Math.clz32(word & -word);
          out.push(high + w * 32 + bit);
          word &= word - 1;
        }
      }
      pos += 8192;
    }
    if (out.length - before !== cardinality) throw new Error(`roaring container ${key} holds ${out.length - before} values, its header says ${cardinality}`);
  }
  return pos;
}

function need(data: Buffer, pos: number, n: number): void {
  if (pos + n > data.length) throw new Error(`bitmap ends at byte ${data.length}, ${pos + n} needed`);
}

/**
 * Reads one DV stored in a file ("Deletion Vector File Storage Format", big-endian): the file
 * starts with version byte 1; at `offset` the DV's size (u32), its `size` bytes of bitmap, then
 * the CRC-32 of those bytes (u32). Returns the bitmap bytes after checking size and checksum.
 */
export function dvFromFile(file: Buffer, offset: number, sizeInBytes: number): Buffer {
  if (file.length < 1 || file[0] !== 1) throw new Error(`deletion vector file has format version ${file[0]}, expected 1`);
  if (offset < 1 || offset + 4 + sizeInBytes + 4 > file.length) throw new Error(`deletion vector at offset ${offset} (${sizeInBytes} bytes) lies outside the file of ${file.length} bytes`);
  const size = file.readUInt32BE(offset);
  if (size !== sizeInBytes) throw new Error(`deletion vector at offset ${offset} has ${size} bytes, the log says ${sizeInBytes}`);
  const data = file.subarray(offset + 4, offset + 4 + size);
  const expected = file.readUInt32BE(offset + 4 + size);
  const actual = crc32(data);
  if (actual !== expected) throw new Error(`deletion vector at offset ${offset} fails its checksum (CRC-32 ${actual}, stored ${expected})`);
  return data;
}

/**
 * The deleted row positions (0-based, ascending) of each of `dvs` (undefined for entries
 * without a DV), reading each DV file once through `store`. Checks every DV's cardinality.
 * Errors: LOG_CORRUPT naming the DV file and what is wrong with it (missing, bad checksum, bad
 * bitmap); PROTOCOL_UNSUPPORTED for storage ingot cannot reach (see `deletionVectorKey`).
 */
export async function readDeletionVectors(store: ObjectStore, dvs: (DeletionVectorDescriptor | null | undefined)[]): Promise<(number[] | undefined)[]> {
  const files = new Map<string, Promise<Buffer>>();
  return Promise.all(dvs.map(async (dv) => {
    if (!dv?.storageType) return undefined;
    let where = `inline deletion vector ${JSON.stringify(dv.pathOrInlineDv.slice(0, 40))}`;
    let key: string | undefined;
    try {
      let data: Buffer;
      if (dv.storageType === 'i') {
        data = z85Decode(dv.pathOrInlineDv, dv.sizeInBytes);
      } else {
        key = deletionVectorKey(dv, store.root);
        where = `deletion vector file ${store.locate(key)}`;
        let file = files.get(key);
        if (!file) files.set(key, (file = store.get(key)));
        data = dvFromFile(await file, dv.offset ?? 0, dv.sizeInBytes);
      }
      const rows = decodeBitmapArray(data);
      if (rows.length !== dv.cardinality) throw new Error(`it deletes ${rows.length} rows, the log says ${dv.cardinality}`);
      return rows;
    } catch (err) {
      if (err instanceof IngotError) throw err;
      const message = err instanceof NotFoundError ? 'the file does not exist' : (err as Error).message;
      throw new IngotError('LOG_CORRUPT', `${where}: ${message}`, { table: store.root, ...(key ? { file: store.locate(key) } : {}) }, { cause: err });
    }
  }));
}

/**
 * Serializes deleted row positions (0-based, ascending, distinct, below 2^53) as a DV ("Deletion
 * Vector Format"): magic number 1681511377 (u32 LE), then the 64-bit RoaringBitmapArray in the
 * portable format: the bucket count (u64 LE) and per bucket its high 32 bits (u32 LE) followed by a
 * 32-bit Roaring bitmap of the low bits (RoaringFormatSpec without run containers: cookie 12346,
 * container count, per container key and cardinality-1 (u16 LE each), container offsets (u32 LE,
 * from the start of that 32-bit bitmap), then array containers (u16 LE values) for up to 4096
 * values, bitmap containers (1024 u64 LE words) above). The inverse of `decodeBitmapArray`.
 * Throws `Error` on positions that are not ascending integers.
 */
export function encodeBitmapArray(rows: readonly number[]): Buffer {
  const buckets: { high: number; low: number[] }[] = [];
  let previous = -1;
  for (const row of rows) {
    if (!Number.isSafeInteger(row) || row <= previous) throw new Error(`deleted row positions must be ascending integers (${row} after ${previous})`);
    previous = row;
    const high = Math.floor(row / 2 ** 32);
    let bucket = buckets[buckets.length - 1];
    if (!bucket || bucket.high !== high) buckets.push((bucket = { high, low: [] }));
    bucket.low.push(row - high * 2 ** 32);
  }
  const head = Buffer.alloc(12);
  head.writeUInt32LE(PORTABLE_MAGIC, 0);
  head.writeBigUInt64LE(BigInt(buckets.length), 4);
  const parts: Buffer[] = [head];
  for (const b of buckets) {
    const key = Buffer.alloc(4);
    key.writeUInt32LE(b.high, 0);
    parts.push(key, encodeRoaring32(b.low));
  }
  return Buffer.concat(parts);
}

/** One 32-bit Roaring bitmap (portable serialization, no run containers) of `low` (ascending, < 2^32). */
function encodeRoaring32(low: number[]): Buffer {
  const containers: { key: number; values: number[] }[] = [];
  for (const v of low) {
    const key = v >>> 16;
    let c = containers[containers.length - 1];
    if (!c || c.key !== key) containers.push((c = { key, values: [] }));
    c.values.push(v & 0xffff);
  }
  const n = containers.length;
  const headerSize = 8 + n * 4 + n * 4;
  const sizes = containers.map((c) => (c.values.length <= ARRAY_MAX ? c.values.length * 2 : 8192));
  const out = Buffer.alloc(headerSize + sizes.reduce((a, b) => a + b, 0));
  out.writeUInt32LE(SERIAL_COOKIE_NO_RUNCONTAINER, 0);
  out.writeUInt32LE(n, 4);
  let pos = headerSize;
  containers.forEach((c, i) => {
    out.writeUInt16LE(c.key, 8 + i * 4);
    out.writeUInt16LE(c.values.length - 1, 10 + i * 4);
    out.writeUInt32LE(pos, 8 + n * 4 + i * 4);
    if (c.values.length <= ARRAY_MAX) {
      for (let k = 0; k < c.values.length; k++) out.writeUInt16LE(c.values[k]!, pos + k * 2);
    } else {
      for (const v of c.values) out[pos + (v >>> 3)] = out[pos + (v >>> 3)]! | (1 << (v & 7));
    }
    pos += sizes[i]!;
  });
  return out;
}

/**
 * A DV file ("Deletion Vector File Storage Format", big-endian): format version byte 1, then per
 * bitmap its size (u32), its bytes and their CRC-32 (u32). Returns the file and each bitmap's
 * offset (that of its size field, as the descriptor's `offset` gives it).
 */
export function deletionVectorFile(bitmaps: readonly Buffer[]): { file: Buffer; offsets: number[] } {
  const file = Buffer.alloc(1 + bitmaps.reduce((n, b) => n + 8 + b.length, 0));
  file[0] = 1;
  let pos = 1;
  const offsets = bitmaps.map((b) => {
    const at = pos;
    file.writeUInt32BE(b.length, pos);
    b.copy(file, pos + 4);
    file.writeUInt32BE(crc32(b), pos + 4 + b.length);
    pos += 8 + b.length;
    return at;
  });
  return { file, offsets };
}

/**
 * Writes the DVs of `rows` (each: deleted row positions of one data file, ascending) into ONE new
 * DV file `deletion_vector_<uuid>.bin` through `store`, and returns the file's key and each DV's
 * descriptor (`offset` and `sizeInBytes` of its bitmap, `cardinality`), in the order given
 * ("Deletion Vector Descriptor Schema"). The file goes to the table root (storage type `u`, no
 * random prefix), or, with `elsewhere` (a table writing its data files outside its root, as an
 * environment's table does: `DeltaTable.dataPrefix`), to that key prefix, named by the absolute
 * path `elsewhere.absolute` gives for its key (storage type `p`). The file is invisible to
 * readers until a commit's `add` names it. Errors: those of `ObjectStore.put`.
 */
export async function writeDeletionVectors(store: ObjectStore, rows: readonly (readonly number[])[], elsewhere?: { prefix: string; absolute: (key: string) => string }): Promise<{ key: string; descriptors: DeletionVectorDescriptor[] }> {
  const bitmaps = rows.map((r) => encodeBitmapArray(r));
  const { file, offsets } = deletionVectorFile(bitmaps);
  const uuid = randomUUID();
  const name = `deletion_vector_${uuid}.bin`;
  const key = elsewhere ? `${elsewhere.prefix}/${name}` : name;
  await store.put(key, file);
  const [storageType, pathOrInlineDv] = elsewhere ? ['p', elsewhere.absolute(key)] : ['u', z85Encode(Buffer.from(uuid.replace(/-/g, ''), 'hex'))];
  return { key, descriptors: bitmaps.map((b, i) => ({ storageType, pathOrInlineDv, offset: offsets[i]!, sizeInBytes: b.length, cardinality: rows[i]!.length })) };
}

/**
 * The ascending union of two ascending lists of row positions (a file's old DV and the rows a
 * new operation deletes; duplicates kept once).
 */
export function unionRows(a: readonly number[], b: readonly number[]): number[] {
  const out: number[] = [];
  let i = 0;
  let j = 0;
  while (i < a.length || j < b.length) {
    const x = i < a.length ? a[i]! : Infinity;
    const y = j < b.length ? b[j]! : Infinity;
    if (x <= y) {
      out.push(x);
      i++;
      if (x === y) j++;
    } else {
      out.push(y);
      j++;
    }
  }
  return out;
}
