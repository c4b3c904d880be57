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
