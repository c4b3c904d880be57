import { IngotError } from '../errors.js';
import type { ObjectStore } from '../storage/store.js';
import type { Action } from './actions.js';


/**
 * Reading checkpoints (PROTOCOL.md, "Checkpoints"): classic (`%020d.checkpoint.parquet`),
 * multi-part (`%020d.checkpoint.%010d.%010d.parquet`) and V2 (`%020d.checkpoint.<uuid>.json|parquet`
 * with sidecar files in `_delta_log/_sidecars/`), found by listing the log, so a missing or corrupt
 * `_last_checkpoint` cannot mislead a reader.
 */

/**
 * Reads the rows of a Parquet file as JSON-shaped objects (structs and maps as objects, lists as
 * arrays, absent columns omitted). The table layer stays engine-free: an engine supplies this.
 */
export interface ParquetReader {
  readRows(file: string): Promise<Record<string, unknown>[]>;
}

/** One complete checkpoint in the log. */
export interface CheckpointRef {
  version: number;
  /** Keys of its files relative to the store root (several for multi-part). */
  files: string[];
  kind: 'classic' | 'multi-part' | 'v2';
}

/** The log folder (as in log.ts; repeated here to keep the import graph acyclic). */
const LOG_DIR = '_delta_log';

const CLASSIC = /^(\d{20})\.checkpoint\.parquet$/;
const MULTI = /^(\d{20})\.checkpoint\.(\d{10})\.(\d{10})\.parquet$/;
const V2 = /^(\d{20})\.checkpoint\.[0-9a-fA-F-]{36}\.(json|parquet)$/;

/** Complete checkpoints among the names of `_delta_log`, newest first (incomplete multi-part sets skipped). */
export function findCheckpoints(names: string[]): CheckpointRef[] {
  const byVersion = new Map<number, CheckpointRef[]>();
  const multi = new Map<string, { version: number; total: number; parts: Map<number, string> }>();
  const push = (ref: CheckpointRef): void => {
    byVersion.set(ref.version, [...(byVersion.get(ref.version) ?? []), ref]);
  };
  for (const name of names) {
    let m = CLASSIC.exec(name);
    if (m) { push({ version: Number(m[1]), files: [`${LOG_DIR}/${name}`], kind: 'classic' }); continue; }
    m = V2.exec(name);
    if (m) { push({ version: Number(m[1]), files: [`${LOG_DIR}/${name}`], kind: 'v2' }); continue; }
    m = MULTI.exec(name);
    if (m) {
      const key = `${m[1]}/${m[3]}`;
      const set = multi.get(key) ?? { version: Number(m[1]), total: Number(m[3]), parts: new Map() };
      set.parts.set(Number(m[2]), `${LOG_DIR}/${name}`);
      multi.set(key, set);
    }
  }
  for (const set of multi.values()) {
    if (set.parts.size === set.total) push({ version: set.version, files: [...set.parts.entries()].sort((a, b) => a[0] - b[0]).map(([, f]) => f), kind: 'multi-part' });
  }
  return [...byVersion.entries()].sort((a, b) => b[0] - a[0]).map(([, refs]) => refs.find((r) => r.kind === 'v2') ?? refs[0]!);
}

const ACTION_KEYS = ['protocol', 'metaData', 'add', 'remove', 'txn', 'domainMetadata', 'checkpointMetadata', 'sidecar'] as const;

/** The actions a checkpoint holds (sidecars of a V2 checkpoint included). Errors: LOG_CORRUPT naming the file. */
export async function readCheckpoint(store: ObjectStore, ref: CheckpointRef, reader: ParquetReader): Promise<Action[]> {
  const actions: Action[] = [];
  const load = async (key: string): Promise<void> => {
    let rows: Record<string, unknown>[];
    try {
      rows = key.endsWith('.json')
        ? (await store.get(key)).toString('utf8').split('\n').filter((l) => l.trim()).map((l) => JSON.parse(l) as Record<string, unknown>)
        : await reader.readRows(store.locate(key));
    } catch (err) {
      throw new IngotError('LOG_CORRUPT', `${store.locate(key)}: cannot read checkpoint: ${(err as Error).message}`, { file: store.locate(key), version: ref.version }, { cause: err });
    }
    for (const row of rows) {
      for (const k of ACTION_KEYS) {
        const v = row[k];
        if (v !== null && v !== undefined) actions.push({ [k]: v } as Action);
      }
    }
  };
  for (const f of ref.files) await load(f);
  if (ref.kind === 'v2') {
    const sidecars = actions.flatMap((a) => ('sidecar' in a ? [(a.sidecar as { path: string }).path] : []));
    for (const s of sidecars) await load(s.includes('/') ? s : `${LOG_DIR}/_sidecars/${s}`);
  }
  return actions;
}
