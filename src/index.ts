/**
 * ingot: lakehouse pipelines in TypeScript. Public API.
 */
export { dataset, files, postgres } from './pipeline/definition.js';
export type { DatasetDefinition, Expectation, ExpectationAction, FilesSource, Grain, Materialization, PostgresSource, Source } from './pipeline/definition.js';
export { defineConfig } from './pipeline/config.js';
export type { ProjectConfig } from './pipeline/config.js';
export { loadProject } from './pipeline/project.js';
export type { Project } from './pipeline/project.js';
export { Runner } from './run/runner.js';
export type { RunEvent } from './run/runner.js';
export type { DatasetResult, ExpectationResult, RunResult } from './run/result.js';
export { Lake, queryLake, stageWrite } from './lake.js';
export { DeltaTable } from './table/table.js';
export { Snapshot } from './table/snapshot.js';
export { planWrite } from './table/write.js';
export { deleteRows } from './table/operations/delete.js';
export type { DeleteOptions } from './table/operations/delete.js';
export { updateRows } from './table/operations/update.js';
export type { UpdateOptions } from './table/operations/update.js';
export { merge } from './table/operations/merge.js';
export type { InsertClause, MatchedClause, MergeOptions } from './table/operations/merge.js';
export { optimize } from './table/operations/optimize.js';
export type { OptimizeOptions } from './table/operations/optimize.js';
export { restore } from './table/operations/restore.js';
export type { RestoreTarget } from './table/operations/restore.js';
export { vacuum } from './table/operations/vacuum.js';
export type { VacuumOptions, VacuumResult } from './table/operations/vacuum.js';
export type { OperationResult } from './table/operations/rewrite.js';
export type { DataFile, WriteMode, WriteOptions } from './table/write.js';
export type { Filter } from './table/filter.js';
export { LocalStore } from './storage/local.js';
export { S3Store } from './storage/s3.js';
export { openStore } from './storage/open.js';
export type { LocalStaging, ObjectStore } from './storage/store.js';
export { DuckDBEngine } from './engine/duckdb/engine.js';
export type { Engine, EngineSettings } from './engine/engine.js';
export { IngotError } from './errors.js';
export { main } from './cli/main.js';
