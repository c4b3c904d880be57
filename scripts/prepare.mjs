// npm's `prepare`: builds dist/ when ingot's own folder is installed (`npm ci`, `npm install`,
// `npm pack` there). When another project installs this folder as a `file:` link (as projects
// made by `ingot init` do), npm runs `prepare` here too, from that project (INIT_CWD): the
// package is used as it is, built, so nothing is built then (the build tools are dev dependencies).
import { execSync } from 'node:child_process';
import process from 'node:process';
import { existsSync } from 'node:fs';
import * as path from 'node:path';

const here = process.cwd();
const from = process.env.INIT_CWD ? path.resolve(process.env.INIT_CWD) : here;
if (from !== here) {
  if (!existsSync(path.join(here, 'dist', 'cli', 'bin.js'))) {
    process.stderr.write(`ingot at ${here} is not built: run "npm run build" there\n`);
    process.exit(1);
  }
} else {
  execSync('npm run build', { stdio: 'inherit' });
}
