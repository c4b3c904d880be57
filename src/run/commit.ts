import { IngotError } from '../errors.js';
import type { Lake } from '../table/lake.js';
import { INTERVAL_DOMAIN } from '../plan/state.js';
import type { Action } from '../table/actions.js';
import type { StagedWrite } from './step/context.js';
import { timed } from './profile.js';

/**
 * Commits the write the run staged for table `name` (see `StagedWrite`) and returns its version
 * (a write the engine committed itself is returned as it is: its commit, Delta Lake's own, carries
 * no interval state, so the next plan runs its step again).
 *
 * Before committing, every upstream table the rows were computed from is checked: a commit to it
 * after the version read that changed its rows, made by anyone but this run, means the rows are
 * stale (two runs of one month computing the month from two different silver snapshots), and the
 * commit is refused with CONCURRENT_MODIFICATION naming the upstream table and the commit; the
 * runner then plans the run again. The upstream versions checked are recorded with the commit in
 * the interval's state (`plan/state.ts`), so the next plan can tell the interval is up to date.
 * Errors: CONCURRENT_MODIFICATION, COMMIT_CONFLICT (the table itself moved in a conflicting way),
 * TABLE_APPEND_ONLY.
 */
export async function commitStaged(lake: Lake, staged: ReadonlyMap<string, StagedWrite>, name: string): Promise<number> {
  const w = staged.get(name)!;
  if (w.committed !== undefined) return w.committed;
  const upstream = await timed('run.commit.upstream-check', () => checkUpstream(lake, staged, name, w));
  const commit = w.commit!;
  if (w.state) commit.actions = commit.actions.map((a) => withUpstream(a, upstream));
  // every delta.checkpointInterval-th version (10 by default) also writes a checkpoint
  const version = await timed(`run.commit.table-commit${(commit.readVersion + 1) % 10 === 0 ? ' (checkpoint version)' : ''}`, () => w.table.commit(commit));
  w.committed = version;
  if (w.result) w.result.version = version;
  return version;
}

/** The current version of each upstream table `w` read; CONCURRENT_MODIFICATION when one changed since it was read (see `commitStaged`). */
async function checkUpstream(lake: Lake, staged: ReadonlyMap<string, StagedWrite>, name: string, w: StagedWrite): Promise<Record<string, number>> {
  const upstream: Record<string, number> = {};
  for (const [ref, { version: read, scope }] of Object.entries(w.read)) {
    const own = staged.get(ref)?.committed;
    const current = (await lake.table(ref).snapshot()).version;
    const foreign = (await lake.table(ref).dataChanges(read, current, scope)).filter((c) => c.version !== own);
    if (foreign.length > 0) {
      const c = foreign[0]!;
      throw new IngotError('CONCURRENT_MODIFICATION',
        `${name}: its rows were computed from ${ref} at version ${read}, but version ${c.version} (${c.operation}${c.runId ? ` by run ${c.runId}` : ''}) changed ${ref} since: not committed, the run is planned again`,
        { table: name, version: c.version });
    }
    upstream[ref] = current;
  }
  return upstream;
}

/** `a` with the upstream versions filled into an interval state domain's configuration. */
function withUpstream(a: Action, upstream: Record<string, number>): Action {
  if (!('domainMetadata' in a) || a.domainMetadata.removed || !a.domainMetadata.domain.startsWith(INTERVAL_DOMAIN)) return a;
  const state = JSON.parse(a.domainMetadata.configuration) as Record<string, unknown>;
  return { domainMetadata: { ...a.domainMetadata, configuration: JSON.stringify({ ...state, upstream }) } };
}
