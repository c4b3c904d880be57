/**
 * `ingot serve`'s scheduler with a fixed schedule clock, for tests that kill it: opens the project
 * at `PROJECT`, runs the Scheduler with its clock at `NOW` (ISO instant; leases still expire in
 * real time) and its JSON log events on stderr, until SIGTERM.
 *
 * Run: `node --import tsx test/workers/scheduler-at.ts` with the environment variables above.
 */
import { loadProject } from '../../src/project.js';
import { Scheduler } from '../../src/schedule/scheduler.js';
import { openMetadata } from '../../src/metadata/open.js';
import { jsonLog } from '../../src/schedule/task-log.js';

const env = (name: string): string => {
  const v = process.env[name];
  if (v === undefined) throw new Error(`scheduler-at worker: ${name} is not set`);
  return v;
};

const project = await loadProject(env('PROJECT'));
const store = await openMetadata(project);
const now = new Date(env('NOW'));
const scheduler = new Scheduler(project, store, { now: () => now, tickMs: 100, log: jsonLog() });
process.on('SIGTERM', () => {
  void scheduler.stop(0).then(() => store.close()).then(() => process.exit(0));
});
scheduler.start();
