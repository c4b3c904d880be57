import { IngotError, messageOf } from '../../errors.js';
import type { Expectation } from '../../pipeline/definition.js';
import { inputError } from '../../sources/files.js';
import { conformSchema } from '../schema-change.js';
import { stepError, type StepContext } from './context.js';
import type { StepInput } from './read.js';
import type { StructType } from '../../table/schema.js';

/** The query made to fit its table, with every expectation it must pass and the columns only quarantined rows keep. */
export interface Conformed {
  sql: string;
  expectations: Expectation[];
  hidden: string[];
  /** The schema of `sql`'s rows, when the conform stage already knows it. */
  schema?: StructType;
}

/**
 * Conform stage: makes the rows of `sql` fit the dataset's declared schema and its table's
 * (`conformSchema`: new columns added, lossless casts, misfits failed or quarantined) and
 * gathers the expectations: the connector's and the schema check's, then the dataset's own.
 * Errors: SCHEMA_MISMATCH, DATASET_INVALID; an engine error as INPUT_MALFORMED for a source
 * (naming the file), else SQL_ERROR.
 */
export async function conformRows(ctx: StepContext, sql: string, input: StepInput): Promise<Conformed> {
  const { ds, engine } = ctx;
  try {
    const c = await conformSchema(engine, { dataset: ds, sql, table: ctx.full ? undefined : ctx.committed?.schema, exempt: input.hidden, inputs: input.inputs });
    return {
      sql: c.sql,
      expectations: [...input.expectations, ...c.expectations, ...(ds.expectations ?? [])],
      hidden: [...input.hidden, ...c.quarantineColumns],
      ...(c.schema ? { schema: c.schema } : {}),
    };
  } catch (err) {
    if (err instanceof IngotError && err.code !== 'SQL_ERROR') throw err;
    throw ds.source ? inputError(err, ds.name) : stepError(ctx, 'SQL_ERROR', messageOf(err), err);
  }
}
