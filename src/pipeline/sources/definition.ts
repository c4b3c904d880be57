import { z } from 'zod';
import { archiveSourceSchema, type ArchiveSource } from './archive-source.js';
import { duneSourceSchema, type DuneSource } from './dune-source.js';
import { filesSourceSchema, type FilesSource } from './files-source.js';
import { httpSourceSchema, type HttpSource } from './http-source.js';
import { postgresSourceSchema, type PostgresSource } from './postgres-source.js';

/** Where a bronze dataset's rows come from, by `kind`. */
export type Source = FilesSource | HttpSource | PostgresSource | ArchiveSource | DuneSource;

/** Validates a `Source` (`source` in a dataset definition): one schema per kind. */
export const sourceSchema = z.discriminatedUnion('kind', [
  filesSourceSchema,
  httpSourceSchema,
  archiveSourceSchema,
  postgresSourceSchema,
  duneSourceSchema,
]);

/**
 * The lineage columns ingot gives every row a source yields: `_ingested_at` (the run's start),
 * `_source` (the file or endpoint the row came from) and `_run_id`.
 */
export const LINEAGE_COLUMNS: readonly string[] = ['_ingested_at', '_source', '_run_id'];
