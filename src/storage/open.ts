import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { IngotError } from '../errors.js';
import { LocalStore } from './local.js';
import { S3Store } from './s3.js';
import type { ObjectStore } from './store.js';

/** `scheme://...` locations (anything else is a local path). */
const URL_LOCATION = /^([a-z][a-z0-9+.-]*):\/\//i;

/**
 * The store for `location`: `s3://bucket/prefix` → `S3Store` (configured from the AWS
 * environment), `file:///dir` or a path → `LocalStore`. Errors: CONFIG_INVALID for other schemes.
 */
export function openStore(location: string): ObjectStore {
  const scheme = URL_LOCATION.exec(location)?.[1]?.toLowerCase();
  if (scheme === undefined) return new LocalStore(location);
  if (scheme === 's3' || scheme === 's3a') return new S3Store(`s3://${location.slice(scheme.length + 3)}`);
  if (scheme === 'file') return new LocalStore(fileURLToPath(location));
  throw new IngotError('CONFIG_INVALID', `${location}: unsupported storage scheme ${scheme}:// (use a path or s3://bucket/prefix)`);
}

/** `location` made absolute: a path resolved against `base` (default: the working directory), a URL kept as is. */
export function resolveLocation(location: string, base = '.'): string {
  return URL_LOCATION.test(location) ? location : path.resolve(base, location);
}

/** `location` with `/`-separated `parts` appended (a path joined, a URL extended). */
export function joinLocation(location: string, ...parts: string[]): string {
  return URL_LOCATION.test(location) ? [location.replace(/\/+$/, ''), ...parts].join('/') : path.join(location, ...parts);
}
