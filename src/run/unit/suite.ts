import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { openLocalEngine } from '../../engine/registry.js';
import { IngotError } from '../../errors.js';
import { buildGraph } from '../../pipeline/graph.js';
import type { Project } from '../../pipeline/project.js';
import { selectableNodes, selectDatasets } from '../../plan/selector.js';
import { findTestFiles, readTestFile, type UnitTest } from './test-file.js';
import { runUnitTest, type UnitTestResult } from './unit-test.js';
import { upstreamTypes } from './upstream-types.js';

/** Options of `runUnitTests`. */
export interface UnitTestOptions {
  /** Selectors (dbt's grammar, `src/plan/selector.ts`): only the tests of the datasets they select run. */
  select?: string[];
  exclude?: string[];
  /** Called with each result as it is known. */
  onResult?: (result: UnitTestResult) => void;
}

/** What `runUnitTests` did. */
export interface UnitTestSummary {
  /** The test files found under the project folder. */
  files: string[];
  results: UnitTestResult[];
  /** Wall time of the whole suite, milliseconds. */
  ms: number;
}

/**
 * `ingot test`: finds every `*.test.yaml` under the project folder (not in the lake, dot folders
 * or `node_modules`), keeps the tests of the selected datasets, and runs each (`runUnitTest`) on
 * one in-process engine over the given rows only: no lake, no source is read. A file that cannot
 * be parsed is one `error` result. Errors (thrown): those of building the graph (DATASET_UNKNOWN,
 * GRAPH_CYCLE...), SELECTOR_INVALID, SELECTION_EMPTY.
 */
export async function runUnitTests(project: Project, options: UnitTestOptions = {}): Promise<UnitTestSummary> {
  const t0 = performance.now();
  const files = await findTestFiles(project.dir, [project.lake]);
  const engine = await openLocalEngine({ threads: 1 });
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'ingot-test-'));
  const results: UnitTestResult[] = [];
  const report = (r: UnitTestResult): void => {
    results.push(r);
    options.onResult?.(r);
  };
  try {
    const graph = await buildGraph(project.datasets, (sql) => engine.references(sql), () => engine.dialect);
    const selected = options.select?.length || options.exclude?.length
      ? selectDatasets(selectableNodes(graph), { select: options.select, exclude: options.exclude })
      : undefined;
    const tests: UnitTest[] = [];
    for (const file of files) {
      try {
        const read = await readTestFile(file);
        tests.push(...read.tests);
        for (const x of read.invalid) report({ test: { file, line: x.line, name: x.name, dataset: '' }, status: 'error', ms: 0, lines: [x.error.message], error: x.error });
      } catch (err) {
        if (!(err instanceof IngotError)) throw err;
        report({ test: { file, line: err.context.row ?? 1, name: '(file)', dataset: '' }, status: 'error', ms: 0, lines: [err.message], error: err });
      }
    }
    const types = await upstreamTypes(graph, engine, dir);
    let index = 0;
    for (const t of tests) {
      if (selected && !selected.has(t.dataset)) continue;
      report(await runUnitTest(t, { project, graph, engine, dir, types }, index++));
    }
  } finally {
    await engine.close();
    await fs.rm(dir, { recursive: true, force: true });
  }
  return { files, results, ms: Math.round(performance.now() - t0) };
}
