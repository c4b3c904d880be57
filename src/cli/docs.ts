import * as path from 'node:path';
import { Option, type Command } from 'commander';
import type { Io } from './io.js';

/**
 * `ingot docs [-p DIR] [--out DIR]`: writes the project's static documentation site (an index
 * and one page per dataset, see `serve/docs-site.ts`) to `--out` (default `<project>/docs-site`),
 * to open from disk in a browser.
 */
export function addDocsCommand(program: Command, io: Io): void {
  program
    .command('docs')
    .description('write a static documentation site: one page per dataset (columns, expectations and pass rates, upstream, downstream, SQL)')
    .addOption(new Option('-p, --project <dir>', 'project folder (with ingot.config.ts)').default('.'))
    .option('-o, --out <dir>', 'folder to write the site to (default: <project>/docs-site)')
    .action(async (opts: { project: string; out?: string }) => {
      const [{ loadProject }, { writeDocsSite }] = await Promise.all([import('../project.js'), import('../serve/docs-site.js')]);
      const out = path.resolve(opts.out ?? path.join(opts.project, 'docs-site'));
      const pages = await writeDocsSite(await loadProject(opts.project), out);
      io.out(`wrote ${pages.length} pages to ${out}; open ${path.join(out, 'index.html')}`);
    });
}
