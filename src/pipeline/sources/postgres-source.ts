import { z } from 'zod';

/**
 * A PostgreSQL table or query (see `PostgresConnector` for the type mapping). With `cursor`, dated
 * runs load incrementally: only rows whose cursor is greater than the greatest cursor value
 * already in the dataset's table (needs materialization `append`); full refreshes reload all.
 */
export interface PostgresSource {
  kind: 'postgres';
  /** Connection URL (`postgres://user:pass@host:5432/db`) or `env:NAME` to read it from environment variable NAME. */
  connection: string;
  /** `schema.table` or `table` (exactly one of `table` and `query`). */
  table?: string;
  /** A SELECT run on the server. */
  query?: string;
  /** Incremental cursor column: must increase strictly for new rows (a serial id, an insertion time). */
  cursor?: string;
  /** Columns to read (default all). */
  columns?: string[];
}

/** Validates a `PostgresSource` (one member of the definition's `sourceSchema` union). */
export const postgresSourceSchema = z.object({
  kind: z.literal('postgres'),
  connection: z.string().min(1),
  table: z.string().min(1).optional(),
  query: z.string().min(1).optional(),
  cursor: z.string().min(1).optional(),
  columns: z.array(z.string().min(1)).optional(),
}).strict().refine((s) => (s.table === undefined) !== (s.query === undefined), { message: 'give exactly one of table and query' });

/** Declares a PostgreSQL source. */
export function postgres(source: Omit<PostgresSource, 'kind'>): PostgresSource {
  return { kind: 'postgres', ...source };
}
