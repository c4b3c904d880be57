/** The part of `pg-cursor` (a dev dependency without its own types) that test/postgres-catalog.test.ts uses. */
declare module 'pg-cursor' {
  import type { Submittable } from 'pg';

  /** A portal read in pages: `read(n)` gives the next at most `n` rows (fewer, then none, at the end). */
  export default class Cursor<R = unknown[]> implements Submittable {
    constructor(text: string, values?: unknown[], config?: { rowMode?: 'array' });
    submit: Submittable['submit'];
    read(rows: number): Promise<R[]>;
    close(): Promise<void>;
  }
}
