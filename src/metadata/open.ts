import * as path from 'node:path';
import { IngotError } from '../errors.js';
import type { Project } from '../pipeline/project.js';
import { resolveEnv } from '../env.js';
import { redactUrl } from './redact.js';
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
  const target = resolveEnv(location, (m) => new IngotError('CONFIG_INVALID', `metadata: ${m}`, {}));
  try {
    if (/^postgres(ql)?:\/\//.test(target)) {
      // the PostgreSQL client loads only for a PostgreSQL store
      const { PostgresDb } = await import('./postgres.js');
      return await MetadataStore.open(new PostgresDb(target));
    }
    return await MetadataStore.open(new SqliteDb(path.resolve(dir, target)));
  } catch (err) {
    throw new IngotError('METADATA_UNAVAILABLE', `cannot open the metadata store ${redactUrl(target)}: ${(err as Error).message}`, {}, { cause: err });
  }
}

/** Opens `project`'s metadata store (`metadata` in ingot.config.ts, default `.ingot/metadata.db`). */
export async function openMetadata(project: Project): Promise<MetadataStore> {
  return openMetadataAt(project.config.metadata ?? DEFAULT_METADATA, project.dir);
}
