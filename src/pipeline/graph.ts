import { IngotError } from '../errors.js';
import type { Dialect } from '../engine/dialect.js';
import { sqlFor } from './definition.js';
import type { LoadedDataset } from './project.js';
import { renderSql } from './template.js';

/** A dataset with the datasets it reads (from its SQL and its expectations). */
export interface DatasetNode {
  dataset: LoadedDataset;
  dependsOn: string[];
  /** Exact tables it reads (datasets and their `_quarantine` tables). */
  reads: string[];
}

/** The dataset graph, in dependency order (a dataset after everything it reads; ties by name). */
export interface DatasetGraph {
  order: DatasetNode[];
  get(name: string): DatasetNode | undefined;
}

/** Suffix of the table that receives a dataset's quarantined rows. */
export const QUARANTINE_SUFFIX = '_quarantine';

/**
 * Builds the graph from the table references in each dataset's SQL and expectation conditions,
 * as found by `references` (an engine's SQL parser), each read as the engine `dialectOf` the
 * dataset runs it: its override for that engine, portable functions rewritten.
 * Errors: DATASET_UNKNOWN naming the dataset and the unknown table; GRAPH_CYCLE naming the cycle;
 * DATASET_INVALID for SQL the engine cannot parse.
 */
export async function buildGraph(
  datasets: LoadedDataset[],
  references: (sql: string, dataset: LoadedDataset) => Promise<string[]>,
  dialectOf: (dataset: LoadedDataset) => Dialect,
): Promise<DatasetGraph> {
  const byName = new Map(datasets.map((d) => [d.name, d]));
  const nodes = new Map<string, DatasetNode>();
  for (const d of datasets) {
    const sqls: { sql: string; expectation: boolean }[] = [];
    // a bounded interval: every engine's parser takes its dates
    const ctx = { interval: { start: '2000-01-01', end: '2000-01-02' }, logicalDate: '2000-01-01', runId: 'graph', dialect: dialectOf(d) };
    const sql = sqlFor(d, ctx.dialect.name);
    if (sql) sqls.push({ sql: renderSql(sql, ctx, d.name), expectation: false });
    for (const e of d.expectations ?? []) sqls.push({ sql: `SELECT * FROM __rows WHERE ${renderSql(e.condition, ctx, d.name)}`, expectation: true });
    const deps = new Set<string>();
    const reads = new Set<string>();
    for (const { sql, expectation } of sqls) {
      let refs: string[];
      try {
        refs = await references(sql, d);
      } catch (err) {
        throw new IngotError('DATASET_INVALID', `${d.file}: ${d.name}: ${(err as Error).message}`, { dataset: d.name, file: d.file }, { cause: err });
      }
      for (const ref of refs) {
        const owner = ref.endsWith(QUARANTINE_SUFFIX) && byName.has(ref.slice(0, -QUARANTINE_SUFFIX.length)) ? ref.slice(0, -QUARANTINE_SUFFIX.length) : ref;
        if (!byName.has(owner)) {
          throw new IngotError('DATASET_UNKNOWN', `${d.name} (${d.file}) reads ${ref}, which is not a dataset of this project (known: ${[...byName.keys()].sort().join(', ')})`, { dataset: d.name, table: ref, file: d.file });
        }
        // an expectation may read the dataset's committed table ({{this}}); its query may not
        if (owner === d.name && ref === d.name && !expectation) {
          throw new IngotError('GRAPH_CYCLE', `${d.name} reads itself`, { dataset: d.name });
        }
        if (owner !== d.name) deps.add(owner);
        reads.add(ref);
      }
    }
    nodes.set(d.name, { dataset: d, dependsOn: [...deps].sort(), reads: [...reads].sort() });
  }

  const order: DatasetNode[] = [];
  const state = new Map<string, 'visiting' | 'done'>();
  const visit = (name: string, trail: string[]): void => {
    const s = state.get(name);
    if (s === 'done') return;
    if (s === 'visiting') {
      const cycle = [...trail.slice(trail.indexOf(name)), name];
      throw new IngotError('GRAPH_CYCLE', `datasets form a cycle: ${cycle.join(' → ')}`, { dataset: name });
    }
    state.set(name, 'visiting');
    for (const dep of nodes.get(name)!.dependsOn) visit(dep, [...trail, name]);
    state.set(name, 'done');
    order.push(nodes.get(name)!);
  };
  for (const name of [...nodes.keys()].sort()) visit(name, []);
  return { order, get: (name) => nodes.get(name) };
}
