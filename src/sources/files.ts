import { createReadStream, promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { createGunzip } from 'node:zlib';
import { quoteIdent, type Engine, type FileScan } from '../engine/engine.js';
import { checkNoLineageColumns } from './lineage.js';
import { IngotError } from '../errors.js';
import type { FilesSource } from '../pipeline/sources/files-source.js';
import { addDays, contains } from '../pipeline/interval.js';
import { LocalStore } from '../storage/local.js';
import { S3Store } from '../storage/s3.js';
import type { ObjectMeta, ObjectStore } from '../storage/store.js';
import type { DeltaTable } from '../table/table.js';
import type { BatchPolicy, RejectedFile, SourceBatch, SourceConnector, SourceContext, SourceProbe } from './source.js';
import { readWebLogs } from './weblog.js';
import { fileListWithout, fileListWrites, readFileList, type FileList, type TrackedFile } from './file-list.js';

/**
 * The files of an appending batch within `policy`'s bounds: oldest first (modification time,
 * then name), at most `maxFiles` and `maxBytes` (always at least one file); all without bounds.
 */
function bounded(files: Found[], policy: BatchPolicy | undefined): Found[] {
  if (!policy || (policy.maxFiles === undefined && policy.maxBytes === undefined)) return files;
  const sorted = [...files].sort((a, b) => (a.modified ?? 0) - (b.modified ?? 0) || a.name.localeCompare(b.name));
  const out: Found[] = [];
  let bytes = 0;
  for (const f of sorted) {
    if (out.length > 0 && (out.length >= (policy.maxFiles ?? Infinity) || bytes + f.size > (policy.maxBytes ?? Infinity))) break;
    out.push(f);
    bytes += f.size;
  }
  return out;
}

/**
 * Whether files matching `pattern` (a files source's glob, relative to `projectDir` or
 * `s3://bucket/prefix/...`) are listed, as one string: each matched file's name, size and
 * modification time or ETag, sorted. Two equal signatures: nothing landed or changed between
 * them. For the file-arrival trigger (`ingot serve`), one listing (ListObjectsV2 on S3).
 * Errors: STORAGE_ERROR.
 */
export async function listingSignature(pattern: string, projectDir: string): Promise<string> {
  const placeholders = [...pattern.matchAll(/\{([a-z_][a-z0-9_]*)\}/g)].map((m) => m[1]!);
  const { store, base, rest } = splitPattern(pattern, projectDir);
  const listing = store instanceof LocalStore ? await store.list('', { recursive: true, links: { within: [projectDir] } }) : await store.list('', { recursive: true });
  const { files } = matchListing(listing, pattern, base, rest, patternRegex(rest), placeholders);
  return files.map((f) => `${f.name}\u0000${f.size}\u0000${f.etag ?? f.modified}`).sort().join('\n');
}

/** The local folder to watch for files matching `pattern` (its fixed leading folders), or undefined on S3. */
export function watchedFolder(pattern: string, projectDir: string): string | undefined {
  const { store } = splitPattern(pattern, projectDir);
  return store instanceof LocalStore ? store.root : undefined;
}

/**
 * The first line (1-based) of newline-delimited JSON file `local` that is not UTF-8 or not a JSON
 * value, with why; undefined when every line is (a whole-file JSON document spanning lines is
 * judged as a whole first).
 */
async function badJsonLine(local: string): Promise<{ line: number; error: string } | undefined> {
  const bytes = await fs.readFile(local);
  const decoder = new TextDecoder('utf-8', { fatal: true });
  let text: string;
  try {
    text = decoder.decode(bytes);
  } catch {
    // the line holding the first byte sequence that is not UTF-8
    let start = 0;
    for (const [i, line] of bytes.toString('latin1').split('\n').entries()) {
      try {
        decoder.decode(bytes.subarray(start, start + line.length));
      } catch {
        return { line: i + 1, error: 'not UTF-8 text' };
      }
      start += line.length + 1;
    }
    return { line: 1, error: 'not UTF-8 text' };
  }
  try {
    JSON.parse(text);
    return undefined;
  } catch {
    // not one document: line by line
  }
  for (const [i, line] of text.split('\n').entries()) {
    if (line.trim() === '') continue;
    try {
      JSON.parse(line);
    } catch (err) {
      return { line: i + 1, error: `not JSON: ${(err as Error).message}` };
    }
  }
  return undefined;
}

/** What reading a format adds to a batch (the web-log parser's quarantine check). */
type Extra = Pick<SourceBatch, 'expectations' | 'quarantineColumns'>;

/** What `FilesConnector.select` found. */
interface Selection {
  store: ObjectStore;
  placeholders: string[];
  tracked: FileList;
  read: Found[];
}

/** One matched input file. */
interface Found {
  /** Tracking name and `_source` value. */
  name: string;
  /** Key in the listing store. */
  key: string;
  size: number;
  modified?: number;
  etag?: string;
  values: Record<string, string>;
}

/**
 * Files (csv, tsv, json, ndjson, parquet, `combined`/`common` web-server logs (see `readWebLogs`), optionally `.gz`) matched by a glob with `{column}`
 * placeholders, in the project folder or on S3 (`s3://bucket/prefix/...`, credentials and endpoint
 * from the AWS environment, as for a lake on S3): `landing/flights/date={flight_date}/*.csv` reads
 * the files whose `flight_date` segment lies in the run's interval and adds `flight_date` to their
 * rows. Files and folders whose names start with `.` are skipped. Symbolic links (to files or
 * folders) are followed only when their target lies within the project folder or the source's
 * own folder; a link the glob would read that leads elsewhere is refused (INPUT_MALFORMED naming
 * the link; nothing of its target is read). Declared columns are checked
 * against each CSV header before reading, so a missing column names the file. S3 files are
 * downloaded to a temporary folder and their rows staged in the engine before `read` returns.
 *
 * Exactly once: the files loaded are recorded in metadata domains `ingot.files` (`readFileList`), which the
 * runner commits in the same Delta commit as their rows. A run that appends (`ctx.appends`) reads
 * only files that are new or changed (size, and modification time or ETag) since the committed
 * list: a changed file is read whole again. A run that replaces (a partition, or the table) reads
 * every matched file, unless none changed and none of the listed ones in its scope vanished: then
 * the batch is `unchanged` and nothing is written. A full refresh reads every file and replaces
 * the list. Errors: INPUT_MISSING when nothing matches at all (a run whose files are all loaded
 * already succeeds with 0 rows), INPUT_SCHEMA, INPUT_MALFORMED (also for a link leading outside),
 * STORAGE_ERROR.
 */
export class FilesConnector implements SourceConnector {
  constructor(private readonly source: FilesSource) {}

  /**
   * What a run would read, without reading it: the matched files (`found`), the committed list
   * (`tracked`) and the files to read (`read`, empty when the batch is unchanged). Listings are
   * shared through `ctx.listings` when given. Errors: INPUT_MISSING (see the class), STORAGE_ERROR.
   */
  private async select(ctx: SourceContext): Promise<Selection> {
    const { source } = this;
    const placeholders = [...source.path.matchAll(/\{([a-z_][a-z0-9_]*)\}/g)].map((m) => m[1]!);
    const { store, base, rest } = splitPattern(source.path, ctx.projectDir);
    const matcher = patternRegex(rest);
    // a folder named by the run's partition value: only the folders of the run's interval are listed
    const folder = intervalFolder(store, rest, ctx);
    const listingKey = folder ? `${store.root}\u0000${folder.source}\u0000${ctx.interval.start}\u0000${ctx.interval.end}` : store.root;
    let listing = ctx.listings?.get(listingKey);
    if (!listing) {
      // symbolic links are followed only within the project folder and the source's own folder
      listing = store instanceof LocalStore
        ? (folder ? listIntervalFolders(store, folder, ctx) : store.list('', { recursive: true, links: { within: [ctx.projectDir] } }))
        : store.list('', { recursive: true });
      ctx.listings?.set(listingKey, listing);
    }
    const matched = matchListing(await listing, source.path, base, rest, matcher, placeholders);
    const outside = (name: string): IngotError => new IngotError('INPUT_MALFORMED', `${ctx.dataset}: ${name} is a symbolic link to a location outside the project folder and the source's folder: links are followed only within them; copy the file (or folder) into the landing folder, or link to a place inside`, { dataset: ctx.dataset, file: name });
    // a link to a folder elsewhere that the glob would enter
    if (matched.outsideFolder !== undefined) throw outside(matched.outsideFolder);
    const found = matched.files.filter((f) => {
      const pv = ctx.partitionColumn ? f.values[ctx.partitionColumn] : undefined;
      return pv === undefined || contains(ctx.interval, pv);
    });
    const link = found.find((f) => f.outside);
    if (link) throw outside(link.name);
    if (found.length === 0) {
      const shown = ctx.partitionColumn && ctx.interval.start !== '-infinity' && ctx.interval.end !== 'infinity'
        ? `${ctx.partitionColumn} in [${ctx.interval.start}, ${ctx.interval.end})`
        : 'any';
      const where = store instanceof LocalStore ? ` under ${ctx.projectDir}` : '';
      // a one-day interval names the day's own prefix, e.g. s3://bucket/media/2024-07-31/*.json
      const day = ctx.partitionColumn && ctx.interval.start !== '-infinity' && addDays(ctx.interval.start, 1) === ctx.interval.end ? ctx.interval.start : undefined;
      const pattern = day ? source.path.replaceAll(`{${ctx.partitionColumn}}`, day) : source.path;
      throw new IngotError('INPUT_MISSING', `${ctx.dataset}: no input files: nothing${where} matches ${pattern} (${shown})`, { dataset: ctx.dataset, file: pattern });
    }

    const tracked = readFileList(ctx.committed, ctx.dataset);
    const changed = found.filter((f) => !sameFile(tracked.files[f.name], f));
    let read = found;
    if (ctx.committed && !ctx.force) {
      if (ctx.appends) read = bounded(changed, ctx.batch);
      else if (changed.length === 0) {
        // a replace: unchanged unless a file listed in this scope vanished
        const present = new Set(found.map((f) => f.name));
        const vanished = Object.keys(tracked.files).some((n) => !present.has(n) && inScope(n, base, matcher, placeholders, ctx));
        if (!vanished) read = [];
      }
    }
    return { store, placeholders, tracked, read };
  }

  /** Whether a run would read anything: the files new or changed since the committed list (see `select`). */
  async probe(ctx: SourceContext): Promise<SourceProbe> {
    let read: Found[];
    try {
      ({ read } = await this.select(ctx));
    } catch (err) {
      // the run reports it (INPUT_MISSING names the pattern and interval)
      if (err instanceof IngotError && err.code === 'INPUT_MISSING') return { changed: true, detail: 'no input files found' };
      throw err;
    }
    if (read.length === 0) return { changed: false, detail: 'no new or changed files' };
    return { changed: true, detail: `${read.length} new or changed file${read.length === 1 ? '' : 's'}` };
  }

  async read(ctx: SourceContext, engine: Engine, relation: string): Promise<SourceBatch> {
    const { store, placeholders, tracked, read } = await this.select(ctx);
    if (ctx.committed && read.length === 0) return { relation, inputs: [], unchanged: true };
    const rejecting = ctx.batch !== undefined && ctx.batch.onBadFile !== 'fail' && this.source.format !== 'combined' && this.source.format !== 'common';
    const list = (rejected: RejectedFile[]): Pick<SourceBatch, 'inputs' | 'domainMetadata' | 'rejected'> => {
      const loaded: Record<string, TrackedFile> = {};
      const bad = new Map(rejected.map((r) => [r.file, r.error]));
      for (const f of read) {
        const error = bad.get(f.name);
        loaded[f.name] = { size: f.size, ...(f.etag !== undefined ? { etag: f.etag } : { modified: f.modified! }), ...(error !== undefined ? { rejected: error } : {}) };
      }
      // a concurrent run of another interval loaded other files: this run's files go on top of its list
      const domainMetadata = fileListWrites(tracked, loaded);
      return { inputs: read.map((f) => f.name).filter((n) => !bad.has(n)), domainMetadata, ...(rejected.length > 0 ? { rejected } : {}) };
    };

    if (store instanceof LocalStore) {
      const local = read.map((f) => ({ path: store.locate(f.key), shown: store.locate(f.key), name: f.name, values: f.values }));
      if (rejecting) {
        const { extra, rejected } = await this.attachChecked(ctx, engine, relation, local, placeholders);
        return { relation, ...list(rejected), ...extra };
      }
      const extra = await this.attach(ctx, engine, relation, local, placeholders);
      return { relation, ...list([]), ...extra };
    }
    // S3: download into a temporary folder (a fresh cache: nothing stale is reused), stage the rows, remove it
    const tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'ingot-files-'));
    let extra: Extra;
    let rejected: RejectedFile[] = [];
    try {
      const dir = await new S3Store(store.root, { cacheDir: tmp }).localCopy(read.map((f) => ({ key: f.key, size: f.size })));
      if (rejecting) {
        ({ extra, rejected } = await this.attachChecked(ctx, engine, relation, read.map((f) => ({ path: path.join(dir, ...f.key.split('/')), shown: f.name, name: f.name, values: f.values })), placeholders, [dir, store.root]));
        return { relation, ...list(rejected), ...extra };
      }
      const view = `${relation}__files`;
      extra = await this.attach(ctx, engine, view, read.map((f) => ({ path: path.join(dir, ...f.key.split('/')), shown: f.name, values: f.values })), placeholders, [dir, store.root]);
      try {
        await engine.stage(relation, `SELECT * FROM ${quoteIdent(view)}`);
      } catch (err) {
        throw inputError(renamed(err, dir, store.root), ctx.dataset);
      } finally {
        await engine.drop(view);
      }
    } finally {
      await fs.rm(tmp, { recursive: true, force: true });
    }
    return { relation, ...list(rejected), ...extra };
  }

  /**
   * Reads `files` into relation `name` (staged: every row parsed now), leaving out the files
   * that cannot be read: the whole batch is tried first; when it fails, each file alone, and the
   * ones failing are rejected with their error (INPUT_MALFORMED / INPUT_SCHEMA message, with the
   * line the reader names). When every file is rejected, `name` is an empty relation of one
   * column, `_source`.
   */
  private async attachChecked(ctx: SourceContext, engine: Engine, name: string, files: { path: string; shown: string; name: string; values: Record<string, string> }[], placeholders: string[], rename?: [string, string]): Promise<{ extra: Extra; rejected: RejectedFile[] }> {
    const view = `${name}__files`;
    const tryRead = async (some: typeof files): Promise<Extra> => {
      const extra = await this.attach(ctx, engine, view, some, placeholders, rename);
      try {
        await engine.stage(name, `SELECT * FROM ${quoteIdent(view)}`);
      } catch (err) {
        throw inputError(rename ? renamed(err, ...rename) : err, ctx.dataset);
      } finally {
        await engine.drop(view);
      }
      return extra;
    };
    try {
      return { extra: await tryRead(files), rejected: [] };
    } catch {
      // find the files at fault, one by one
    }
    const good: typeof files = [];
    const rejected: RejectedFile[] = [];
    for (const f of files) {
      try {
        await tryRead([f]);
        good.push(f);
      } catch (err) {
        const e = err instanceof IngotError ? err : inputError(err, ctx.dataset);
        // newline-delimited JSON: the first line that is not UTF-8 or not JSON, found here (the engine's own count is not the line's)
        const bad = this.source.format === 'ndjson' || this.source.format === 'json' ? await badJsonLine(f.path) : undefined;
        if (bad) rejected.push({ file: f.name, error: `${ctx.dataset}: cannot read ${f.shown} (line ${bad.line}): ${bad.error}`, line: bad.line });
        else rejected.push({ file: f.name, error: e.message, ...(e.context.row !== undefined ? { line: e.context.row } : {}) });
      } finally {
        await engine.drop(name);
      }
    }
    if (good.length === 0) {
      await engine.stage(name, 'SELECT CAST(NULL AS VARCHAR) AS _source WHERE false');
      return { extra: {}, rejected };
    }
    return { extra: await tryRead(good), rejected };
  }

  /** Checks CSV headers and attaches `files`; refuses a file bringing a lineage column (`checkNoLineageColumns`). (local paths; `shown` in messages) as view `name`; `rename` maps a local folder back to its S3 root in engine errors. */
  private async attach(ctx: SourceContext, engine: Engine, name: string, files: { path: string; shown: string; values: Record<string, string> }[], placeholders: string[], rename?: [string, string]): Promise<Extra> {
    const { source } = this;
    let columns = source.columns;
    if (columns && (source.format === 'csv' || source.format === 'tsv')) {
      columns = await checkHeaders(files, columns, source.format === 'tsv' ? '\t' : ',', ctx.dataset);
    }
    const valueTypes: Record<string, string> = {};
    for (const p of placeholders) {
      valueTypes[p] = source.columns?.[p] ?? (files.every((f) => /^\d{4}-\d{2}-\d{2}$/.test(f.values[p]!)) ? 'DATE' : 'VARCHAR');
    }
    const scanned = files.map((f) => ({ path: f.path, values: f.values }));
    if (source.format === 'combined' || source.format === 'common') {
      const { expectations, quarantineColumns } = await readWebLogs(ctx.dataset, engine, name, source.format, { files: scanned, valueTypes });
      return { expectations, quarantineColumns };
    }
    const scan: FileScan = { format: source.format, files: scanned, valueTypes, ...(columns ? { columns } : {}) };
    try {
      await engine.attachFiles(name, scan);
    } catch (err) {
      throw inputError(rename ? renamed(err, ...rename) : err, ctx.dataset);
    }
    const shown = new Map(files.map((f) => [f.path, f.shown]));
    try {
      await checkNoLineageColumns(engine, ctx.dataset, name, scan, (f) => f.values['_source'] ?? shown.get(f.path) ?? f.path);
    } catch (err) {
      await engine.drop(name);
      throw err;
    }
    return {};
  }
}

/**
 * Splits a source path into the store holding its fixed leading folders (the project folder for
 * a relative path, a local folder, or `s3://bucket/prefix`), those folders as written (`base`,
 * the prefix of tracking names; '' for S3, whose names are full URLs) and the glob below them.
 */
function splitPattern(pattern: string, projectDir: string): { store: ObjectStore; base: string; rest: string } {
  const s3 = /^s3a?:\/\/([^/]+)\/?(.*)$/i.exec(pattern);
  const parts = (s3 ? s3[2]! : pattern).split('/');
  const fixed = parts.findIndex((p) => /[*?[{]/.test(p));
  const dirs = parts.slice(0, fixed < 0 ? parts.length - 1 : fixed);
  const rest = parts.slice(dirs.length).join('/');
  if (s3) {
    const root = [`s3://${s3[1]}`, ...dirs].join('/');
    return { store: new S3Store(root), base: root, rest };
  }
  const base = dirs.join('/');
  return { store: new LocalStore(path.resolve(projectDir, base || '.')), base, rest };
}

/**
 * For a local store whose glob starts with a folder holding the run's partition value
 * (`date={flight_date}/*.csv`, `ctx.partitionColumn` flight_date) and a bounded interval: that
 * folder segment as an anchored expression capturing the value. Undefined otherwise (the whole
 * store is listed).
 */
function intervalFolder(store: ObjectStore, rest: string, ctx: SourceContext): RegExp | undefined {
  const column = ctx.partitionColumn;
  const segments = rest.split('/');
  if (!(store instanceof LocalStore) || !column || segments.length < 2 || ctx.interval.start === '-infinity' || ctx.interval.end === 'infinity') return undefined;
  const first = segments[0]!;
  if (!first.includes(`{${column}}`) || first.includes('**')) return undefined;
  return patternRegex(first);
}

/**
 * The listing `store.list('', { recursive, links })` would give, restricted to the first-level
 * folders whose name matches `folder` with a partition value in the run's interval (what the glob
 * can match for this run): one read of the store's root folder, then each such folder listed
 * recursively. A first-level link follows the store's rules: read when its target lies within the
 * project folder or the store's root, else listed as itself with `outside` (not followed).
 */
async function listIntervalFolders(store: LocalStore, folder: RegExp, ctx: SourceContext): Promise<ObjectMeta[]> {
  const entries = await fs.readdir(store.root, { withFileTypes: true }).catch((err: unknown) => {
    if ((err as { code?: string }).code === 'ENOENT' || (err as { code?: string }).code === 'ENOTDIR') return [];
    throw err;
  });
  const roots = await Promise.all([store.root, ctx.projectDir].map((d) => fs.realpath(path.resolve(d)).catch(() => path.resolve(d))));
  const within = (target: string): boolean => roots.some((r) => target === r || target.startsWith(r.endsWith(path.sep) ? r : r + path.sep));
  const out: ObjectMeta[] = [];
  for (const e of entries) {
    if (e.name.startsWith('.')) continue;
    const m = folder.exec(e.name);
    if (!m) continue;
    let value: string;
    try {
      value = decodeURIComponent(m.groups![ctx.partitionColumn!]!);
    } catch {
      value = '';
    }
    // a value that is no date lies in no bounded interval (`contains`); a name that cannot be decoded is listed, for the matcher to report
    if (value !== '' && !contains(ctx.interval, value)) continue;
    if (e.isSymbolicLink()) {
      const target = await fs.realpath(path.join(store.root, e.name)).catch(() => undefined);
      if (target === undefined) continue; // dangling or looping
      if (!within(target)) {
        out.push({ key: e.name, size: 0, modified: 0, outside: true });
        continue;
      }
      if (!(await fs.stat(target).catch(() => undefined))?.isDirectory()) continue;
    } else if (!e.isDirectory()) continue;
    out.push(...(await store.list(e.name, { recursive: true, links: { within: [ctx.projectDir] } })));
  }
  return out.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
}

/** The files of a listing that match a source's glob (see `matchListing`). */
interface Matched {
  files: (Found & { outside?: boolean })[];
  /** The first link to a folder outside the allowed places that the glob would enter. */
  outsideFolder?: string;
}

/** Per listing (shared by the steps of a plan), the files matching each source pattern. */
const matchedListings = new WeakMap<ObjectMeta[], Map<string, Matched>>();

/**
 * The files of `listing` that match the source's glob (`matcher` for `rest`, below `base`),
 * hidden files left out, with their placeholder values and whether each is a link leading
 * outside the allowed places; computed once per listing and pattern, so a plan over many
 * intervals matches the listing once.
 */
function matchListing(listing: ObjectMeta[], pattern: string, base: string, rest: string, matcher: RegExp, placeholders: string[]): Matched {
  let byPattern = matchedListings.get(listing);
  if (!byPattern) matchedListings.set(listing, (byPattern = new Map()));
  let matched = byPattern.get(pattern);
  if (matched) return matched;
  const found: Matched['files'] = [];
  matched = { files: found };
  for (const o of listing) {
    if (o.key.split('/').some((seg) => seg.startsWith('.'))) continue;
    if (o.outside && matched.outsideFolder === undefined && !matcher.test(o.key) && mayHold(rest, o.key)) matched.outsideFolder = base === '' ? o.key : `${base}/${o.key}`;
    const m = matcher.exec(o.key);
    if (!m) continue;
    const values: Record<string, string> = {};
    for (const p of placeholders) values[p] = decodeURIComponent(m.groups![p]!);
    const name = base === '' ? o.key : `${base}/${o.key}`;
    found.push({ name, key: o.key, size: o.size, ...(o.etag !== undefined ? { etag: o.etag } : { modified: o.modified }), values: { ...values, _source: name }, ...(o.outside ? { outside: true } : {}) });
  }
  byPattern.set(pattern, matched);
  return matched;
}

/** Whether tracked `name` lies under `base`, matches the glob, and has its partition value in the run's interval. */
function inScope(name: string, base: string, matcher: RegExp, placeholders: string[], ctx: SourceContext): boolean {
  const prefix = base === '' ? '' : `${base}/`;
  if (!name.startsWith(prefix)) return false;
  const m = matcher.exec(name.slice(prefix.length));
  if (!m) return false;
  const pv = ctx.partitionColumn && placeholders.includes(ctx.partitionColumn) ? decodeURIComponent(m.groups![ctx.partitionColumn]!) : undefined;
  return pv === undefined || contains(ctx.interval, pv);
}

function sameFile(t: TrackedFile | undefined, f: Found): boolean {
  return t !== undefined && t.size === f.size && (f.etag !== undefined ? t.etag === f.etag : t.modified === f.modified);
}

/** `err` with the local folder `dir` replaced by `root` in its message, so errors name the S3 object. */
function renamed(err: unknown, dir: string, root: string): unknown {
  if (!(err instanceof Error) || err instanceof IngotError || !err.message.includes(dir)) return err;
  return new Error(err.message.split(dir).join(root), { cause: err });
}

/** Wraps an engine's read error as INPUT_MALFORMED with the file and line it names. */
export function inputError(err: unknown, dataset: string): IngotError {
  const msg = (err as Error).message ?? String(err);
  const file = /file\s*=\s*(\S+)/.exec(msg)?.[1] ?? /in file "([^"]+)"/.exec(msg)?.[1];
  // DuckDB's JSON readers: a transform (type) error names the record's line; a malformed-JSON error's count is not the line's, so it is not taken
  const line = /on Line:\s*(\d+)/i.exec(msg)?.[1] ?? /JSON transform error in file "[^"]+", in line (\d+)/.exec(msg)?.[1];
  const first = msg.split('\n').filter((l) => l.trim() && !/^Possible fixes|^\*/.test(l.trim())).slice(0, 3).join(' ');
  return new IngotError(
    'INPUT_MALFORMED',
    `${dataset}: cannot read ${file ?? 'input'}${line ? ` (line ${line})` : ''}: ${first}`,
    { dataset, ...(file ? { file } : {}), ...(line ? { row: Number(line) } : {}) },
    { cause: err },
  );
}

/**
 * Whether folder `key` (`/`-separated, relative to the glob's base) may hold files matching the
 * glob `pattern`: its segments match the glob's leading segments, or a `**` is reached.
 */
function mayHold(pattern: string, key: string): boolean {
  const globs = pattern.split('/');
  const dirs = key.split('/');
  for (const [i, dir] of dirs.entries()) {
    const g = globs[i];
    if (g === undefined || i === globs.length - 1) return g !== undefined && g.includes('**');
    if (g.includes('**')) return true;
    if (!patternRegex(g).test(dir)) return false;
  }
  return true;
}

/**
 * A glob as an anchored regular expression over `/`-separated paths: `*` and `?` within one
 * segment, `**` across segments (a `**` segment also matches no folder at all, so `a/**` then `*.json` matches `a/x.json`), `{name}` a
 * whole segment captured as group `name`.
 */
export function patternRegex(pattern: string): RegExp {
  let re = '';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!;
    if (c === '{') {
      const end = pattern.indexOf('}', i);
      re += `(?<${pattern.slice(i + 1, end)}>[^/]+)`;
      i = end;
    } else if (c === '*') {
      if (pattern[i + 1] === '*' && pattern[i + 2] === '/' && (i === 0 || pattern[i - 1] === '/')) {
        re += '(?:.*/)?';
        i += 2;
      } else if (pattern[i + 1] === '*') {
        re += '.*';
        i++;
      } else re += '[^/]*';
    } else if (c === '?') re += '[^/]';
    else re += c.replace(/[.+^$()|[\]\\]/g, '\\$&');
  }
  return new RegExp(`^${re}$`);
}

/**
 * Reads the header of each file and returns the declared columns in the files' own order
 * (undeclared columns as VARCHAR). Errors: INPUT_SCHEMA naming the file and the missing column,
 * or the file whose header differs from the first file's.
 */
async function checkHeaders(files: { path: string; shown: string }[], declared: Record<string, string>, delimiter: string, dataset: string): Promise<Record<string, string>> {
  let first: string[] | undefined;
  for (const { path: local, shown: file } of files) {
    const header = await readHeader(local, delimiter, file);
    const missing = Object.keys(declared).filter((c) => !header.includes(c));
    if (missing.length > 0) {
      throw new IngotError('INPUT_SCHEMA', `${dataset}: ${file}: column ${missing.join(', ')} missing (header: ${header.join(delimiter)})`, { dataset, file, column: missing[0]! });
    }
    if (first && first.join('\u0000') !== header.join('\u0000')) {
      throw new IngotError('INPUT_SCHEMA', `${dataset}: ${file}: header ${header.join(delimiter)} differs from ${files[0]!.shown}'s ${first.join(delimiter)}`, { dataset, file });
    }
    first ??= header;
  }
  return Object.fromEntries(first!.map((c) => [c, declared[c] ?? 'VARCHAR']));
}

async function readHeader(local: string, delimiter: string, file: string): Promise<string[]> {
  const text = (await readStart(local, file)).toString('utf8').replace(/^\uFEFF/, '');
  const line = text.split(/\r?\n/)[0] ?? '';
  if (line.trim() === '') throw new IngotError('INPUT_MALFORMED', `${file}: empty file or no header line`, { file, row: 1 });
  return splitCsvLine(line, delimiter);
}

/** The first 64 KiB of `local` (named `file` in errors), decompressed when it ends in `.gz`. */
async function readStart(local: string, file: string): Promise<Buffer> {
  const LIMIT = 65536;
  const stream = local.endsWith('.gz') ? createReadStream(local).pipe(createGunzip()) : createReadStream(local, { end: LIMIT - 1 });
  const chunks: Buffer[] = [];
  let size = 0;
  try {
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      chunks.push(chunk);
      size += chunk.length;
      if (size >= LIMIT) break;
    }
  } catch (err) {
    throw new IngotError('INPUT_MALFORMED', `${file}: cannot read (${(err as Error).message})`, { file }, { cause: err });
  } finally {
    stream.destroy();
  }
  return Buffer.concat(chunks).subarray(0, LIMIT);
}

function splitCsvLine(line: string, delimiter: string): string[] {
  const out: string[] = [];
  let cur = '';
  let quoted = false;
  for (let i = 0; i < line.length; i++) {
    const c = line[i]!;
    if (quoted) {
      if (c === '"' && line[i + 1] === '"') {
        cur += '"';
        i++;
      } else if (c === '"') quoted = false;
      else cur += c;
    } else if (c === '"') quoted = true;
    else if (c === delimiter) {
      out.push(cur.trim());
      cur = '';
    } else cur += c;
  }
  out.push(cur.trim());
  return out;
}

/**
 * Admits a rejected file again (`ingot files retry`): one commit to `table` (the dataset's Delta
 * table) removing `file`'s entry from the committed file list (domain `ingot.files`), so the
 * next run reads it as new. `file` as the list names it (the source's path, or the `s3://` URL).
 * Returns the version committed. Errors: TABLE_NOT_FOUND (no table), INPUT_MISSING when the list
 * has no such file, CONFIG_INVALID when the file was loaded (not rejected: retrying it would load
 * its rows twice), COMMIT_CONFLICT when a concurrent run changed the list.
 */
export async function retryRejectedFile(table: DeltaTable, dataset: string, file: string): Promise<{ version: number; error: string }> {
  const snapshot = await table.trySnapshot();
  if (!snapshot) throw new IngotError('TABLE_NOT_FOUND', `${dataset}: no table at ${table.location}: nothing was loaded yet`, { dataset });
  const tracked = readFileList(new Map([...snapshot.domains.values()].map((d) => [d.domain, d.configuration])), dataset);
  const entry = tracked.files[file];
  if (!entry) {
    const rejected = Object.entries(tracked.files).filter(([, e]) => e.rejected !== undefined).map(([n]) => n);
    throw new IngotError('INPUT_MISSING', `${dataset}: ${file} is not in the table's file list (rejected files: ${rejected.join(', ') || 'none'})`, { dataset, file });
  }
  if (entry.rejected === undefined) throw new IngotError('CONFIG_INVALID', `${dataset}: ${file} was loaded, not rejected: retrying it would load its rows twice`, { dataset, file });
  const version = await table.commit({
    readVersion: snapshot.version, operation: 'SET TBLPROPERTIES', operationParameters: { ingot: `files retry ${file}` },
    actions: fileListWithout(tracked, file)!.map(({ domain, configuration, removed }) => ({ domainMetadata: { domain, configuration, removed } })),
  });
  return { version, error: entry.rejected };
}
