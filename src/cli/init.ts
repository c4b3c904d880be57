import * as path from 'node:path';
import { Option, type Command } from 'commander';
import type { Io } from './io.js';

/**
 * `ingot init [dir]`: writes a new project (`initProject` in `src/pipeline/scaffold.ts`) and says
 * what to run next.
 */
export function addInitCommand(program: Command, io: Io): void {
  program
    .command('init [dir]')
    .description('start a project: package.json, ingot.config.ts, example datasets over a CSV seed, a unit test, a README')
    .addOption(new Option('-t, --template <name>', 'flights: bronze/silver/gold over a small CSV seed; empty: configuration only').choices(['flights', 'empty']).default('flights'))
    .option('--ingot <spec>', 'the ingot dependency in package.json (default: file: this ingot\'s folder, installed without a download)')
    .option('--force', 'write into a folder that already holds files (replacing none)')
    .action(async (dir: string | undefined, opts: { template: 'flights' | 'empty'; ingot?: string; force?: boolean }) => {
      const { initProject } = await import('../pipeline/scaffold.js');
      const result = await initProject(dir ?? '.', opts);
      const rel = dir === undefined || path.resolve(dir) === process.cwd() ? '.' : dir;
      io.out(`wrote ${result.files.length} files to ${result.dir} (template ${opts.template}; ingot: ${result.ingot})`);
      for (const f of result.files) io.out(`  ${f}`);
      io.out('');
      io.out(`next:  ${rel === '.' ? '' : `cd ${rel} && `}npm install && npx ingot run${opts.template === 'flights' ? ' && npx ingot sql "SELECT * FROM gold.route_delays"' : ''}`);
    });
}
