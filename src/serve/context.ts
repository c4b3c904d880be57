import type { MetadataStore } from '../metadata/store.js';
import type { CoreConfig } from '../pipeline/config.js';
import type { Project } from '../pipeline/project.js';
import type { ScheduleConfig } from '../schedule/config.js';
import type { KeyVerifier } from './api-keys.js';
import type { ServeConfig } from './config.js';
import type { ServedLake } from './served-lake.js';

/** A project as `ingot serve` reads it: the core configuration, its pipelines and its serve section. */
export type ServeProject = Project<CoreConfig & ScheduleConfig & ServeConfig>;

/** Everything the route handlers share. */
export interface ServeContext {
  project: ServeProject;
  store: MetadataStore;
  reader: ServedLake;
  verifier: KeyVerifier;
  /** Row cap of every response (`serve.maxRows`). */
  maxRows: number;
  /** Byte cap of the rows of every response (`serve.maxResponseBytes`). */
  maxResponseBytes: number;
  /** `POST /api/sql` time limit, ms. */
  sqlTimeoutMs: number;
}

/** Default page size of paged reads when `limit` is absent. */
export const DEFAULT_LIMIT = 100;
