import * as path from 'node:path';
import { Option, type Command } from 'commander';
import { IngotError } from '../errors.js';
import type { ExpectationResult } from '../metadata/records.js';
import type { Io } from './io.js';

/** Output formats of `ingot graph`. */
export type GraphFormat = 'text' | 'json' | 'dot' | 'mermaid';

/** One dataset of the graph as `ingot graph --format json` prints it. */
export interface GraphNode {
  dataset: string;
  materialization: string;
  partitionBy: string[];
  /** `source <kind>: <where>` or `sql <file relative to the project>`. */
  definedBy: string;
  dependsOn: string[];
  /**
   * Its expectations, each with the result of the dataset's latest task that checked them
   * (`failed`: rows, or 1 for a batch check, that failed; absent before any run).
   */
  expectations: { name: string; action: string; condition: string; last?: { failed: number; runId: string; logicalDate: string | null } }[];
}

/**
 * `ingot graph`: the datasets in dependency order with what each reads, as text, JSON, Graphviz
 * dot or a Mermaid flowchart. Expectations are marked passed (✓) or failed (✗ with the count)
 * only from a run's results (the latest task of the dataset that recorded them), unmarked before.
 */
export function addGraphCommand(program: Command, io: Io): void {
  program
    .command('graph')
    .description('show the datasets in dependency order with what each reads (and the latest result of each expectation)')
    .addOption(new Option('-p, --project <dir>', 'project folder (with ingot.config.ts)').default('.'))
    .addOption(new Option('-f, --format <format>', 'output format').choices(['text', 'json', 'dot', 'mermaid']).default('text'))
    .action(async (opts: { project: string; format: GraphFormat }) => {
      const nodes = await graphNodes(opts.project);
      io.out(renderGraph(nodes, opts.format));
    });
}

/** The graph of the project in `dir`, with each expectation's latest result from its metadata store. */
async function graphNodes(dir: string): Promise<GraphNode[]> {
  const [{ loadProject }, { Runner }, { openMetadata }] = await Promise.all([import('../project.js'), import('../run/runner.js'), import('../metadata/open.js')]);
  const project = await loadProject(dir);
  // the graph needs the engines (each dataset's references are parsed in its engine's SQL)
  const runner = await Runner.open(project);
  const graph = runner.graph;
  await runner.close();
  const store = await openMetadata(project);
  const latest = new Map<string, { results: ExpectationResult[]; runId: string; logicalDate: string | null }>();
  try {
    // tasks come oldest first: the last that checked anything wins
    for (const t of await store.tasks()) {
      if (t.expectations.length > 0) latest.set(t.dataset, { results: t.expectations, runId: t.run_id, logicalDate: t.logical_date });
    }
  } finally {
    await store.close();
  }
  return graph.order.map((node) => {
    const d = node.dataset;
    const where = d.source ? (d.source.kind === 'http' || d.source.kind === 'archive' ? d.source.url : d.source.kind === 'files' ? d.source.path : d.source.kind === 'dune' ? `query ${String(d.source.queryId)}` : d.source.table ?? 'query') : '';
    const last = latest.get(d.name);
    return {
      dataset: d.name, materialization: d.materialization, partitionBy: d.partitionBy ?? [],
      definedBy: d.source ? `source ${d.source.kind}: ${where}` : `sql ${path.relative(project.dir, d.file)}`,
      dependsOn: [...node.dependsOn],
      expectations: (d.expectations ?? []).map((e) => {
        const r = last?.results.find((x) => x.name === e.name);
        return { name: e.name, action: e.action, condition: e.condition, ...(r && last ? { last: { failed: r.failed, runId: last.runId, logicalDate: last.logicalDate } } : {}) };
      }),
    };
  });
}

/** The graph in `format`. Errors: CONFIG_INVALID for an unknown format. */
export function renderGraph(nodes: GraphNode[], format: GraphFormat): string {
  const id = (name: string): string => name.replace(/[^A-Za-z0-9_]/g, '_');
  switch (format) {
    case 'json':
      return JSON.stringify(nodes, null, 2);
    case 'dot':
      return ['digraph ingot {', '  rankdir=LR;', '  node [shape=box];',
        ...nodes.map((n) => `  "${n.dataset}" [label="${n.dataset}\\n${n.materialization}"];`),
        ...nodes.flatMap((n) => n.dependsOn.map((d) => `  "${d}" -> "${n.dataset}";`)), '}'].join('\n');
    case 'mermaid':
      return ['flowchart LR',
        ...nodes.map((n) => `  ${id(n.dataset)}["${n.dataset}<br/>${n.materialization}"]`),
        ...nodes.flatMap((n) => n.dependsOn.map((d) => `  ${id(d)} --> ${id(n.dataset)}`))].join('\n');
    case 'text': {
      const lines: string[] = [];
      for (const n of nodes) {
        lines.push(`${n.dataset}  [${n.materialization}${n.partitionBy.length ? ` by ${n.partitionBy.join(', ')}` : ''}]  ${n.definedBy}`);
        for (const dep of n.dependsOn) lines.push(`  ← ${dep}`);
        for (const e of n.expectations) {
          const mark = !e.last ? '·' : e.last.failed > 0 ? `✗ ${e.last.failed} failed` : '✓';
          const when = e.last ? ` (last checked ${e.last.logicalDate ?? 'by run'} ${e.last.logicalDate ? '' : e.last.runId})`.replace(/ +\)/, ')') : ' (not checked yet)';
          lines.push(`  ${mark} ${e.name} (${e.action}): ${e.condition}${when}`);
        }
      }
      return lines.join('\n');
    }
    default:
      throw new IngotError('CONFIG_INVALID', `unknown graph format ${String(format)}`);
  }
}
