import type { Engine, OutputColumnLineage } from '../engine/engine.js';
import { IngotError } from '../errors.js';
import { sqlFor } from './definition.js';
import type { LoadedDataset } from './project.js';
import { renderSql } from './template.js';

/**
 * Column-level lineage across a project's datasets: each SQL dataset's output columns as its
 * query's parse tree says (`Engine.lineage`, DuckDB's own parser), followed table by table down
 * to the datasets with a source, where lineage ends. Nothing is guessed: what a query's tree
 * cannot tie to a table column is carried as `unresolved`, in words.
 */

/** One column and where it comes from, transitively. */
export interface ColumnLineage {
  /** `layer.table.column`. */
  id: string;
  table: string;
  column: string;
  /** The column's description (`columns` of its dataset), when given. */
  description?: string;
  /**
   * `dataset`: computed by a dataset's SQL; `source`: a column of a dataset with a source (its
   * rows come from outside the lake: lineage ends here); `table`: a table of the lake that no
   * dataset defines (a quarantine table).
   */
  kind: 'dataset' | 'source' | 'table';
  /** The columns its value is computed from, each with its own lineage. */
  from: ColumnLineage[];
  /** What could not be followed at this column, in words. */
  unresolved: string[];
}

/** The engine calls lineage needs (the in-process engine: DuckDB). */
export type LineageEngine = Pick<Engine, 'references' | 'lineage' | 'dialect'>;

/**
 * Lineage of a project's columns. `tableColumns` gives the columns of a table that no SQL
 * dataset computes (a dataset with a source, a quarantine table): from its Delta schema in the
 * lake, undefined when it has none yet (then `SELECT *` over it is unresolved, and names read
 * from it alone resolve by name).
 */
export class ProjectLineage {
  private readonly byName: Map<string, LoadedDataset>;
  private readonly analyzed = new Map<string, Promise<OutputColumnLineage[]>>();
  private readonly known = new Map<string, string[] | undefined>();

  constructor(
    datasets: LoadedDataset[],
    private readonly engine: LineageEngine,
    private readonly tableColumns: (table: string) => Promise<string[] | undefined>,
  ) {
    this.byName = new Map(datasets.map((d) => [d.name, d]));
    if (!engine.lineage) throw new IngotError('PROTOCOL_UNSUPPORTED', `the ${engine.dialect.name} engine does not give column lineage`);
  }

  /** The dataset `name` (`layer.table`), or DATASET_UNKNOWN naming the known ones. */
  dataset(name: string): LoadedDataset {
    const d = this.byName.get(name);
    if (!d) throw new IngotError('DATASET_UNKNOWN', `${name} is not a dataset of this project (known: ${[...this.byName.keys()].sort().join(', ')})`, { dataset: name });
    return d;
  }

  /**
   * The direct lineage of each output column of SQL dataset `name` (for a dataset with a source:
   * its table's columns, each from nothing). Errors: DATASET_UNKNOWN; DATASET_INVALID naming the
   * file for SQL the parser refuses.
   */
  columns(name: string): Promise<OutputColumnLineage[]> {
    let p = this.analyzed.get(name);
    if (!p) {
      p = this.analyze(name);
      this.analyzed.set(name, p);
    }
    return p;
  }

  private async analyze(name: string): Promise<OutputColumnLineage[]> {
    const d = this.dataset(name);
    const sql = sqlFor(d, this.engine.dialect.name) ?? undefined;
    if (!sql) return ((await this.tableColumns(name)) ?? []).map((c) => ({ name: c, from: [], unresolved: [] }));
    const ctx = { interval: { start: '2000-01-01', end: '2000-01-02' }, logicalDate: '2000-01-01', runId: 'lineage', dialect: this.engine.dialect };
    const rendered = renderSql(sql, ctx, d.name);
    try {
      // the columns of every table the query reads, known before its tree is read
      for (const t of await this.engine.references(rendered)) {
        if (!this.known.has(t)) this.known.set(t, await this.columnsOfTable(t));
      }
      return await this.engine.lineage!(rendered, (t) => this.known.get(t));
    } catch (err) {
      if (err instanceof IngotError && err.code !== 'SQL_ERROR') throw err;
      throw new IngotError('DATASET_INVALID', `${d.file}: ${d.name}: ${(err as Error).message}`, { dataset: d.name, file: d.file }, { cause: err });
    }
  }

  /** The columns of table `t`: a SQL dataset's as its lineage names them (undefined when a star left them unknown), else the lake's. */
  private async columnsOfTable(t: string): Promise<string[] | undefined> {
    const d = this.byName.get(t);
    if (d && sqlFor(d, this.engine.dialect.name)) {
      const cols = await this.columns(t);
      return cols.some((c) => c.name.endsWith('*')) ? undefined : cols.map((c) => c.name);
    }
    return this.tableColumns(t);
  }

  /**
   * The lineage of `layer.table.column`, transitively down to the sources. Errors:
   * DATASET_UNKNOWN; COLUMN_UNKNOWN naming the dataset's columns.
   */
  async trace(id: string): Promise<ColumnLineage> {
    const m = /^([a-z_][a-z0-9_]*\.[a-z_][a-z0-9_]*)\.(.+)$/.exec(id);
    if (!m) throw new IngotError('COLUMN_UNKNOWN', `"${id}" is not layer.table.column`, { column: id });
    const [, table, column] = m as unknown as [string, string, string];
    const cols = await this.columns(this.dataset(table).name);
    if (!cols.some((c) => c.name === column)) {
      throw new IngotError('COLUMN_UNKNOWN', `${table} has no column ${column} (its columns: ${cols.map((c) => c.name).join(', ') || 'unknown before its table exists'})`, { dataset: table, column });
    }
    return this.node(table, column, new Set());
  }

  private async node(table: string, column: string, trail: Set<string>): Promise<ColumnLineage> {
    const id = `${table}.${column}`;
    const d = this.byName.get(table);
    const description = d?.columns?.[column];
    const base = { id, table, column, ...(description ? { description } : {}) };
    if (!d) return { ...base, kind: 'table', from: [], unresolved: [] };
    if (!sqlFor(d, this.engine.dialect.name)) return { ...base, kind: 'source', from: [], unresolved: [] };
    if (trail.has(id)) return { ...base, kind: 'dataset', from: [], unresolved: [`${id} reads itself`] };
    const own = (await this.columns(table)).find((c) => c.name === column);
    if (!own) return { ...base, kind: 'dataset', from: [], unresolved: [`${table} has no column ${column}`] };
    const next = new Set([...trail, id]);
    const from = await Promise.all(own.from.map((r) => this.node(r.table, r.column, next)));
    return { ...base, kind: 'dataset', from, unresolved: own.unresolved };
  }
}

/** The columns a lineage ends at: those of sources and of tables no dataset defines (sorted `layer.table.column`). */
export function sourcesOf(l: ColumnLineage): string[] {
  const out = new Set<string>();
  const walk = (n: ColumnLineage): void => {
    if (n.kind !== 'dataset') out.add(n.id);
    n.from.forEach(walk);
  };
  l.from.forEach(walk);
  return [...out].sort();
}

/** Whether anything in the lineage could not be followed. */
export function unresolvedIn(l: ColumnLineage): string[] {
  return [...l.unresolved.map((u) => `${l.id}: ${u}`), ...l.from.flatMap(unresolvedIn)];
}
