import { ROW_FILE, type Engine } from '../engine/engine.js';
import { discardFiles, writeDataFiles } from './stage.js';
import type { Add } from '../table/actions.js';
import { filtersToSql, type Filter } from '../table/filter.js';
import type { DeltaTable } from '../table/table.js';
import { attachTarget, columnList, commitRewrite, fileList, TARGET, unchanged, writableSnapshot, type OperationResult } from './rewrite.js';

/** Default target file size of optimize: 256 MiB, as ingot writes (`delta.targetFileSize` overrides). */
const DEFAULT_TARGET_SIZE = 256 * 1024 * 1024;

/** Options of `optimize`. */
export interface OptimizeOptions {
  /** Bytes; files at least this big are left alone. Default `delta.targetFileSize` or 256 MiB. */
  targetSize?: number;
  /** Only compact partitions matching these filters (partition columns). */
  where?: Filter[];
}

/**
 * The OPTIMIZE operation (bin-packing compaction): within each partition, files smaller than the
 * target size are packed into bins of up to that size, and each bin with two or more files is
 * rewritten as one file. Files with a deletion vector are rewritten whatever their size (alone
 * if need be) without their deleted rows, which purges the deletion vector. The commit's adds and removes carry `dataChange: false`, so streaming
 * readers and conflict detection know no row changed. Metrics: numFilesAdded, numFilesRemoved,
 * numBatches (bins rewritten), numDeletionVectorsRemoved. Errors: PROTOCOL_UNSUPPORTED, COMMIT_CONFLICT (a concurrent
 * commit removed a file being compacted).
 */
export async function optimize(table: DeltaTable, engine: Engine, options: OptimizeOptions = {}): Promise<OperationResult> {
  const snapshot = await writableSnapshot(table);
  const configured = Number(snapshot.metadata.configuration?.['delta.targetFileSize']);
  const target = options.targetSize ?? (configured > 0 ? configured : DEFAULT_TARGET_SIZE);
  const partitions = new Map<string, Add[]>();
  for (const add of snapshot.scan(options.where ?? [])) {
    if (add.size >= target && !add.deletionVector) continue;
    const key = JSON.stringify(snapshot.partitionColumns.map((c) => add.partitionValues[c] ?? null));
    partitions.set(key, [...(partitions.get(key) ?? []), add]);
  }
  const bins: Add[][] = [];
  for (const files of partitions.values()) {
    let bin: Add[] = [];
    let size = 0;
    for (const add of files.sort((a, b) => a.size - b.size)) {
      if (bin.length > 0 && size + add.size > target) {
        bins.push(bin);
        bin = [];
        size = 0;
      }
      bin.push(add);
      size += add.size;
    }
    bins.push(bin);
  }
  // a file with a deletion vector is rewritten even alone: optimize purges deleted rows
  const work = bins.filter((b) => b.length > 1 || b.some((a) => a.deletionVector));
  if (work.length === 0) return unchanged(snapshot, { numBatches: 0 });
  const byFile = await attachTarget(engine, table, snapshot, work.flat());
  const pathOf = new Map([...byFile].map(([abs, add]) => [add, abs]));
  const added = [];
  try {
    for (const bin of work) {
      const files = await writeDataFiles(engine, table, `SELECT ${columnList(snapshot)} FROM ${TARGET} WHERE ${ROW_FILE} IN (${fileList(bin.map((a) => pathOf.get(a)!))})`, {
        partitionColumns: snapshot.partitionColumns,
        schema: snapshot.schema,
        targetFileSize: target,
      });
      added.push(...files);
    }
  } catch (err) {
    await discardFiles(table, added.map((f) => f.path));
    throw err;
  }
  return commitRewrite(table, snapshot, {
    removed: work.flat(),
    added,
    operation: 'OPTIMIZE',
    parameters: { predicate: JSON.stringify(options.where?.length ? [filtersToSql(options.where)] : []), targetSize: String(target) },
    metrics: { numBatches: work.length, numFilesAdded: added.length, numFilesRemoved: work.flat().length, numDeletionVectorsRemoved: work.flat().filter((a) => a.deletionVector).length },
    dataChange: false,
    readPredicate: 'removed files only',
  });
}
