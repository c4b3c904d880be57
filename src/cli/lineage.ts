import { Option, type Command } from 'commander';
import type { ColumnLineage } from '../pipeline/lineage.js';
import type { Io } from './io.js';

/**
 * `ingot lineage layer.table.column [--format text|json]`: the upstream columns a column derives
 * from, transitively down to the sources, from each dataset's SQL parse tree (DuckDB's parser).
 * `layer.table` alone traces every column of the dataset. What cannot be followed is printed as
 * such (`? ...`), never guessed.
 */
export function addLineageCommand(program: Command, io: Io): void {
  program
    .command('lineage')
    .description('show the upstream columns a column derives from, down to the sources (layer.table.column, or layer.table for all its columns)')
    .argument('<column>', 'layer.table.column, or layer.table')
    .addOption(new Option('-p, --project <dir>', 'project folder (with ingot.config.ts)').default('.'))
    .addOption(new Option('-f, --format <format>', 'output format').choices(['text', 'json']).default('text'))
    .action(async (target: string, opts: { project: string; format: 'text' | 'json' }) => {
      const lineages = await projectLineage(opts.project, target);
      io.out(opts.format === 'json' ? JSON.stringify(lineages.length === 1 && target.split('.').length > 2 ? lineages[0] : lineages, null, 2) : lineages.map(renderLineage).join('\n\n'));
    });
}

/** Lineage with `sources` (the columns it ends at) and `unresolved` (everything not followed, anywhere). */
export type TracedColumn = ColumnLineage & { sources: string[]; unresolvedAnywhere: string[] };

/** The lineage of `target` (`layer.table.column`, or `layer.table`: each of its columns) in the project in `dir`. */
export async function projectLineage(dir: string, target: string): Promise<TracedColumn[]> {
  const [{ loadProject }, { openLocalEngine, localSettings }, { Lake }, { ProjectLineage, sourcesOf, unresolvedIn }] = await Promise.all([
    import('../project.js'), import('../engine/registry.js'), import('../table/lake.js'), import('../pipeline/lineage.js'),
  ]);
  const project = await loadProject(dir);
  const engine = await openLocalEngine(localSettings(project.config, project.dir));
  try {
    const lake = new Lake(project.lake, engine);
    const lineage = new ProjectLineage(project.datasets, engine, async (t) => (await lake.table(t).trySnapshot())?.schema.fields.map((f) => f.name));
    const ids = target.split('.').length > 2 ? [target] : (await lineage.columns(lineage.dataset(target).name)).map((c) => `${target}.${c.name}`);
    const out: TracedColumn[] = [];
    for (const id of ids) {
      const l = await lineage.trace(id);
      out.push({ ...l, sources: sourcesOf(l), unresolvedAnywhere: unresolvedIn(l) });
    }
    return out;
  } finally {
    await engine.close();
  }
}

/**
 * A lineage as text: the column, then each upstream column on its own line under `← `, indented
 * by depth, `[source]` where lineage ends, `? reason` where it could not be followed.
 */
export function renderLineage(l: TracedColumn): string {
  const lines: string[] = [];
  const walk = (n: ColumnLineage, depth: number): void => {
    const pad = '  '.repeat(depth);
    const mark = n.kind === 'source' ? '  [source]' : n.kind === 'table' ? '  [table]' : '';
    lines.push(`${pad}${depth > 0 ? '← ' : ''}${n.id}${mark}${n.description ? `  (${n.description})` : ''}`);
    if (n.kind === 'dataset' && n.from.length === 0 && n.unresolved.length === 0) lines.push(`${pad}  (derives from no column: a constant or a row count)`);
    for (const u of n.unresolved) lines.push(`${pad}  ? ${u}`);
    for (const f of n.from) walk(f, depth + 1);
  };
  walk(l, 0);
  lines.push(`sources: ${l.sources.join(', ') || 'none'}`);
  if (l.unresolvedAnywhere.length > 0) lines.push(`not resolved: ${l.unresolvedAnywhere.length} reference${l.unresolvedAnywhere.length > 1 ? 's' : ''} (marked ?)`);
  return lines.join('\n');
}
