import * as path from 'node:path';
import { IngotError } from '../../errors.js';
import type { Project } from '../../pipeline/project.js';
import { PostgresDb } from './postgres.js';
import { SqliteDb } from './sqlite.js';
import { MetadataStore } from './store.js';

/** The default metadata store of a project: this SQLite file under the project folder. */
export const DEFAULT_METADATA = '.ingot/metadata.db';

/**
 * Opens the metadata store that `location` names: `postgres://…` / `postgresql://…` (PostgreSQL,
 * shared by several processes), `env:NAME` (the URL or path in environment variable NAME), or a
 * SQLite file path relative to `dir`. Errors: CONFIG_INVALID for an unset variable;
 * METADATA_UNAVAILABLE when the database cannot be opened.
 */
export async function openMetadataAt(location: string, dir: string): Promise<MetadataStore> {
  let target = location;
  if (target.startsWith('env:')) {
    const name = target.slice(4);
    const value = process.env[name];
    if (!value) throw new IngotError('CONFIG_INVALID', `metadata: environment variable ${name} is not set`, {});
    target = value;
  }
  try {
    if (/^postgres(ql)?:\/\//.test(target)) return await MetadataStore.open(new PostgresDb(target));
    return await MetadataStore.open(new SqliteDb(path.resolve(dir, target)));
  } catch (err) {
    throw new IngotError('METADATA_UNAVAILABLE', `cannot open the metadata store ${target.replace(/\/\/([^:/@]+):[^@]*@/, '//$1:***@')}: ${(err as Error).message}`, {}, { cause: err });
  }
}

/** Opens `project`'s metadata store (`metadata` in ingot.config.ts, default `.ingot/metadata.db`). */
export async function openMetadata(project: Project): Promise<MetadataStore> {
  return openMetadataAt(project.config.metadata ?? DEFAULT_METADATA, project.dir);
}
