import * as path from 'node:path';
import { ROW_FILE, type Engine } from '../engine/engine.js';
import type { Add } from '../table/actions.js';
import { fieldOf, type DataType, type StructType } from '../table/schema.js';
import type { Snapshot } from '../table/snapshot.js';
import type { DeltaTable } from '../table/table.js';
import { decodePath } from '../table/write.js';
import { keyTerms } from './merge-keys.js';
import { scanOf } from './scan.js';

/**
 * The MERGE key index: for a table and the key columns of a merge's `on` clause, which data
 * files may hold each key. A merge into a large table whose keys are not ordered (random VARCHAR
 * ids), where min/max stats prune nothing, otherwise joins its few source rows with every key of
 * the table; with the index it reads only the files whose keys' fingerprints match a source key's.
 *
 * The index is a superset: it holds a 32-bit fingerprint (`Dialect.keyFingerprint`) of the key
 * tuple of every physical row of each file, deletion vectors ignored, so a file it names may hold
 * no live matching row (the merge's join, with deletion vectors applied, decides), but a file it
 * does not name holds none. It is kept per process, in memory only: per engine object (the
 * scheduler keeps one engine per project across runs), per table location and key columns, and
 * brought up to date with the snapshot at each use (files gone dropped, files new read: only those).
 */

/**
 * The most memory all key indexes of the process may take by default (bytes, estimated from
 * their typed arrays and file lists): beyond it, the least recently used table's index is dropped
 * (and built again from its second merge on after that). A table whose index alone would exceed
 * it gets none for the rest of the process. 64 MiB hold about 3 to 6 million keys.
 */
export const KEY_INDEX_MAX_BYTES = 64 * 1024 * 1024;

/** A table with fewer live files than this is merged without the index (reading every file is cheap). */
export const KEY_INDEX_MIN_FILES = 8;

/** The limits in force, read at each merge: `KEY_INDEX_MAX_BYTES` and `KEY_INDEX_MIN_FILES` unless changed (tests lower them). */
export const keyIndexLimits = { maxBytes: KEY_INDEX_MAX_BYTES, minFiles: KEY_INDEX_MIN_FILES };

/** Environment variable turning the index off when `0` (for comparisons; read at each merge). */
export const KEY_INDEX_ENV = 'INGOT_MERGE_KEY_INDEX';

/** Files read per query when indexing (bounds the fingerprints held in JavaScript at once). */
const FILES_PER_READ = 64;
/** The relation the files being indexed are read through. */
const INDEX_RELATION = '__ingot_op.key_index';

/**
 * An open-addressing hash table (linear probing) of (fingerprint, file) entries, duplicate
 * fingerprints allowed: two `Uint32Array`s of a power-of-two capacity kept at most 3/4 full,
 * so 8 bytes per slot and between about 10.7 and 21.3 bytes per entry (one entry per
 * fingerprint added for a file; a key in several files has one in each). Files are numbered from 1 (0 marks an
 * empty slot); a removed file's entries stay, skipped by lookups, until they outnumber the
 * live ones, when the table is rebuilt without them (and the files renumbered).
 */
export class FingerprintTable {
  private fps = new Uint32Array(0);
  private ids = new Uint32Array(0);
  private shift = 32;
  /** Slots holding an entry, live or dead. */
  private used = 0;
  /** Entries of removed files. */
  private dead = 0;
  /** Per file number: its entries; and whether it is live (1). */
  private entriesOf = new Uint32Array(16);
  private live = new Uint8Array(16);
  private nextId = 1;
  private readonly idOf = new Map<string, number>();
  private pathOf: (string | undefined)[] = [undefined];
  /** Characters of the files' paths (for the memory estimate). */
  private pathChars = 0;

  /** Live entries. */
  get entries(): number {
    return this.used - this.dead;
  }

  /** Live files. */
  get files(): number {
    return this.idOf.size;
  }

  /** Bytes of the typed arrays (slots and per-file counts). */
  get typedArrayBytes(): number {
    return this.fps.byteLength + this.ids.byteLength + this.entriesOf.byteLength + this.live.byteLength;
  }

  /** Estimated bytes in all: the typed arrays and the file paths with their map entries. */
  get bytes(): number {
    return this.typedArrayBytes + this.pathChars * 2 + this.idOf.size * 80;
  }

  has(file: string): boolean {
    return this.idOf.has(file);
  }

  /** The live files' paths. */
  paths(): IterableIterator<string> {
    return this.idOf.keys();
  }

  /** Adds file `file` with the fingerprints of its rows (numbers in [0, 2^32)). Error: when the file is already in. */
  add(file: string, fingerprints: ArrayLike<number>): void {
    if (this.idOf.has(file)) throw new Error(`key index: ${file} is indexed already`);
    const n = fingerprints.length;
    if ((this.used + n) * 4 > this.fps.length * 3) this.rebuild(this.entries + n);
    const id = this.nextId++;
    if (id >= this.live.length) this.growFiles(id + 1);
    this.idOf.set(file, id);
    this.pathOf[id] = file;
    this.pathChars += file.length;
    this.live[id] = 1;
    this.entriesOf[id] = n;
    for (let i = 0; i < n; i++) this.insert(fingerprints[i]! >>> 0, id);
    this.used += n;
  }

  /** Removes file `file` (absent: nothing). Its entries are dropped at the next rebuild. */
  remove(file: string): void {
    const id = this.idOf.get(file);
    if (id === undefined) return;
    this.idOf.delete(file);
    this.pathOf[id] = undefined;
    this.pathChars -= file.length;
    this.live[id] = 0;
    this.dead += this.entriesOf[id]!;
    if (this.dead * 2 > this.used) this.rebuild(this.entries);
  }

  /** The live files holding an entry with one of `fingerprints`. */
  lookup(fingerprints: Iterable<number>): Set<string> {
    const found = new Set<string>();
    if (this.used === 0) return found;
    const mask = this.fps.length - 1;
    for (const raw of fingerprints) {
      const fp = raw >>> 0;
      for (let i = this.home(fp); this.ids[i] !== 0; i = (i + 1) & mask) {
        const id = this.ids[i]!;
        if (this.fps[i] === fp && this.live[id] === 1) found.add(this.pathOf[id]!);
      }
    }
    return found;
  }

  private home(fp: number): number {
    // Fibonacci hashing: the high bits of fp times 2^32/phi
    return Math.imul(fp, 0x9e3779b1) >>> this.shift;
  }

  private insert(fp: number, id: number): void {
    const mask = this.fps.length - 1;
    let i = this.home(fp);
    while (this.ids[i] !== 0) i = (i + 1) & mask;
    this.fps[i] = fp;
    this.ids[i] = id;
  }

  /** New slot arrays for `room` entries, holding the live entries only, files renumbered 1.. in order. */
  private rebuild(room: number): void {
    let capacity = 1024;
    while (room * 4 > capacity * 3) capacity *= 2;
    const [fps, ids, entriesOf] = [this.fps, this.ids, this.entriesOf];
    const renumber = new Uint32Array(this.nextId);
    const pathOf: (string | undefined)[] = [undefined];
    for (let id = 1; id < this.nextId; id++) {
      const file = this.pathOf[id];
      if (file === undefined) continue;
      renumber[id] = pathOf.length;
      this.idOf.set(file, pathOf.length);
      pathOf.push(file);
    }
    this.pathOf = pathOf;
    this.nextId = pathOf.length;
    this.entriesOf = new Uint32Array(Math.max(16, this.nextId * 2));
    this.live = new Uint8Array(this.entriesOf.length);
    for (let id = 1; id < renumber.length; id++) {
      if (renumber[id] === 0) continue;
      this.entriesOf[renumber[id]!] = entriesOf[id]!;
      this.live[renumber[id]!] = 1;
    }
    this.fps = new Uint32Array(capacity);
    this.ids = new Uint32Array(capacity);
    this.shift = 32 - Math.log2(capacity);
    this.used = 0;
    this.dead = 0;
    for (let i = 0; i < ids.length; i++) {
      const id = renumber[ids[i]!];
      if (ids[i] === 0 || !id) continue;
      this.insert(fps[i]!, id);
      this.used++;
    }
  }

  private growFiles(size: number): void {
    const length = Math.max(size, this.live.length * 2);
    const entriesOf = new Uint32Array(length);
    entriesOf.set(this.entriesOf);
    const live = new Uint8Array(length);
    live.set(this.live);
    [this.entriesOf, this.live] = [entriesOf, live];
  }
}

/** A merge's key column on both sides, with the target column's type the source's value is cast to. */
interface IndexKey {
  target: string;
  source: string;
  type: DataType;
}

/** What is kept per table and key columns (see `KeyIndexSummary`). */
class TableKeyIndex {
  /** Merges that could have used the index since it was made (or dropped). */
  merges = 0;
  /** The table's index alone would exceed `keyIndexLimits.maxBytes`: none is built in this process. */
  tooLarge = false;
  table?: FingerprintTable;
  /** Uses of this index, one after the other. */
  busy: Promise<void> = Promise.resolve();
  /** This index's place in `recent`. */
  readonly ref: WeakRef<TableKeyIndex> = new WeakRef(this);

  constructor(readonly location: string, public keys: IndexKey[]) {}
}

const byEngine = new WeakMap<Engine, Map<string, TableKeyIndex>>();
/** Indexes holding a table, least recently used first, for the memory cap. */
const recent = new Set<WeakRef<TableKeyIndex>>();

/** What `keyIndexCandidates` is given besides the table. */
export interface KeyIndexRequest {
  /** The staged relation of the source rows (queried as `FROM <source>`), its schema and row count. */
  source: string;
  sourceSchema: StructType;
  sourceRows: number;
  /** The merge's condition (`keyTerms` reads its key columns, as `target.<col> = source.<col>`). */
  on: string;
  /** The files of `snapshot` that min/max stats left as candidates. */
  candidates: Add[];
}

/**
 * The target files of `snapshot` that may hold a row matching a source row, by the key index of
 * `table` kept for `engine` — a subset of `request.candidates` — or undefined when the index is
 * not used for this merge, which then reads `request.candidates`. The index is used when:
 * `INGOT_MERGE_KEY_INDEX` is not `0`; `on` is a conjunction of `target.<col> = source.<col>`
 * equalities over key types whose equality is that of their representation (string, the integer
 * types, decimal, date, timestamp, timestamp_ntz, boolean, binary; not float/double, where
 * -0.0 = 0.0) and each source column's type converts to the target column's exactly (the same
 * type, a narrower integer, a decimal of no more digits either side of the point); the table
 * has at least `keyIndexLimits.minFiles` live files and the min/max candidates are more than half of
 * them; the source has at most a quarter as many rows as the table; and this is at least the
 * second such merge of this engine into the table with these keys (a one-shot run pays no index
 * build: its first merge reads the table as usual). Then the index is synchronised with
 * `snapshot` (files it no longer has dropped, files not yet indexed read, keys only), and the
 * candidates are the files where a fingerprint of a source key (cast to the target's type, NULLs
 * left out) is found. Errors: SQL_ERROR, DATA_FILE_MISSING from reading new files.
 */
export async function keyIndexCandidates(engine: Engine, table: DeltaTable, snapshot: Snapshot, request: KeyIndexRequest): Promise<Add[] | undefined> {
  if (process.env[KEY_INDEX_ENV] === '0') return undefined;
  const fileCount = snapshot.files.size;
  if (fileCount < keyIndexLimits.minFiles || request.candidates.length * 2 <= fileCount) return undefined;
  const keys = indexKeys(snapshot.schema, request.sourceSchema, request.on);
  if (!keys) return undefined;
  const tableRows = snapshot.numRecords;
  if (tableRows !== undefined && request.sourceRows * 4 > tableRows) return undefined;
  const state = stateOf(engine, table.location, keys);
  state.merges++;
  if (state.tooLarge || state.merges < 2) return undefined;
  const run = state.busy.then(async () => {
    if (tableRows !== undefined && estimatedBytes(tableRows) > keyIndexLimits.maxBytes) {
      state.tooLarge = true;
      return undefined;
    }
    const index = (state.table ??= new FingerprintTable());
    recent.delete(state.ref);
    recent.add(state.ref);
    await synchronise(engine, table, snapshot, index, keys);
    enforceCap(state);
    if (state.tooLarge) return undefined;
    const dialect = engine.dialect;
    const fingerprint = dialect.keyFingerprint(keys.map((k) => `CAST(${dialect.quoteIdent(k.source)} AS ${dialect.typeName(k.type)})`));
    const notNull = keys.map((k) => `${dialect.quoteIdent(k.source)} IS NOT NULL`).join(' AND ');
    const rows = await engine.query(`SELECT DISTINCT ${fingerprint} AS h FROM ${request.source} WHERE ${notNull}`);
    const found = index.lookup(rows.map((r) => Number(r['h'])));
    return request.candidates.filter((a) => found.has(a.path));
  });
  state.busy = run.then(() => undefined, () => undefined);
  return run;
}

/** A table's key index as kept for an engine (for tests and diagnostics). */
export interface KeyIndexSummary {
  location: string;
  /** The target key columns. */
  keys: string[];
  /** Merges counted toward building it (see `keyIndexCandidates`). */
  merges: number;
  /** Files and entries (one per physical row with no NULL key part) indexed; 0 before it is built. */
  files: number;
  entries: number;
  /** Bytes of its typed arrays, and estimated in all (see `FingerprintTable.bytes`). */
  typedArrayBytes: number;
  bytes: number;
}

/** The key indexes kept for `engine`, one per table and key columns. */
export function keyIndexSummary(engine: Engine): KeyIndexSummary[] {
  return [...(byEngine.get(engine)?.values() ?? [])].map((s) => ({
    location: s.location,
    keys: s.keys.map((k) => k.target),
    merges: s.merges,
    files: s.table?.files ?? 0,
    entries: s.table?.entries ?? 0,
    typedArrayBytes: s.table?.typedArrayBytes ?? 0,
    bytes: s.table?.bytes ?? 0,
  }));
}

const INTEGERS = ['byte', 'short', 'integer', 'long'];
const EXACT = new Set(['string', 'date', 'timestamp', 'timestamp_ntz', 'boolean', 'binary']);

/**
 * The key columns of `on` (see `keyTerms`) when the index can serve them (see
 * `keyIndexCandidates`): every term resolved on both sides, with types as said there.
 */
function indexKeys(target: StructType, source: StructType, on: string): IndexKey[] | undefined {
  const terms = keyTerms(on, target, source);
  if (!terms || terms.length === 0) return undefined;
  const keys: IndexKey[] = [];
  for (const term of terms) {
    if (term.target === undefined || term.source === undefined) return undefined;
    const type = fieldOf(target, term.target)!.type;
    if (!convertsExactly(fieldOf(source, term.source)!.type, type)) return undefined;
    keys.push({ target: term.target, source: term.source, type });
  }
  return keys;
}

/** Whether every value of type `from` converts to type `to` unchanged, both key types of representation equality. */
function convertsExactly(from: DataType, to: DataType): boolean {
  if (typeof from !== 'string' || typeof to !== 'string') return false;
  if (INTEGERS.includes(to)) return INTEGERS.includes(from) && INTEGERS.indexOf(from) <= INTEGERS.indexOf(to);
  const [f, t] = [decimalOf(from), decimalOf(to)];
  if (t) return f !== undefined && f.scale <= t.scale && f.precision - f.scale <= t.precision - t.scale;
  return EXACT.has(to) && from === to;
}

function decimalOf(t: string): { precision: number; scale: number } | undefined {
  if (t === 'decimal') return { precision: 10, scale: 0 };
  const m = /^decimal\((\d+),\s*(\d+)\)$/.exec(t);
  return m ? { precision: Number(m[1]), scale: Number(m[2]) } : undefined;
}

function stateOf(engine: Engine, location: string, keys: IndexKey[]): TableKeyIndex {
  let tables = byEngine.get(engine);
  if (!tables) byEngine.set(engine, (tables = new Map()));
  const id = JSON.stringify([location, keys.map((k) => [k.target, k.type])]);
  let state = tables.get(id);
  if (!state) tables.set(id, (state = new TableKeyIndex(location, keys)));
  // the source's column names may differ from one merge to the next; the target's define the index
  state.keys = keys;
  return state;
}

/** The least bytes an index of `rows` entries takes (slots at most 3/4 full). */
function estimatedBytes(rows: number): number {
  return (rows * 8 * 4) / 3;
}

/**
 * Makes `index` hold exactly the live files of `snapshot`: files no longer live removed, files
 * not yet indexed read (every physical row's key fingerprint, deletion vectors ignored; NULL
 * keys left out). A path live again with another deletion vector is the same file.
 */
async function synchronise(engine: Engine, table: DeltaTable, snapshot: Snapshot, index: FingerprintTable, keys: IndexKey[]): Promise<void> {
  for (const file of [...index.paths()]) if (!snapshot.files.has(file)) index.remove(file);
  const missing = [...snapshot.files.values()].filter((a) => !index.has(a.path));
  const dialect = engine.dialect;
  const fingerprint = dialect.keyFingerprint(keys.map((k) => `CAST(${dialect.quoteIdent(k.target)} AS ${dialect.typeName(k.type)})`));
  const notNull = keys.map((k) => `${dialect.quoteIdent(k.target)} IS NOT NULL`).join(' AND ');
  for (let start = 0; start < missing.length; start += FILES_PER_READ) {
    // every physical row: the files without their deletion vectors
    const adds = missing.slice(start, start + FILES_PER_READ).map((a) => ({ ...a, deletionVector: null }));
    const scan = await scanOf(table, snapshot, [], adds);
    scan.rowIds = true;
    await engine.attachTable(INDEX_RELATION, scan);
    const rows = await engine.query(`SELECT ${ROW_FILE} AS f, list(${fingerprint}) AS h FROM ${INDEX_RELATION} WHERE ${notNull} GROUP BY 1`);
    const byAbsolute = new Map(rows.map((r) => [String(r['f']), r['h'] as unknown[]]));
    for (const add of adds) {
      const found = byAbsolute.get(path.join(scan.location, ...decodePath(add.path, table.store.root).split('/')));
      index.add(add.path, found ? found.map(Number) : []);
    }
  }
}

/**
 * Drops the least recently used indexes (not `current`'s) while all of them take more than
 * `keyIndexLimits.maxBytes`; then, if `current`'s alone does, drops it and marks its table too large.
 */
function enforceCap(current: TableKeyIndex): void {
  let total = 0;
  for (const ref of recent) {
    const state = ref.deref();
    if (!state?.table) recent.delete(ref);
    else total += state.table.bytes;
  }
  for (const ref of recent) {
    if (total <= keyIndexLimits.maxBytes) return;
    const state = ref.deref()!;
    if (state === current) continue;
    total -= drop(state);
  }
  if (total > keyIndexLimits.maxBytes) {
    drop(current);
    current.tooLarge = true;
  }
}

/** Forgets `state`'s index (its merges counted anew); returns the bytes it took. */
function drop(state: TableKeyIndex): number {
  const bytes = state.table?.bytes ?? 0;
  delete state.table;
  state.merges = 0;
  recent.delete(state.ref);
  return bytes;
}
