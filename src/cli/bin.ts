#!/usr/bin/env node
// The `ingot` executable. `ingot --version` answers before the command line (commander and every
// command's module) loads; everything else goes through `main`.
const argv = process.argv.slice(2);

if (argv.length === 1 && (argv[0] === '--version' || argv[0] === '-V')) {
  const { VERSION } = await import('../version.js');
  process.stdout.write(VERSION + '\n');
} else {
  // `ingot ... | head` closes the pipe early: that is not an error.
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') process.exit(process.exitCode ?? 0);
    throw err;
  });
  const { main } = await import('./main.js');
  process.exitCode = await main(argv);
}
