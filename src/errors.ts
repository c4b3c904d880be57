/**
 * Typed errors. Every error ingot raises carries a stable `code` and the offending input
 * (`file`, `row`, `column`, `dataset`, `expectation`, `table`) so a user can find and fix it.
 */

/** Stable error codes, grouped by the layer that raises them. */
export type ErrorCode =
  | 'CONFIG_INVALID'
  | 'DATASET_INVALID'
  | 'DATASET_UNKNOWN'
  | 'GRAPH_CYCLE'
  | 'SELECTOR_INVALID'
  | 'SELECTION_EMPTY'
  | 'INPUT_MISSING'
  | 'INPUT_MALFORMED'
  | 'INCREMENTAL_UNSUPPORTED'
  | 'CHANGE_FEED_UNAVAILABLE'
  | 'INPUT_SCHEMA'
  | 'SOURCE_ERROR'
  | 'EXPECTATION_FAILED'
  | 'TEST_INVALID'
  | 'PARTITION_VIOLATION'
  | 'SCHEMA_MISMATCH'
  | 'TABLE_NOT_FOUND'
  | 'TABLE_EXISTS'
  | 'VERSION_NOT_FOUND'
  | 'COMMIT_CONFLICT'
  | 'CONCURRENT_MODIFICATION'
  | 'TABLE_APPEND_ONLY'
  | 'MERGE_MULTIPLE_MATCHES'
  | 'CHANGES_INVALID'
  | 'COLUMN_UNKNOWN'
  | 'RETENTION_TOO_SHORT'
  | 'DATA_FILE_MISSING'
  | 'ENVIRONMENT_NOT_FOUND'
  | 'PRODUCTION_MOVED'
  | 'FILE_MISMATCH'
  | 'RUN_NOT_FOUND'
  | 'METADATA_UNAVAILABLE'
  | 'PIPELINE_UNKNOWN'
  | 'TASK_TIMEOUT'
  | 'SENSOR_TIMEOUT'
  | 'PROTOCOL_UNSUPPORTED'
  | 'LOG_CORRUPT'
  | 'STORAGE_ERROR'
  | 'EXPORT_FAILED'
  | 'SQL_ERROR'
  | 'SQL_NOT_READ_ONLY'
  | 'SQL_TIMEOUT'
  | 'RESULT_TOO_LARGE'
  | 'QUERY_QUEUE_FULL'
  | 'VALIDATION'
  | 'NOT_FOUND'

  | 'CONNECTION_INVALID'
  | 'ENGINE_UNAVAILABLE'
  | 'QUERY_CANCELLED';

/** Where an error points in the user's input. All fields optional. */
export interface ErrorContext {
  file?: string;
  row?: number;
  column?: string;
  dataset?: string;
  expectation?: string;
  table?: string;
  version?: number;
  pipeline?: string;
  /** The environment (`--env`) an error concerns. */
  environment?: string;
  /** Spark's error class (e.g. `TABLE_OR_VIEW_NOT_FOUND`) of an error raised by a Spark engine. */
  errorClass?: string;
  /** Spark's SQLSTATE of that error. */
  sqlState?: string;
  /** FILE_MISMATCH: the size in bytes the Delta log records for `file`. */
  recordedSize?: number;
  /** FILE_MISMATCH: the size in bytes `file` has. */
  actualSize?: number;
  /** Where a SQL error is in the statement's text: a 0-based character offset. */
  position?: number;
}

/** The one error type ingot throws. `message` already names the context; `context` has it as data. */
export class IngotError extends Error {
  override readonly name = 'IngotError';
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly context: ErrorContext = {},
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** The message of any thrown value. */
export function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
