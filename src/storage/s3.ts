import { createHash, randomUUID } from 'node:crypto';
import { createReadStream, createWriteStream, promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { S3Client, S3ClientConfig } from '@aws-sdk/client-s3';
import { IngotError, messageOf } from '../errors.js';
import { fileMismatch, forEachLimit, NotFoundError, type LocalStaging, type ObjectMeta, type ObjectStore } from './store.js';

/** Parallel transfers of one `localCopy` or `publish`. */
const TRANSFERS = 8;

/** The AWS SDK, loaded on first use so that local lakes do not pay for loading it. */
type Sdk = typeof import('@aws-sdk/client-s3');
let sdk: Promise<Sdk> | undefined;
const loadSdk = (): Promise<Sdk> => (sdk ??= import('@aws-sdk/client-s3'));

/**
 * An object store on S3 or an S3-compatible server, rooted at `s3://bucket/prefix`.
 *
 * `putIfAbsent` is a conditional PutObject (`If-None-Match: *`): S3 answers 412 Precondition
 * Failed when the key exists, and 409 ConditionalRequestConflict while a concurrent conditional
 * write of the key is in flight, after which the key is checked again. Engines, which read and
 * write local files only, get local copies of objects in a cache directory (`localCopy`,
 * `localStaging`; see `cacheDir`).
 */
export class S3Store implements ObjectStore {
  readonly root: string;
  readonly bucket: string;
  /** Key prefix without leading or trailing `/`; '' for the bucket root. */
  readonly prefix: string;
  private readonly client: Promise<S3Client>;
  private readonly cache: string;
  private readonly pageSize?: number;

  /**
   * @param location `s3://bucket` or `s3://bucket/prefix`. Errors: CONFIG_INVALID for anything else.
   * @param options `client` (default: `s3ClientFromEnv()`), `cacheDir` (default: `cacheDir()`),
   *   `pageSize`: keys per ListObjectsV2 request (default: the server's, 1,000 on S3).
   */
  constructor(location: string, options: { client?: S3Client; cacheDir?: string; pageSize?: number } = {}) {
    const m = /^s3:\/\/([^/]+)(?:\/(.*))?$/.exec(location);
    if (!m) throw new IngotError('CONFIG_INVALID', `${location}: an S3 location is s3://bucket or s3://bucket/prefix`);
    this.bucket = m[1]!;
    this.prefix = (m[2] ?? '').split('/').filter((s) => s !== '').join('/');
    this.root = `s3://${this.bucket}${this.prefix ? `/${this.prefix}` : ''}`;
    this.client = options.client ? Promise.resolve(options.client) : s3ClientFromEnv();
    this.cache = options.cacheDir ?? cacheDir();
    this.pageSize = options.pageSize;
  }

  locate(key: string): string {
    return key === '' ? this.root : `${this.root}/${key}`;
  }

  /** See `ObjectStore.list`; `startAfter` (a key relative to the root) lists only the keys after it (ListObjectsV2 `StartAfter`). */
  async list(prefix: string, options: { recursive?: boolean; startAfter?: string } = {}): Promise<ObjectMeta[]> {
    const base = this.objectKey(prefix);
    const strip = this.prefix === '' ? 0 : this.prefix.length + 1;
    const out: ObjectMeta[] = [];
    let token: string | undefined;
    do {
      const { s, client } = await this.api();
      const page = await client.send(new s.ListObjectsV2Command({
        Bucket: this.bucket, Prefix: base === '' ? undefined : `${base}/`, Delimiter: options.recursive ? undefined : '/', ContinuationToken: token, MaxKeys: this.pageSize,
        StartAfter: options.startAfter === undefined || token ? undefined : this.objectKey(options.startAfter),
      })).catch((err: unknown) => { throw this.fail('list', prefix, err); });
      for (const o of page.Contents ?? []) {
        if (!o.Key || o.Key.endsWith('/')) continue;
        out.push({ key: o.Key.slice(strip), size: o.Size ?? 0, modified: o.LastModified?.getTime() ?? 0, ...(o.ETag ? { etag: o.ETag } : {}) });
      }
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
    return out.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  }

  async names(prefix: string, options: { startAfter?: string } = {}): Promise<string[]> {
    const skip = prefix === '' ? 0 : prefix.length + 1;
    const startAfter = options.startAfter === undefined ? undefined : prefix === '' ? options.startAfter : `${prefix}/${options.startAfter}`;
    return (await this.list(prefix, { startAfter })).map((o) => o.key.slice(skip));
  }

  async folders(prefix: string): Promise<string[]> {
    const base = this.objectKey(prefix);
    const from = base === '' ? '' : `${base}/`;
    const out: string[] = [];
    let token: string | undefined;
    do {
      const { s, client } = await this.api();
      const page = await client.send(new s.ListObjectsV2Command({ Bucket: this.bucket, Prefix: from === '' ? undefined : from, Delimiter: '/', ContinuationToken: token, MaxKeys: this.pageSize }))
        .catch((err: unknown) => { throw this.fail('list', prefix, err); });
      for (const p of page.CommonPrefixes ?? []) if (p.Prefix) out.push(p.Prefix.slice(from.length, -1));
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
    return out.filter((n) => n !== '').sort();
  }

  async get(key: string): Promise<Buffer> {
    try {
      const out = await this.getObject(key);
      return Buffer.from(await out.Body!.transformToByteArray());
    } catch (err) {
      if (statusOf(err) === 404) throw new NotFoundError(key);
      throw this.fail('get', key, err);
    }
  }

  async head(key: string): Promise<ObjectMeta | undefined> {
    try {
      const { s, client } = await this.api();
      const out = await client.send(new s.HeadObjectCommand({ Bucket: this.bucket, Key: this.objectKey(key) }));
      return { key, size: out.ContentLength ?? 0, modified: out.LastModified?.getTime() ?? 0 };
    } catch (err) {
      if (statusOf(err) === 404) return undefined;
      throw this.fail('head', key, err);
    }
  }

  async put(key: string, body: Buffer | string): Promise<void> {
    await this.putObject(key, body).catch((err: unknown) => { throw this.fail('put', key, err); });
  }

  async putIfAbsent(key: string, body: Buffer | string): Promise<boolean> {
    for (let attempt = 0; ; attempt++) {
      try {
        await this.putObject(key, body, { IfNoneMatch: '*' });
        return true;
      } catch (err) {
        const status = statusOf(err);
        if (status === 412) return false;
        // 409: another conditional write of this key is in flight; S3 asks to retry
        if (status === 409 && attempt < 8) {
          if (await this.head(key)) return false;
          await new Promise((r) => setTimeout(r, 20 * 2 ** attempt));
          continue;
        }
        throw this.fail('conditional put', key, err);
      }
    }
  }

  async delete(key: string): Promise<void> {
    const { s, client } = await this.api();
    await client.send(new s.DeleteObjectCommand({ Bucket: this.bucket, Key: this.objectKey(key) })).catch((err: unknown) => { throw this.fail('delete', key, err); });
  }

  /** Copies into `<cacheDir>/objects/<hash of the root>/<key>`, downloading only files absent or of another size. */
  async localCopy(files: { key: string; size?: number }[]): Promise<string> {
    const dir = this.objectsDir();
    await forEachLimit(files, TRANSFERS, async (f) => {
      const target = localPath(dir, f.key);
      const size = f.size ?? (await this.head(f.key))?.size;
      if (size === undefined) throw new NotFoundError(f.key);
      const st = await fs.stat(target).catch(() => undefined);
      if (st?.isFile() && st.size === size) return;
      await fs.mkdir(path.dirname(target), { recursive: true });
      const tmp = `${target}.${randomUUID()}.tmp`;
      try {
        const out = await this.getObject(f.key);
        await pipeline(out.Body as Readable, createWriteStream(tmp));
        const got = (await fs.stat(tmp)).size;
        if (f.size !== undefined && got !== f.size) throw fileMismatch(this.root, f.key, f.size, got);
        await fs.rename(tmp, target);
      } catch (err) {
        await fs.rm(tmp, { force: true });
        if (err instanceof IngotError) throw err;
        if (statusOf(err) === 404) throw new NotFoundError(f.key);
        throw this.fail('download', f.key, err);
      }
    });
    return dir;
  }

  /**
   * Stages in `<cacheDir>/staging/<uuid>`; `publish` uploads each file and moves it into the
   * cache (so reading it back downloads nothing). A failed publish deletes the objects it uploaded.
   */
  async localStaging(): Promise<LocalStaging> {
    const dir = path.join(this.cache, 'staging', randomUUID());
    await fs.mkdir(dir, { recursive: true });
    const objects = this.objectsDir();
    return {
      dir,
      publish: async (keys: string[]): Promise<void> => {
        const started: string[] = [];
        try {
          await forEachLimit(keys, TRANSFERS, async (key) => {
            const file = localPath(dir, key);
            const { size } = await fs.stat(file);
            started.push(key);
            await this.putObject(key, createReadStream(file), { ContentLength: size }).catch((err: unknown) => { throw this.fail('upload', key, err); });
            const cached = localPath(objects, key);
            await fs.mkdir(path.dirname(cached), { recursive: true });
            await fs.rename(file, cached);
          });
        } catch (err) {
          await Promise.allSettled(started.map((k) => this.delete(k)));
          throw err;
        }
      },
      close: () => fs.rm(dir, { recursive: true, force: true }),
    };
  }

  /** The SDK module and this store's client. */
  private async api(): Promise<{ s: Sdk; client: S3Client }> {
    const [s, client] = await Promise.all([loadSdk(), this.client]);
    return { s, client };
  }

  private async getObject(key: string) {
    const { s, client } = await this.api();
    return client.send(new s.GetObjectCommand({ Bucket: this.bucket, Key: this.objectKey(key) }));
  }

  private async putObject(key: string, body: Buffer | string | Readable, extra: { IfNoneMatch?: string; ContentLength?: number } = {}): Promise<void> {
    const { s, client } = await this.api();
    await client.send(new s.PutObjectCommand({ Bucket: this.bucket, Key: this.objectKey(key), Body: body, ...extra }));
  }

  private objectKey(key: string): string {
    return this.prefix === '' ? key : key === '' ? this.prefix : `${this.prefix}/${key}`;
  }

  private objectsDir(): string {
    return path.join(this.cache, 'objects', createHash('sha256').update(this.root).digest('hex').slice(0, 24));
  }

  private fail(operation: string, key: string, err: unknown): IngotError {
    const name = err instanceof Error && err.name !== 'Error' ? `${err.name}: ` : '';
    return new IngotError('STORAGE_ERROR', `${this.locate(key)}: ${operation} failed: ${name}${messageOf(err)}`, { file: this.locate(key) }, { cause: err });
  }
}

/**
 * An S3 client configured from the standard AWS environment: `AWS_ENDPOINT_URL_S3` or
 * `AWS_ENDPOINT_URL` (an S3-compatible server, addressed path-style), `AWS_REGION` or
 * `AWS_DEFAULT_REGION` (default `us-east-1` with an endpoint, else the SDK's profile chain),
 * credentials from the SDK's default chain (`AWS_ACCESS_KEY_ID`/`AWS_SECRET_ACCESS_KEY`,
 * `AWS_PROFILE`, ...). One client per configuration is shared.
 */
export async function s3ClientFromEnv(env: NodeJS.ProcessEnv = process.env): Promise<S3Client> {
  const endpoint = env['AWS_ENDPOINT_URL_S3'] || env['AWS_ENDPOINT_URL'] || undefined;
  const region = env['AWS_REGION'] || env['AWS_DEFAULT_REGION'] || (endpoint ? 'us-east-1' : undefined);
  const id = `${endpoint ?? ''}|${region ?? ''}|${env['AWS_ACCESS_KEY_ID'] ?? ''}|${env['AWS_PROFILE'] ?? ''}`;
  let client = clients.get(id);
  if (!client) {
    const config: S3ClientConfig = { followRegionRedirects: true };
    if (region) config.region = region;
    if (endpoint) {
      // S3-compatible servers: bucket in the path, and checksums only where S3 requires them
      Object.assign(config, { endpoint, forcePathStyle: true, requestChecksumCalculation: 'WHEN_REQUIRED', responseChecksumValidation: 'WHEN_REQUIRED' });
    }
    client = new (await loadSdk()).S3Client(config);
    clients.set(id, client);
  }
  return client;
}

const clients = new Map<string, S3Client>();

/**
 * The local cache of remote objects and staged writes: `INGOT_CACHE_DIR`, else
 * `$XDG_CACHE_HOME/ingot`, else `~/.cache/ingot`. Delta data files never change once written,
 * so cached copies are reused across runs; removing the directory is always safe between runs.
 */
export function cacheDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env['INGOT_CACHE_DIR']) return path.resolve(env['INGOT_CACHE_DIR']);
  return path.join(env['XDG_CACHE_HOME'] || path.join(os.homedir(), '.cache'), 'ingot');
}

/** `<dir>/<key>`, refusing keys that would leave `dir`. */
function localPath(dir: string, key: string): string {
  const parts = key.split('/');
  if (parts.some((p) => p === '' || p === '.' || p === '..')) {
    throw new IngotError('STORAGE_ERROR', `object key ${JSON.stringify(key)} cannot be copied locally: empty, . or .. segment`, { file: key });
  }
  return path.join(dir, ...parts);
}

/** The HTTP status of an SDK error, if any. */
function statusOf(err: unknown): number | undefined {
  return (err as { $metadata?: { httpStatusCode?: number } } | undefined)?.$metadata?.httpStatusCode;
}
