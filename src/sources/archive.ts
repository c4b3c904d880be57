import { createHash, randomUUID } from 'node:crypto';
import { createReadStream, createWriteStream, promises as fs } from 'node:fs';
import * as path from 'node:path';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import type yauzl from 'yauzl';
import type { Engine } from '../engine/engine.js';
import { IngotError, messageOf } from '../errors.js';
import { VERSION } from '../version.js';
import type { ArchiveSource } from '../pipeline/sources/archive-source.js';
import { FilesConnector, patternRegex } from './files.js';
import type { SourceBatch, SourceConnector, SourceContext } from './source.js';

/** The metadata domain in which an archive source records what it loaded (see `LoadedArchive`). */
export const ARCHIVE_DOMAIN = 'ingot.archive';

/** The configuration of domain `ingot.archive`: the archive last loaded into the table. */
export interface LoadedArchive {
  url: string;
  /** SHA-256 of the downloaded bytes, lowercase hex. */
  sha256: string;
  /** Bytes downloaded. */
  size: number;
  /** Member paths read, inside the zip (or the file name of a plain download). */
  members: string[];
}

/** Download attempts for a 429, a 5xx or a network error. */
const ATTEMPTS = 3;

/**
 * Downloads an archive (see `ArchiveSource`) into the landing zone while hashing it, then, unless
 * its SHA-256 equals the one committed in domain `ingot.archive` (a dated run: the batch is
 * `unchanged`, 0 rows), unzips it into `<landing>/<dataset>/<sha256>/members/` and reads the
 * members matching `member` as a files source (so `_source` is each
 * member's path under the project folder). The new `LoadedArchive` commits with the rows. A full
 * refresh always loads. A download goes to a temporary name first and a content folder is renamed
 * into place whole, so an interrupted run leaves no partial folder under its checksum.
 *
 * Errors: SOURCE_ERROR (HTTP status or network error, naming the URL, after retries), INPUT_MISSING
 * (a `file://` URL naming no file; no member matching `member`, listing the members),
 * INPUT_MALFORMED (a corrupt zip, naming the URL and the downloaded file), and the files source's.
 */
export class ArchiveConnector implements SourceConnector {
  constructor(private readonly source: ArchiveSource) {}

  async read(ctx: SourceContext, engine: Engine, relation: string): Promise<SourceBatch> {
    const { source } = this;
    const landing = path.resolve(ctx.projectDir, source.landing ?? 'landing', ctx.dataset);
    await fs.mkdir(landing, { recursive: true });
    const name = fileNameOf(source.url);
    const tmp = path.join(landing, `.download-${randomUUID()}`);
    try {
      const { sha256, size } = await download(source.url, tmp, ctx.dataset, source.timeoutMs ?? 300_000);
      const previous = ctx.force ? undefined : ctx.committed?.get(ARCHIVE_DOMAIN);
      if (previous !== undefined && (JSON.parse(previous) as LoadedArchive).sha256 === sha256) {
        return { relation, inputs: [], unchanged: true };
      }
      const folder = path.join(landing, sha256);
      if (!(await exists(folder))) {
        const staged = `${tmp}.d`;
        try {
          await fs.mkdir(path.join(staged, 'members'), { recursive: true });
          const shown = `${source.url} (downloaded to ${path.relative(ctx.projectDir, path.join(folder, name))})`;
          const zipped = (await isZip(tmp)) || /\.zip$/i.test(name);
          if (zipped) await unzip(tmp, path.join(staged, 'members'), shown, ctx.dataset);
          else await fs.link(tmp, path.join(staged, 'members', name));
          await fs.rename(tmp, path.join(staged, name));
          // a concurrent run may have put the same content in place first: theirs is as good
          await fs.rename(staged, folder).catch(async (err: unknown) => {
            if (!(await exists(folder))) throw err;
          });
        } finally {
          await fs.rm(staged, { recursive: true, force: true });
        }
      }
      const members = (await fs.readdir(path.join(folder, 'members'), { recursive: true, withFileTypes: true }))
        .filter((e) => e.isFile())
        .map((e) => path.relative(path.join(folder, 'members'), path.join(e.parentPath, e.name)).split(path.sep).join('/'))
        .sort();
      const selected = source.member ? members.filter((m) => patternRegex(source.member!).test(m)) : members;
      if (selected.length === 0) {
        throw new IngotError('INPUT_MISSING', `${ctx.dataset}: no member of ${source.url} matches ${source.member} (members: ${members.slice(0, 20).join(', ') || 'none'})`, { dataset: ctx.dataset, file: source.url });
      }
      const base = path.relative(ctx.projectDir, path.join(folder, 'members')).split(path.sep).join('/');
      const files = new FilesConnector({ kind: 'files', path: `${base}/${source.member ?? '**'}`, format: source.format, ...(source.columns ? { columns: source.columns } : {}) });
      const batch = await files.read({ ...ctx, committed: undefined, appends: false }, engine, relation);
      const loaded: LoadedArchive = { url: source.url, sha256, size, members: selected };
      return { relation: batch.relation, inputs: [source.url], domainMetadata: [{ domain: ARCHIVE_DOMAIN, configuration: JSON.stringify(loaded), removed: false }] };
    } finally {
      await fs.rm(tmp, { force: true });
    }
  }
}

/** The last path segment of `url` (decoded), or `download` when it has none. */
function fileNameOf(url: string): string {
  const last = new URL(url).pathname.split('/').filter((s) => s !== '').pop();
  const name = last ? decodeURIComponent(last) : '';
  return name === '' || name === '.' || name === '..' || name.startsWith('.') || name === 'members' ? 'download' : name;
}

/**
 * Streams `url` into `target`, hashing it. http(s): a 429, 5xx or network error is retried
 * (`ATTEMPTS` in all, 1 s then 2 s apart). Returns the SHA-256 (hex) and byte count.
 */
async function download(url: string, target: string, dataset: string, timeoutMs: number): Promise<{ sha256: string; size: number }> {
  const fail = (code: 'SOURCE_ERROR' | 'INPUT_MISSING', message: string, cause?: unknown): IngotError =>
    new IngotError(code, `${dataset}: ${url}: ${message}`, { dataset, file: url }, { cause });
  const save = async (body: Readable): Promise<{ sha256: string; size: number }> => {
    const hash = createHash('sha256');
    let size = 0;
    const tap = new Transform({
      transform(chunk: Buffer, _enc, done) {
        hash.update(chunk);
        size += chunk.length;
        done(null, chunk);
      },
    });
    await pipeline(body, tap, createWriteStream(target));
    return { sha256: hash.digest('hex'), size };
  };
  if (/^file:/i.test(url)) {
    const file = fileURLToPath(url);
    const st = await fs.stat(file).catch(() => undefined);
    if (!st?.isFile()) throw fail('INPUT_MISSING', `no such file ${file}`);
    return save(createReadStream(file));
  }
  for (let attempt = 1; ; attempt++) {
    let failure: string;
    let cause: unknown;
    try {
      const res = await fetch(url, { headers: { 'user-agent': `ingot/${VERSION}` }, signal: AbortSignal.timeout(timeoutMs) });
      if (res.ok && res.body) return await save(Readable.fromWeb(res.body as import('node:stream/web').ReadableStream));
      await res.body?.cancel();
      failure = `HTTP ${res.status}${res.statusText ? ` ${res.statusText}` : ''}`;
      if (res.status !== 429 && res.status < 500) throw fail('SOURCE_ERROR', `download failed: ${failure}`);
    } catch (err) {
      if (err instanceof IngotError) throw err;
      const reason = (err as { cause?: unknown }).cause;
      failure = `cannot reach it: ${messageOf(err)}${reason ? ` (${messageOf(reason)})` : ''}`;
      cause = err;
    }
    if (attempt >= ATTEMPTS) throw fail('SOURCE_ERROR', `download failed after ${attempt} attempts: ${failure}`, cause);
    await sleep(1000 * 2 ** (attempt - 1));
  }
}

/** Whether `file` starts with a zip signature (a local file header, or the end record of an empty zip). */
async function isZip(file: string): Promise<boolean> {
  const fh = await fs.open(file, 'r');
  try {
    const { bytesRead, buffer } = await fh.read(Buffer.alloc(4), 0, 4, 0);
    return bytesRead === 4 && buffer.readUInt32LE(0) !== 0 && [0x04034b50, 0x06054b50].includes(buffer.readUInt32LE(0));
  } finally {
    await fh.close();
  }
}

/**
 * Extracts the files of zip `file` under `dir` (`__MACOSX/` and names starting with `.` skipped;
 * `member` selects among them when reading, so one extraction serves every selection). yauzl
 * refuses absolute paths and `..` segments. Errors: INPUT_MALFORMED naming `shown` for a corrupt
 * or unsafe archive.
 */
async function unzip(file: string, dir: string, shown: string, dataset: string): Promise<void> {
  try {
    const { default: unzip } = await import('yauzl');
    const zip = await unzip.openPromise(file, { lazyEntries: true, strictFileNames: true });
    try {
      for (;;) {
        const entry = await nextEntry(zip);
        if (!entry) break;
        const name = entry.fileName;
        if (name.endsWith('/') || name.startsWith('__MACOSX/') || name.split('/').some((s) => s.startsWith('.'))) continue;
        const target = path.join(dir, ...name.split('/'));
        await fs.mkdir(path.dirname(target), { recursive: true });
        await pipeline(await zip.openReadStreamPromise(entry), createWriteStream(target));
      }
    } finally {
      zip.close();
    }
  } catch (err) {
    throw new IngotError('INPUT_MALFORMED', `${dataset}: ${shown}: not a valid zip archive: ${messageOf(err)}`, { dataset, file: shown }, { cause: err });
  }
}

/** The next entry of a lazily read zip, or undefined at its end. */
function nextEntry(zip: yauzl.ZipFile): Promise<yauzl.Entry | undefined> {
  return new Promise((resolve, reject) => {
    const cleanup = (): void => {
      zip.removeListener('entry', onEntry);
      zip.removeListener('end', onEnd);
      zip.removeListener('error', onError);
    };
    const onEntry = (e: yauzl.Entry): void => { cleanup(); resolve(e); };
    const onEnd = (): void => { cleanup(); resolve(undefined); };
    const onError = (err: Error): void => { cleanup(); reject(err); };
    zip.once('entry', onEntry);
    zip.once('end', onEnd);
    zip.once('error', onError);
    zip.readEntry();
  });
}

async function exists(p: string): Promise<boolean> {
  return fs.stat(p).then(() => true, () => false);
}
