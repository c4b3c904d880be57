import { z } from 'zod';

/**
 * Raw files in the project folder or on S3. `{column}` in `path` is a path segment holding that
 * column's value. Only files new or changed since the last commit are read (see `FilesConnector`).
 */
export interface FilesSource {
  kind: 'files';
  /**
   * Glob relative to the project folder, e.g. `landing/flights/date={flight_date}/*.csv`, or on
   * S3, `s3://bucket/media/day={day}/*.json` (credentials and endpoint from the AWS environment).
   */
  path: string;
  /** `combined` and `common`: Apache/Nginx access logs (see `readWebLogs`; `.gz` files decompressed). */
  format: 'csv' | 'tsv' | 'json' | 'ndjson' | 'parquet' | 'combined' | 'common';
  /** Declared columns (name → SQL type). Every file must have them; types are enforced while reading. */
  columns?: Record<string, string>;
}

/** Validates a `FilesSource` (one member of the definition's `sourceSchema` union). */
export const filesSourceSchema = z.object({
  kind: z.literal('files'),
  path: z.string().min(1),
  format: z.enum(['csv', 'tsv', 'json', 'ndjson', 'parquet', 'combined', 'common']),
  columns: z.record(z.string(), z.string()).optional(),
});

/** Declares a files source. */
export function files(source: Omit<FilesSource, 'kind'>): FilesSource {
  return { kind: 'files', ...source };
}
