import { z } from 'zod';

/**
 * A downloaded archive: `url` is fetched into the project's landing zone as
 * `<landing>/<dataset>/<sha256>/<file name>`, unzipped there (`members/`), and the files selected
 * by `member` are read as `format` (a URL that is no zip archive is read as the one data file,
 * gzip allowed). The content's SHA-256 is committed with the rows (domain `ingot.archive`): a
 * dated run that downloads the same content again loads nothing.
 */
export interface ArchiveSource {
  kind: 'archive';
  /** `http://`, `https://` or `file://` URL. */
  url: string;
  /** Format of the files inside. */
  format: 'csv' | 'tsv' | 'json' | 'ndjson' | 'parquet';
  /** Glob over the paths inside the zip (`*` within a folder, `**` across folders); default every file. */
  member?: string;
  /** Declared columns (name → SQL type), as for a files source. */
  columns?: Record<string, string>;
  /** Landing zone folder, relative to the project folder (default `landing`). */
  landing?: string;
  /** Per-attempt download timeout in ms (default 300 000). */
  timeoutMs?: number;
}

/** Validates an `ArchiveSource` (one member of the definition's `sourceSchema` union). */
export const archiveSourceSchema = z
  .object({
    kind: z.literal('archive'),
    url: z.string().regex(/^(https?|file):\/\//i, 'an http://, https:// or file:// URL'),
    format: z.enum(['csv', 'tsv', 'json', 'ndjson', 'parquet']),
    member: z.string().min(1).optional(),
    columns: z.record(z.string(), z.string()).optional(),
    landing: z.string().min(1).optional(),
    timeoutMs: z.number().positive().optional(),
  })
  .strict();

/** Declares an archive source. */
export function archive(source: Omit<ArchiveSource, 'kind'>): ArchiveSource {
  return { kind: 'archive', ...source };
}
