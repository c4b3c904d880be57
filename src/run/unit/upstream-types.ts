import * as path from 'node:path';
import type { LocalEngine } from '../../engine/registry.js';
import { sqlFor } from '../../pipeline/definition.js';
import type { DatasetGraph } from '../../pipeline/graph.js';
import { renderSql } from '../../pipeline/template.js';
import { attachRows, declaredColumns, rowsSql } from './fixture.js';

/**
 * The columns each dataset of `graph` is known to have, with their SQL types, for typing the
 * rows a unit test gives for it: a source's declared columns (see `declaredColumns`; for probing
 * its readers also its `{column}` path values, DATE unless declared); an SQL dataset's output
 * columns as the engine describes its query over empty tables of the known columns of the tables
 * the query reads
 * (then its `schema` contract). A dataset whose columns cannot be known that way (an undeclared
 * source upstream, a query that does not describe) is absent: tests give its rows typed by their
 * values. Attaches empty relations under the datasets' names (the tests attach theirs after).
 */
export async function upstreamTypes(graph: DatasetGraph, engine: LocalEngine, dir: string): Promise<Map<string, Record<string, string>>> {
  const d = engine.dialect;
  const known = new Map<string, Record<string, string>>();
  const probing = new Map<string, Record<string, string>>();
  const place = { where: 'upstream types', what: 'probe' };
  for (const node of graph.order) {
    const ds = node.dataset;
    if (ds.source) {
      const declared = declaredColumns(ds, d);
      known.set(ds.name, declared);
      // only lineage columns known (a source read as it comes): not enough to describe its readers
      if (Object.keys(declared).every((c) => c.startsWith('_'))) continue;
      const where = (ds.source as { path?: string; member?: string }).path ?? (ds.source as { member?: string }).member ?? '';
      const fromPath = Object.fromEntries([...where.matchAll(/\{([a-z_][a-z0-9_]*)\}/g)].map((m) => [m[1]!, d.typeName('date')]));
      probing.set(ds.name, { ...fromPath, ...declared });
      continue;
    }
    const sql = sqlFor(ds, d.name);
    if (!sql) continue;
    try {
      const rendered = renderSql(sql, { interval: { start: '2000-01-01', end: '2000-01-02' }, logicalDate: '2000-01-01', runId: 'types', dialect: d }, ds.name);
      // the tables its query reads (its expectations' do not shape its rows)
      const reads = await engine.references(rendered);
      if (reads.some((r) => !probing.has(r))) continue;
      for (const r of reads) {
        const cols = probing.get(r)!;
        await attachRows(engine, r, rowsSql(engine, [], Object.keys(cols), cols, place), path.join(dir, 'types'), place);
      }
      const schema = await engine.describe(rendered);
      const cols = { ...Object.fromEntries(schema.fields.map((f) => [f.name, d.typeName(f.type)])), ...(ds.schema ?? {}) };
      known.set(ds.name, cols);
      probing.set(ds.name, cols);
    } catch {
      // not known: tests type its rows from their values
    }
  }
  return known;
}
