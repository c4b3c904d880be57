import { IngotError } from '../errors.js';
import type { DomainWrite } from '../table/write.js';

/**
 * The committed file list of a files source: which files a table has loaded (or rejected), kept
 * in the table's own metadata domains ("Domain Metadata" of the Delta protocol) so that it
 * commits atomically with the rows, and a crash or a retry loads each file exactly once.
 *
 * A stream lands files without end, and a domain is replaced whole at each commit that changes
 * it: one domain listing every file would make each commit (and each log replay) grow with the
 * number of files ever loaded. So the list is split:
 * - `ingot.files` (`FILES_DOMAIN`) holds the files loaded recently, at most `SEAL_AT` of them,
 *   and the ids of the sealed parts, oldest first;
 * - each sealed part, domain `ingot.files.<id>`, holds older entries and is written once, when
 *   sealed; two parts are merged into one (the two removed, a new id added) when the newer is at
 *   least half the size of the one before, so parts grow geometrically: O(log n) of them, each
 *   entry rewritten O(log n) times over the table's life.
 * A commit thus carries at most `SEAL_AT` recent entries, except the rare one that seals or merges.
 * Later entries win (a file landed again with a new size or modification time is a new entry).
 * Tables written before the split have only `ingot.files` with every entry: it seals as any other.
 */

/** The metadata domain of the recent part of the list (and of the whole list, in tables written before the split). */
export const FILES_DOMAIN = 'ingot.files';

/** Entries the recent part holds at most; beyond, a commit seals them into a part of their own. */
export const SEAL_AT = 500;

/** One loaded (or rejected) file: size in bytes, and the modification time (ms since epoch, local files) or the ETag (S3). */
export interface TrackedFile {
  size: number;
  modified?: number;
  etag?: string;
  /** The error that made the file rejected (`BatchPolicy.onBadFile` `reject`); it is not read again until it changes or is retried. */
  rejected?: string;
}

/**
 * The configuration of a part of the list: files by name (the path relative to the project
 * folder as written in the source's `path`, or the `s3://bucket/key` URL). In `ingot.files`,
 * `sealed` lists the ids of the sealed parts (`ingot.files.<id>`), oldest first.
 */
export interface TrackedFiles {
  files: Record<string, TrackedFile>;
  sealed?: number[];
}

/** The whole list as a table's domains hold it. */
export interface FileList {
  /** Every entry, the sealed parts' overlaid by the recent part's. Never mutated. */
  files: Readonly<Record<string, TrackedFile>>;
  /** The recent part (`ingot.files`) as committed. */
  recent: TrackedFiles;
  /** The sealed parts, oldest first: id and entries. */
  parts: { id: number; files: Readonly<Record<string, TrackedFile>> }[];
}

/** Parsed configurations by text: a sealed part never changes, and the recent part is read by every interval of a plan. */
const parsed = new Map<string, TrackedFiles>();
const PARSED_MAX = 64;

function parse(configuration: string, domain: string, dataset: string): TrackedFiles {
  const hit = parsed.get(configuration);
  if (hit) return hit;
  let value: TrackedFiles | undefined;
  try {
    value = JSON.parse(configuration) as TrackedFiles;
  } catch {
    // reported below
  }
  if (!value || typeof value.files !== 'object' || value.files === null || (value.sealed !== undefined && !(Array.isArray(value.sealed) && value.sealed.every(Number.isSafeInteger)))) {
    throw new IngotError('LOG_CORRUPT', `${dataset}: metadata domain ${domain} of its table is not a file list: ${configuration.slice(0, 200)}`, { dataset });
  }
  if (parsed.size >= PARSED_MAX) parsed.delete(parsed.keys().next().value!);
  parsed.set(configuration, value);
  return value;
}

/** The list read last, with the texts of its parts (the same snapshot is asked for by every interval of a plan). */
let lastList: { texts: string[]; list: FileList } | undefined;

/**
 * The committed file list of a table from its live metadata domains (`domain` → configuration;
 * none: nothing loaded yet). Errors: LOG_CORRUPT naming the domain when a part is not a file
 * list or a sealed part it names is missing.
 */
export function readFileList(domains: ReadonlyMap<string, string> | undefined, dataset: string): FileList {
  const text = domains?.get(FILES_DOMAIN);
  if (text === undefined || !domains) return { files: {}, recent: { files: {} }, parts: [] };
  const recent = parse(text, FILES_DOMAIN, dataset);
  const texts = [text, ...(recent.sealed ?? []).map((id) => domains.get(`${FILES_DOMAIN}.${id}`) ?? '')];
  if (lastList && lastList.texts.length === texts.length && lastList.texts.every((t, i) => t === texts[i])) return lastList.list;
  const parts: FileList['parts'] = [];
  let files: Record<string, TrackedFile> = recent.files;
  if (recent.sealed?.length) {
    files = {};
    for (const id of recent.sealed) {
      const domain = `${FILES_DOMAIN}.${id}`;
      const part = domains.get(domain);
      if (part === undefined) throw new IngotError('LOG_CORRUPT', `${dataset}: metadata domain ${FILES_DOMAIN} of its table names part ${domain}, which the table does not have`, { dataset });
      const entries = parse(part, domain, dataset).files;
      Object.assign(files, entries);
      parts.push({ id, files: entries });
    }
    Object.assign(files, recent.files);
  }
  const list = { files, recent, parts };
  lastList = { texts, list };
  return list;
}

/**
 * The domains to commit with a batch that loaded (or rejected) `loaded` on top of `list`: the
 * recent part with them, or, when it would pass `SEAL_AT` entries, the recent entries sealed into
 * a new part (and parts merged, see the module comment). The recent part's write rebases onto a
 * concurrent commit that changed only other entries of it (`rebaseTracked`); a commit that seals
 * or merges conflicts with any concurrent change of the list (the run is planned again).
 */
export function fileListWrites(list: FileList, loaded: Record<string, TrackedFile>): DomainWrite[] {
  const files = { ...list.recent.files, ...loaded };
  const sealed = list.parts.map((p) => p.id);
  if (Object.keys(files).length <= SEAL_AT) {
    const write: DomainWrite = { domain: FILES_DOMAIN, configuration: JSON.stringify(withSealed({ files }, sealed)), removed: false };
    write.rebase = (theirs) => rebaseTracked(list.recent, loaded, JSON.parse(theirs) as TrackedFiles);
    return [write];
  }
  // seal the recent entries into a new part; then merge the newest parts while the newer is at least half the older
  let next = Math.max(0, ...sealed) + 1;
  const parts: { id: number; size: number; files: Readonly<Record<string, TrackedFile>>; written: boolean }[] = [
    ...list.parts.map((p) => ({ ...p, size: Object.keys(p.files).length, written: true })),
    { id: next++, size: Object.keys(files).length, files, written: false },
  ];
  const removed: number[] = [];
  while (parts.length >= 2 && parts.at(-1)!.size * 2 >= parts.at(-2)!.size) {
    const newer = parts.pop()!;
    const older = parts.pop()!;
    for (const p of [older, newer]) if (p.written) removed.push(p.id);
    const merged = { ...older.files, ...newer.files };
    parts.push({ id: next++, size: Object.keys(merged).length, files: merged, written: false });
  }
  const writes: DomainWrite[] = parts.filter((p) => !p.written).map((p) => ({ domain: `${FILES_DOMAIN}.${p.id}`, configuration: JSON.stringify({ files: p.files }), removed: false }));
  for (const id of removed) writes.push({ domain: `${FILES_DOMAIN}.${id}`, configuration: '', removed: true });
  writes.push({ domain: FILES_DOMAIN, configuration: JSON.stringify(withSealed({ files: {} }, parts.map((p) => p.id))), removed: false });
  return writes;
}

/**
 * The domains to commit to take `name` out of the list (`ingot files retry`): the part holding
 * its latest entry rewritten without it, and any older entry of it too (so that it does not
 * show again). Undefined when the list has no such file.
 */
export function fileListWithout(list: FileList, name: string): DomainWrite[] | undefined {
  if (!(name in list.files)) return undefined;
  const writes: DomainWrite[] = [];
  for (const p of list.parts) {
    if (!(name in p.files)) continue;
    const rest = without(p.files, name);
    writes.push({ domain: `${FILES_DOMAIN}.${p.id}`, configuration: JSON.stringify({ files: rest }), removed: false });
  }
  if (name in list.recent.files) {
    const rest = without(list.recent.files, name);
    writes.push({ domain: FILES_DOMAIN, configuration: JSON.stringify(withSealed({ files: rest }, list.parts.map((p) => p.id))), removed: false });
  }
  return writes;
}

/**
 * The recent part `base` with `loaded` written on top of the configuration a concurrent commit
 * left (`theirs`), or undefined when the two overlap: the concurrent commit sealed or merged
 * parts, or changed the entry of a file this batch also loaded (each would load it).
 */
export function rebaseTracked(base: TrackedFiles, loaded: TrackedFiles['files'], theirs: TrackedFiles): string | undefined {
  if (JSON.stringify(theirs.sealed ?? []) !== JSON.stringify(base.sealed ?? [])) return undefined;
  for (const name of Object.keys(loaded)) {
    if (JSON.stringify(theirs.files[name]) !== JSON.stringify(base.files[name])) return undefined;
  }
  return JSON.stringify(withSealed({ files: { ...theirs.files, ...loaded } }, theirs.sealed ?? []));
}

function withSealed(part: TrackedFiles, sealed: number[]): TrackedFiles {
  return sealed.length > 0 ? { ...part, sealed } : part;
}

function without(files: Readonly<Record<string, TrackedFile>>, name: string): Record<string, TrackedFile> {
  return Object.fromEntries(Object.entries(files).filter(([n]) => n !== name));
}
