/**
 * The clauses of a MERGE (Delta's upsert), as `operations/merge.ts` runs them and an engine with
 * its own Delta support takes them (`TableCommit.merge`).
 */

/** `when matched` / `when not matched by source`: update the target row (`'*'`: every column from the source column of the same name) or delete it. */
export type MatchedClause =
  | { update: '*' | Record<string, string>; condition?: string }
  | { delete: true; condition?: string };

/** `when not matched`: insert a row built from the source row (`'*'`: columns by name; absent columns are NULL). */
export interface InsertClause {
  insert: '*' | Record<string, string>;
  condition?: string;
}

/**
 * A MERGE (Delta's upsert) without its source. SQL expressions are in the engine's dialect and address the two
 * sides as `target.<column>` and `source.<column>`. Clauses of one kind apply in order: the first
 * whose condition holds acts; a row no clause takes is kept (target) or skipped (source).
 */
export interface MergeClauses {
  /** The match condition, e.g. `target.id = source.id`. */
  on: string;
  whenMatched?: MatchedClause[];
  whenNotMatched?: InsertClause[];
  /** Only `target.*` may be referenced here: these target rows have no source row. */
  whenNotMatchedBySource?: MatchedClause[];
  /**
   * Schema evolution ("automatic schema evolution" of Delta MERGE): source columns the target
   * lacks (all of them with `true`, or those named) are added to the table schema (nullable,
   * after the existing ones) and filled by `'*'` clauses; existing rows read NULL there. A column
   * whose type differs is SCHEMA_MISMATCH.
   */
  mergeSchema?: boolean | string[];
}
