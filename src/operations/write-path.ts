import type { Engine, TableScan } from '../engine/engine.js';
import { scanOf } from './scan.js';
import { stageWrite } from './stage.js';
import { filtersToSql, type Filter } from '../table/filter.js';
import { prepareMerge, type MergeOptions } from './merge.js';
import { prepareRewrite } from './rewrite.js';
import type { StructType } from '../table/schema.js';
import type { Snapshot } from '../table/snapshot.js';
import type { DeltaTable, PreparedCommit } from '../table/table.js';
import { domainActions, withRebases, type DomainWrite, type WriteMode } from '../table/write.js';

/**
 * How an engine's output reaches a Delta table, chosen once per engine (`writePathOf`): either
 * the engine writes Parquet data files and ingot's table layer commits them later (`staged`:
 * the commit is prepared now and committed when the whole run succeeded), or the engine
 * commits through its own Delta implementation at once (`committed`). Nothing else in ingot
 * asks which kind of engine it has.
 */
export interface WritePath {
  /** What the engine needs to read `snapshot` of `table` (local files with deletion vectors, or the table's location and version). */
  scan(table: DeltaTable, snapshot: Snapshot): Promise<TableScan>;
  /** The engine reads committed versions only: a table the run staged must be committed before the engine reads it. */
  readonly readsCommittedOnly: boolean;
  /** Writes the rows of `request.sql` into the table as `request.mode` says. */
  write(request: WriteRequest): Promise<WriteOutcome>;
  /** Merges `merge.source`'s rows into the table (Delta MERGE); the table exists (`request.base`). */
  merge(request: MergeRequest): Promise<WriteOutcome>;
}

/** What both kinds of write need to know. */
export interface WriteBasics {
  table: DeltaTable;
  /** The table as the write read it (undefined: it does not exist yet). */
  base: Snapshot | undefined;
  partitionBy: string[];
  /** The commit's Delta `txn` (idempotency of a run's retries). */
  txn: { appId: string; version: number };
  /** Recorded in commitInfo.operationParameters (run id, logical date). */
  parameters: Record<string, unknown>;
  /** Table properties the table's metadata must hold (`DatasetDefinition.tableProperties`): set when a write creates the table or finds them changed (an engine committing itself sets them as it can). */
  configuration?: Record<string, string>;
  /** Metadata domains committed with the rows (only an engine whose writes ingot commits can carry them: `stagesDomains`). */
  domainMetadata?: DomainWrite[];
}

/** A write of a query's rows. */
export interface WriteRequest extends WriteBasics {
  sql: string;
  /** Schema of the rows `sql` returns. */
  schema: StructType;
  mode: WriteMode;
  /** `replace`: the partitions replaced (the run's interval). */
  replaceWhere?: Filter[];
  /** Replace the table's schema and partitioning (a full refresh). */
  overwriteSchema?: boolean;
  /** Add the rows' new columns to the table (schema evolution). */
  mergeSchema?: boolean;
}

/** A MERGE into an existing table; `merge.mergeSchema` names the source columns that may join the table. */
export interface MergeRequest extends WriteBasics {
  merge: MergeOptions;
}

/**
 * The outcome of a write: `staged` (files written, commit prepared, `preview` the table after
 * it) or `committed` by the engine at `version` (undefined: the table already held the txn, so
 * nothing was written). `rows`: rows written (inserted or updated).
 */
export type WriteOutcome =
  | { kind: 'staged'; commit: PreparedCommit; preview: Snapshot; rows: number }
  | { kind: 'committed'; version: number | undefined; rows: number };

/** The write path of `engine`: `Engine.commit` present means it commits itself. */
export function writePathOf(engine: Engine): WritePath {
  return engine.commit ? engineCommits(engine) : stagedFiles(engine);
}

/** Whether the engine behind `path` has its writes committed by ingot (and can carry metadata domains with them). */
export function stagesDomains(path: WritePath): boolean {
  return !path.readsCommittedOnly;
}

function stagedFiles(engine: Engine): WritePath {
  return {
    readsCommittedOnly: false,
    scan: (table, snapshot) => scanOf(table, snapshot),
    async write(r) {
      const w = await stageWrite(engine, r.table, r.base, r.sql, {
        mode: r.mode, schema: r.schema, partitionBy: r.partitionBy, replaceWhere: r.replaceWhere, overwriteSchema: r.overwriteSchema,
        mergeSchema: r.mergeSchema, parameters: r.parameters, txn: r.txn, domainMetadata: r.domainMetadata, ...(r.configuration ? { configuration: r.configuration } : {}),
      });
      const rows = w.commit.actions.reduce((n, a) => n + ('add' in a && a.add.stats ? (JSON.parse(a.add.stats) as { numRecords: number }).numRecords : 0), 0);
      return { kind: 'staged', ...w, rows };
    },
    async merge(r) {
      const base = r.base!;
      const plan = await prepareMerge(r.table, engine, r.merge, base, r.txn);
      // a merge changing nothing still commits, with the run's txn, like an append of no rows
      const commit = plan.commit ?? prepareRewrite(base, { removed: [], added: [], operation: 'MERGE', parameters: { predicate: JSON.stringify(r.merge.on) }, metrics: plan.metrics, txn: r.txn }, r.table.location).commit;
      commit.operationParameters = { ...commit.operationParameters, ...r.parameters };
      if (r.domainMetadata?.length) {
        commit.actions.push(...domainActions(base, r.domainMetadata, r.table.location));
        Object.assign(commit, withRebases(r.domainMetadata));
      }
      const rows = (plan.metrics['numTargetRowsInserted'] ?? 0) + (plan.metrics['numTargetRowsUpdated'] ?? 0);
      return { kind: 'staged', commit, preview: base.apply(commit.actions, base.version + 1), rows };
    },
  };
}

function engineCommits(engine: Engine): WritePath {
  const commit = engine.commit!.bind(engine);
  return {
    readsCommittedOnly: true,
    // the engine reads the table itself, by location and version: nothing is copied
    scan: async (table, s) => ({ location: table.location, schema: s.schema, partitionColumns: s.partitionColumns, columnMapping: s.columnMapping, version: s.version, files: [] }),
    async write(r) {
      const done = await commit(r.sql, {
        table: r.table, mode: r.mode, ...(r.replaceWhere ? { replaceWhere: filtersToSql(r.replaceWhere) } : {}), partitionBy: r.partitionBy,
        mergeSchema: r.mergeSchema, overwriteSchema: r.overwriteSchema, txn: r.txn, parameters: r.parameters,
      });
      return { kind: 'committed', version: done?.version, rows: done?.rows ?? 0 };
    },
    async merge(r) {
      const { source, ...clauses } = r.merge;
      const done = await commit(source, { table: r.table, mode: 'merge', merge: clauses, partitionBy: r.partitionBy, txn: r.txn, parameters: r.parameters });
      return { kind: 'committed', version: done?.version, rows: done?.rows ?? 0 };
    },
  };
}
