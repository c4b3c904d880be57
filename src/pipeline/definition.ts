import { z } from 'zod';
import { MINUTE_GRAINS, type Grain } from './interval.js';
import { sourceSchema, type Source } from './sources/definition.js';
export type { Grain, MinuteGrain } from './interval.js';
import { ENGINE_NAMES, engineNameSchema, isEngineName, type EngineName } from '../engine/registry.js';

/**
 * The definition API: what a user writes in `datasets/*.ts` (or as directives in `.sql` files).
 * Definitions are plain data, validated by `datasetSchema`.
 */

/** What happens to rows failing an expectation. */
export type ExpectationAction = 'warn' | 'drop' | 'quarantine' | 'fail';

/**
 * A named check of a dataset's output. NULL counts as failed. Build them by hand or with the
 * library in `checks.ts` (`notNull`, `unique`, `acceptedValues`, `range`, `regex`,
 * `relationships`, `rowCount`, `freshness`).
 */
export interface Expectation {
  name: string;
  /**
   * SQL condition, e.g. `delay_min BETWEEN -120 AND 1440`; may reference other datasets in
   * subqueries. With scope `batch`, an aggregate over all output rows, e.g. `count(*) > 0`.
   */
  condition: string;
  action: ExpectationAction;
  /** `row` (default): checked per row. `batch`: once per run over the whole output; action `warn` or `fail` only. */
  scope?: 'row' | 'batch';
}

/**
 * How a run's output lands in the table (one Delta commit per run):
 * `append`; `overwrite` (full refresh); `replace partition` (replaces the partitions of the run's
 * interval, Delta `replaceWhere` on the first partition column); `merge` (by `key`:
 * the batch de-duplicated keeping the first arrival; rows whose key the table holds are skipped,
 * or updated by `mergeUpdate`);
 * `apply changes` (a change feed merged by `key` in `changes.sequenceBy` order, SCD type 1 or 2).
 * The last two rewrite only the files holding affected keys (Delta MERGE); see `src/run/materialize.ts`.
 */
export type Materialization = 'append' | 'overwrite' | 'replace partition' | 'merge' | 'apply changes';

/**
 * The materialization of a dataset that names none, TypeScript or `.sql`: `overwrite`, each run
 * replacing the table with the query's rows (dbt's `table`).
 */
export const DEFAULT_MATERIALIZATION: Materialization = 'overwrite';

/**
 * How `apply changes` reads a change feed (one row per change of the row with that `key`).
 * Per key the change with the highest `sequenceBy` wins; two changes of a key with the same
 * sequence in one run are an error (CHANGES_INVALID); a change whose sequence is not above what
 * the table holds for its key never overwrites it.
 */
export interface ChangeFeed {
  /** Column ordering the changes of a key: a number, date or timestamp; never NULL. */
  sequenceBy: string;
  /** SQL condition over a change row marking a delete, e.g. `op = 'D'` (default: no deletes). */
  deleteWhen?: string;
  /**
   * 1 (default): one row per key, the latest state; deleted keys are removed. 2: history, one row
   * per version with `valid_from` (the sequence that opened it), `valid_to` (the sequence that
   * closed it, NULL while current) and `is_current`.
   */
  scdType?: 1 | 2;
  /** Feed columns not stored in the table (e.g. the `op` flag). */
  exceptColumns?: string[];
  /**
   * SCD type 1 only: stored columns written when a key is inserted and kept when a later change
   * updates its row, e.g. a first-load time `loaded_at` beside `updated_at` (both `now()` in the
   * SQL: the update keeps the old `loaded_at`). Not the key or the `sequenceBy` column.
   */
  insertOnly?: string[];
  /**
   * SCD type 1 only: a change's NULL columns keep the row's values when it updates a key
   * (`coalesce(change, row)` per column; Delta Live Tables' `ignore_null_updates`), so a feed
   * may carry partial rows, e.g. a session's end event without the start's columns. An insert
   * takes the change as it is.
   */
  ignoreNullUpdates?: boolean;
}


/**
 * Where a dataset's rows go after each run commits it (`exports` on a dataset; written by `exportDataset` in `src/load/export.ts`). The rows of a
 * run are those of its interval when the dataset is `replace partition` (first partition column
 * within the run's interval), else every row of the table (a full refresh: every row).
 */
export interface DatasetExports {
  /**
   * A report file per run: path relative to the project folder, `{logical_date}` replaced by the
   * run's logical date (`full` for a full refresh), e.g. `reports/sales/date={logical_date}/report.csv`.
   * A name ending in `.parquet` is written as Parquet (the table's column types), any other as
   * CSV (header line, RFC 4180 rows, NULL an empty field). Replaced atomically on reruns.
   */
  file?: string;
  /**
   * A PostgreSQL table (a datamart for BI tools), kept in step incrementally: in one transaction
   * the run's rows are deleted (by the partition column's interval; all rows when the dataset is
   * not `replace partition`) and inserted again, so reruns never duplicate. The table (and its
   * schema) is created from the Delta schema when absent: string → text, long → bigint, integer
   * → integer, short/byte → smallint, float → real, double → double precision, boolean, date,
   * timestamp → timestamptz, timestamp_ntz → timestamp, decimal(p,s) → numeric(p,s), binary →
   * bytea, structs, arrays and maps → jsonb.
   */
  postgres?: {
    /** Connection URL or `env:NAME`. */
    connection: string;
    /** `schema.table` or `table`. */
    table: string;
  };
}

/** A dataset: a Delta table ingot maintains, `layer.table`. Exactly one of `sql` and `source`. */
export interface DatasetDefinition {
  name: string;
  description?: string;
  /**
   * Column descriptions: output column → one line of text, e.g. `{ delay_min: 'departure delay, minutes' }`
   * (in a `.sql` file: `-- column delay_min: departure delay, minutes`). Written into the Delta
   * schema as each field's `comment` metadata (what Spark's DESCRIBE shows) on every commit; a
   * column the output lacks fails the run (DATASET_INVALID naming the file).
   */
  columns?: Record<string, string>;
  /**
   * Labels for selecting datasets (`tag:daily` in `--select` / `--exclude`, see `src/plan/selector.ts`):
   * lower_snake_case or kebab-case words, e.g. `['daily', 'finance', 'end-of-month']`
   * (in a `.sql` file: `-- tags: daily, finance`). They do not change what a run computes.
   */
  tags?: string[];
  /**
   * A SELECT over other datasets (`layer.table`). Templates: `{{start}}`, `{{end}}` (DATE literals
   * bounding the run's interval, end exclusive), `{{logical_date}}`, `{{run_id}}`. Portable
   * functions (`ingot.date_trunc('month', d)`...) are rewritten for the engine running it (docs/engines.md).
   */
  sql?: string;
  /** Raw input for a bronze dataset; rows get lineage columns `_ingested_at`, `_source`, `_run_id`. */
  source?: Source;
  /**
   * With `source`: a folder of the project (templates `{{logical_date}}`, `{{start}}`, `{{end}}`,
   * `{{run_id}}`, as plain text) that also receives the rows the source read, as one CSV file with
   * a header (`part-0.csv`, `_source` left out), e.g. `bronze/eth_transfers/block_date={{logical_date}}`.
   * Written when the source has been read, before the table commits; a rerun replaces the file.
   */
  landing?: string;
  /** How runs write the table; default `overwrite` (`DEFAULT_MATERIALIZATION`), for TypeScript and `.sql` datasets alike. */
  materialization: Materialization;
  /** Delta partition columns. `replace partition` replaces by the first one. */
  partitionBy?: string[];
  /**
   * Interval a `replace partition` run owns (default: the logical date's own, `day`, or `hour` for
   * an hourly pipeline's `YYYY-MM-DDTHH:00`). With `hour` the partition column is a TIMESTAMP.
   */
  grain?: Grain;
  /**
   * Read upstream tables incrementally: each run reads only the rows its upstream tables
   * committed after the versions this dataset last processed (recorded with its output, so a
   * crash or a retry reprocesses nothing twice and skips nothing): the files those commits added.
   * For `append`, `merge` and `apply changes` (`-- incremental: true` in SQL). An upstream with
   * a change data feed (`delta.enableChangeDataFeed = true`) is read as its change rows since
   * then, with `_change_type`, `_commit_version` and `_commit_timestamp` (the first run and a
   * full refresh: its whole snapshot as `insert` rows); see `operations/change-feed.ts`. Without
   * a feed, a commit that updated or deleted upstream rows fails the run
   * (INCREMENTAL_UNSUPPORTED): enable the feed and run it with `--full-refresh`.
   */
  incremental?: boolean;
  /**
   * Delta table properties written into the table's metadata (`configuration`) when a run
   * creates it or finds them changed, e.g. `{ 'delta.enableChangeDataFeed': 'true' }` (in a
   * `.sql` file: `-- table_property: delta.enableChangeDataFeed = true`): the table then
   * records its row changes (Delta's change data feed; read with `table_changes`).
   */
  tableProperties?: Record<string, string>;
  /** Key columns of `merge` and `apply changes`: identify a row. A NULL key fails the run (CHANGES_INVALID). */
  key?: string[];
  /**
   * `merge`: SQL ORDER BY list saying which of a batch's rows with the same key arrived first
   * (kept). Default: `_ingested_at`, then `_source` (the file path), when the output has them,
   * then every column in order — deterministic, but not the line order inside a file: give e.g. an
   * event timestamp when that matters.
   */
  orderBy?: string;
  /**
   * `merge`: what a batch row does to the table's row of the same key, the Delta MERGE's
   * `WHEN MATCHED THEN UPDATE SET column = expression`: output column → SQL expression over
   * `target.<column>` (the table's current row) and `source.<column>` (the batch's row for the
   * key), e.g. `{ flights: 'target.flights + source.flights' }` to accumulate an aggregate over
   * `incremental` input (`-- merge_update: flights = target.flights + source.flights` in SQL, one
   * directive per column). Columns not listed keep the table's value; every expression sees the
   * row as it was before the update (so `avg = (target.sum + source.sum) / (target.n + source.n)`
   * works beside `sum = target.sum + source.sum`). New keys are inserted as the batch has them.
   * Without it, `merge` skips keys the table holds. Errors: a column not among the output
   * columns fails the run (COLUMN_UNKNOWN naming the dataset and column); a key column, or another
   * materialization, is refused when the project loads (DATASET_INVALID).
   */
  mergeUpdate?: Record<string, string>;
  /** The change feed of `apply changes`. */
  changes?: ChangeFeed;
  expectations?: Expectation[];
  /**
   * Data contract: output column → SQL type (`INTEGER`, `DECIMAL(10,2)`, `TIMESTAMP`...). Every
   * declared column must be in the output, values are cast to the declared type (see
   * `onSchemaChange` for values that do not fit), other columns per `extraColumns`. Unlike a
   * files source's `columns` (how files are read), it checks the output of any dataset.
   */
  schema?: Record<string, string>;
  /** Output columns the contract does not declare: `fail` (default), `drop` or `allow`. Names starting with `_` are never extra. */
  extraColumns?: 'fail' | 'drop' | 'allow';
  /**
   * A value that does not fit its column's type (the contract's, or the existing table's when a
   * run's type changed incompatibly): `fail` (default) fails the run with SCHEMA_MISMATCH;
   * `quarantine` sends its row to the quarantine table. New columns are always added (schema
   * evolution); lossless changes (int → bigint...) are cast. See `conformSchema`.
   */
  onSchemaChange?: 'fail' | 'quarantine';
  /** After each run commits the dataset: a CSV report file and/or a PostgreSQL datamart table (see `DatasetExports`). */
  exports?: DatasetExports;
  /** The engine running this dataset's SQL (default: the project's, `engine` in ingot.config.ts). Datasets with a `source` read it with DuckDB. */
  engine?: EngineName;
  /**
   * Per-engine SQL overrides: the query run instead of `sql` when the dataset runs on that engine
   * (from `datasets/x.spark.sql` next to `x.sql`, or given here). Needs `sql`.
   */
  sqlByEngine?: Partial<Record<EngineName, string>>;
}

/** The SQL `ds` runs on `engine`: its override for that engine (`sqlByEngine`), else `sql` (undefined for a source). */
export function sqlFor(ds: Pick<DatasetDefinition, 'sql' | 'sqlByEngine'>, engine: string): string | undefined {
  return (isEngineName(engine) ? ds.sqlByEngine?.[engine] : undefined) ?? ds.sql;
}


const identifier = /^[a-z_][a-z0-9_]*$/;

/** A tag: lower_snake_case or kebab-case words (`daily`, `finance_eu`, `end-of-month`). */
export const TAG_PATTERN = /^[a-z][a-z0-9]*(?:[_-][a-z0-9]+)*$/;

/** What `TAG_PATTERN` allows, for error messages. */
export const TAG_RULE = 'tags are lower_snake_case or kebab-case words (daily, finance_eu, end-of-month)';

export const expectationSchema = z
  .object({
    name: z.string().regex(identifier, 'expectation names are lower_snake_case'),
    condition: z.string().min(1),
    action: z.enum(['warn', 'drop', 'quarantine', 'fail']),
    scope: z.enum(['row', 'batch']).optional(),
  })
  .refine((e) => e.scope !== 'batch' || e.action === 'warn' || e.action === 'fail', {
    message: 'a batch expectation (row count, freshness) can only warn or fail: it has no rows to drop or quarantine',
    path: ['action'],
  });

export const datasetSchema = z
  .object({
    name: z.string().regex(/^[a-z_][a-z0-9_]*\.[a-z_][a-z0-9_]*$/, 'dataset names are layer.table in lower_snake_case'),
    description: z.string().optional(),
    columns: z.record(z.string().min(1), z.string().min(1, 'a column description is a non-empty text')).optional(),
    tags: z.array(z.string().regex(TAG_PATTERN, { error: (iss) => `"${String(iss.input)}": ${TAG_RULE}, separated by commas in a .sql file` })).optional(),
    sql: z.string().min(1).optional(),
    source: sourceSchema.optional(),
    landing: z.string().min(1).optional(),
    materialization: z.enum(['append', 'overwrite', 'replace partition', 'merge', 'apply changes']).default(DEFAULT_MATERIALIZATION),
    partitionBy: z.array(z.string().regex(identifier)).optional(),
    grain: z.enum(['hour', 'day', 'month', ...MINUTE_GRAINS]).optional(),
    incremental: z.boolean().optional(),
    tableProperties: z.record(z.string().regex(/^[A-Za-z_][A-Za-z0-9_.-]*$/, 'a table property name is letters, digits, _ . - (e.g. delta.enableChangeDataFeed)'), z.string()).optional(),
    key: z.array(z.string().min(1)).min(1).optional(),
    orderBy: z.string().min(1).optional(),
    mergeUpdate: z.record(z.string().min(1), z.string().trim().min(1, 'a merge update is a non-empty SQL expression')).refine((o) => Object.keys(o).length > 0, 'mergeUpdate needs at least one column').optional(),
    changes: z.object({
      sequenceBy: z.string().min(1),
      deleteWhen: z.string().min(1).optional(),
      scdType: z.union([z.literal(1), z.literal(2)]).optional(),
      exceptColumns: z.array(z.string().min(1)).optional(),
      insertOnly: z.array(z.string().min(1)).optional(),
      ignoreNullUpdates: z.boolean().optional(),
    }).strict().optional(),
    expectations: z.array(expectationSchema).optional(),
    schema: z.record(z.string(), z.string().min(1)).optional(),
    extraColumns: z.enum(['fail', 'drop', 'allow']).optional(),
    onSchemaChange: z.enum(['fail', 'quarantine']).optional(),
    engine: engineNameSchema.optional(),
    sqlByEngine: z.record(z.string(), z.string().min(1)).superRefine((o, ctx) => {
      for (const k of Object.keys(o)) {
        if (!(ENGINE_NAMES as readonly string[]).includes(k)) ctx.addIssue({ code: 'custom', path: [k], message: `unknown engine "${k}" (known: ${ENGINE_NAMES.join(', ')})` });
      }
    }).optional(),
    exports: z.object({
      file: z.string().regex(/\.(csv|parquet)$/, 'an export file is a .csv or .parquet path').optional(),
      postgres: z.object({ connection: z.string().min(1), table: z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)?$/, 'schema.table or table') }).strict().optional(),
    }).strict().optional(),
  })
  .strict()
  .refine((d) => (d.key !== undefined) === (d.materialization === 'merge' || d.materialization === 'apply changes'), {
    message: "materializations 'merge' and 'apply changes' need key (and only they take one)",
    path: ['key'],
  })
  .refine((d) => (d.changes !== undefined) === (d.materialization === 'apply changes'), {
    message: "materialization 'apply changes' needs changes: { sequenceBy } (and only it takes changes)",
    path: ['changes'],
  })
  .refine((d) => d.orderBy === undefined || d.materialization === 'merge', { message: "orderBy is for materialization 'merge'", path: ['orderBy'] })
  .refine((d) => d.mergeUpdate === undefined || d.materialization === 'merge', { message: "mergeUpdate (WHEN MATCHED THEN UPDATE SET) is for materialization 'merge'", path: ['mergeUpdate'] })
  .refine((d) => !Object.keys(d.mergeUpdate ?? {}).some((c) => d.key?.includes(c)), { message: 'mergeUpdate cannot set a key column (a matched row keeps its key)', path: ['mergeUpdate'] })
  .refine((d) => !d.changes?.exceptColumns?.some((c) => d.key?.includes(c) || ((d.changes?.scdType ?? 1) === 1 && c === d.changes?.sequenceBy)), {
    message: 'exceptColumns cannot hold a key column, nor (SCD type 1, which compares sequences with the table) the sequenceBy column',
    path: ['changes', 'exceptColumns'],
  })
  .refine((d) => !d.changes?.insertOnly?.length || ((d.changes.scdType ?? 1) === 1 && !d.changes.insertOnly.some((c) => d.key?.includes(c) || c === d.changes?.sequenceBy || d.changes?.exceptColumns?.includes(c))), {
    message: 'insertOnly is for SCD type 1 and cannot hold a key, the sequenceBy or an except column',
    path: ['changes', 'insertOnly'],
  })
  .refine((d) => !d.changes?.ignoreNullUpdates || (d.changes.scdType ?? 1) === 1, {
    message: 'ignoreNullUpdates is for SCD type 1',
    path: ['changes', 'ignoreNullUpdates'],
  })
  .refine((d) => (d.sql === undefined) !== (d.source === undefined), { message: 'give exactly one of sql and source' })
  .refine((d) => d.sqlByEngine === undefined || d.sql !== undefined, { message: 'SQL overrides (sqlByEngine) need sql: a dataset with a source runs on DuckDB', path: ['sqlByEngine'] })
  .refine((d) => d.landing === undefined || d.source !== undefined, { message: 'landing needs a source', path: ['landing'] })
  .refine((d) => d.materialization !== 'replace partition' || (d.partitionBy?.length ?? 0) > 0, {
    message: "materialization 'replace partition' needs partitionBy",
    path: ['partitionBy'],
  })
  .refine((d) => !d.incremental || (d.sql !== undefined && ['append', 'merge', 'apply changes'].includes(d.materialization)), {
    message: "incremental reads its upstream tables' new rows: it needs sql and materialization 'append', 'merge' or 'apply changes'",
    path: ['incremental'],
  })
  .refine((d) => d.source?.kind !== 'postgres' || d.source.cursor === undefined || d.materialization === 'append', {
    message: 'an incremental postgres source (cursor) needs materialization append',
    path: ['materialization'],
  });

/** What `dataset()` takes: a definition whose `materialization` may be left out (`overwrite`). */
export type DatasetInput = Omit<DatasetDefinition, 'materialization'> & { materialization?: Materialization };

/**
 * Declares a dataset (gives type checking in `datasets/*.ts`): the definition, with the default
 * materialization (`overwrite`) filled in when it has none.
 */
export function dataset(definition: DatasetInput): DatasetDefinition {
  return { ...definition, materialization: definition.materialization ?? DEFAULT_MATERIALIZATION };
}
