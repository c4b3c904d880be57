import * as path from 'node:path';
import { Option, type Command } from 'commander';
import type { UnitTestResult } from '../run/unit/unit-test.js';
import { duration } from './format.js';
import type { Io } from './io.js';

/**
 * `ingot test [-p DIR] [--select ...] [--exclude ...]`: runs the unit tests of the project's
 * datasets (`*.test.yaml` files, see `src/run/unit/test-file.ts`), printing each test as it
 * ends (✓ passed, ✗ failed with its row diff, ! error) and a summary. `fail()` sets the exit
 * code to 1 when a test failed or had an error, or none was found.
 */
export function addTestCommand(program: Command, io: Io, fail: () => void): void {
  program
    .command('test')
    .description('run the unit tests of datasets (*.test.yaml next to them): given rows in, expected rows out, no lake')
    .addOption(new Option('-p, --project <dir>', 'project folder (with ingot.config.ts)').default('.'))
    .option('-s, --select <selector...>', "test only these datasets (dbt's grammar: x, x+, +x, layer.*, tag:t)")
    .option('--exclude <selector...>', 'datasets not to test (same grammar)')
    .action(async (opts: { project: string; select?: string[]; exclude?: string[] }) => {
      const [{ loadProject }, { runUnitTests }, { parseSelectorArgs }] = await Promise.all([
        import('../project.js'), import('../run/unit/suite.js'), import('../plan/selector.js'),
      ]);
      const select = parseSelectorArgs(opts.select);
      const exclude = parseSelectorArgs(opts.exclude);
      const project = await loadProject(opts.project);
      const summary = await runUnitTests(project, { ...(select ? { select } : {}), ...(exclude ? { exclude } : {}), onResult: (r) => io.out(formatResult(r, project.dir)) });
      const count = (s: UnitTestResult['status']): number => summary.results.filter((r) => r.status === s).length;
      const [passed, failed, errors] = [count('passed'), count('failed'), count('error')];
      if (summary.results.length === 0) {
        io.err(summary.files.length === 0 ? `no unit tests: no *.test.yaml file under ${project.dir}` : 'no unit test of the selected datasets');
        fail();
        return;
      }
      io.out(`${summary.results.length} test${summary.results.length === 1 ? '' : 's'} in ${summary.files.length} file${summary.files.length === 1 ? '' : 's'}: ${passed} passed, ${failed} failed, ${errors} error${errors === 1 ? '' : 's'} (${duration(summary.ms)})`);
      if (failed + errors > 0) fail();
    });
}

/** One result as `ingot test` prints it: a line, then the diff or error indented. */
export function formatResult(r: UnitTestResult, projectDir: string): string {
  const mark = r.status === 'passed' ? '✓' : r.status === 'failed' ? '✗' : '!';
  const file = path.relative(projectDir, r.test.file) || r.test.file;
  const what = r.test.dataset ? ` (${r.test.dataset}${r.test.date ? ` @ ${r.test.date}` : ''})` : '';
  const head = `${mark} ${file} › ${r.test.name}${what} ${r.ms} ms`;
  const body = r.status === 'error' ? r.lines.map((l) => `error [${r.error?.code ?? 'TEST_INVALID'}]: ${l}`) : r.lines;
  return [head, ...body.map((l) => `    ${l}`)].join('\n');
}
