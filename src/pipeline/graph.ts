import { promises as fs } from 'node:fs';
import { IngotError } from '../errors.js';
import { closest } from './closest.js';
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
 * as found by `references` (an engine's SQL parser: `layer.table` names, and bare names for tables
 * named without a layer), each read as the engine `dialectOf` the dataset runs it: its override
 * for that engine, portable functions rewritten. Every name must be `layer.table` of a dataset of
 * the project (or its `_quarantine` table), so a misspelt or unqualified name fails here, before
 * anything runs.
 * Errors: DATASET_UNKNOWN naming the dataset, its file and the line naming the table, and the
 * closest dataset names; GRAPH_CYCLE naming the cycle; DATASET_INVALID for SQL the engine cannot parse.
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
        // the rows an expectation checks are `__rows`, not a table
        refs = (await references(sql, d)).filter((r) => !expectation || r !== EXPECTATION_ROWS);
      } catch (err) {
        throw new IngotError('DATASET_INVALID', `${d.file}: ${d.name}: ${(err as Error).message}`, { dataset: d.name, file: d.file }, { cause: err });
      }
      for (const ref of refs) {
        const owner = ref.endsWith(QUARANTINE_SUFFIX) && byName.has(ref.slice(0, -QUARANTINE_SUFFIX.length)) ? ref.slice(0, -QUARANTINE_SUFFIX.length) : ref;
        if (!byName.has(owner)) throw await unknownTable(d, ref, [...byName.keys()]);
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

/** The relation an expectation's condition reads its rows from (`planExpectations`). */
const EXPECTATION_ROWS = '__rows';

/**
 * DATASET_UNKNOWN for `ref`, a table `d` reads that is no dataset: its file and the first line of
 * that file naming it (in the query, else in a comment), and up to 3 closest dataset names.
 */
async function unknownTable(d: LoadedDataset, ref: string, known: string[]): Promise<IngotError> {
  const line = await lineNaming(d.file, ref);
  const where = line === undefined ? d.file : `${d.file}:${line}`;
  const near = closest(ref, known).join(', ');
  const what = ref.includes('.')
    ? `${ref}, which is not a dataset of this project`
    : `${ref}, a table without a layer: name tables layer.table`;
  return new IngotError('DATASET_UNKNOWN', `${where}: ${d.name} reads ${what} (closest: ${near || 'the project has no datasets'})`, { dataset: d.name, table: ref, file: d.file, ...(line !== undefined ? { row: line } : {}) });
}

/** The 1-based line of `file` that first names table `ref` (`layer.table` or a bare name, either part optionally "quoted"); undefined when none does. */
async function lineNaming(file: string, ref: string): Promise<number | undefined> {
  let text: string;
  try {
    text = await fs.readFile(file, 'utf8');
  } catch {
    return undefined;
  }
  const part = (p: string): string => `"?${p.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}"?`;
  const name = ref.split('.').map(part).join('\\s*\\.\\s*');
  // a bare name must not be the table part of a qualified one
  const pattern = new RegExp(`(?<![\\w.${ref.includes('.') ? '' : '"'}])${name}(?![\\w"])`, 'i');
  const lines = text.split('\n');
  // the query first; then comments, where `.sql` directives (`-- expect: relationships(...)`) are
  let index = lines.findIndex((l) => pattern.test(l.replace(/--.*$/, '')));
  if (index < 0) index = lines.findIndex((l) => pattern.test(l));
  return index < 0 ? undefined : index + 1;
}
