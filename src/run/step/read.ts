import { IngotError } from '../../errors.js';
import { landCsv } from '../landing.js';
import { maxOfTable } from '../bookmark.js';
import { connectorFor } from '../../sources/connectors.js';
import { forgedLineageError, lineageColumn } from '../../sources/lineage.js';
import type { RejectedFile, SourceContext } from '../../sources/source.js';
import type { Expectation } from '../../pipeline/definition.js';
import type { DomainWrite } from '../../table/write.js';
import { upstreamScope } from '../../plan/plan.js';
import { processedUpstream } from '../../plan/state.js';
import { scanAdded } from '../../operations/scan.js';
import { attachChangeFeed, hasChangeFeed } from '../../operations/change-feed.js';
import { SOURCE_RELATION, stepError, type StepContext, type UpstreamRead } from './context.js';
import { timed } from '../profile.js';

/** What the read stage leaves for the others. */
export interface StepInput {
  /** Input files or endpoints of a source. */
  inputs: string[];
  /** A connector's own row checks (e.g. malformed log lines) and the columns only their quarantined rows keep. */
  expectations: Expectation[];
  hidden: string[];
  /** Metadata domains the source commits with its rows (what it loaded). */
  domainMetadata?: DomainWrite[];
  /** The source found nothing new: the step writes and commits nothing. */
  unchanged: boolean;
  /** Each upstream table's version read, and the partitions that concern the step. */
  read: Record<string, UpstreamRead>;
  /** Files the source left out because they could not be read (a micro-batch's `onBadFile: 'reject'`). */
  rejected?: RejectedFile[];
}

/**
 * Read stage: attaches every table the dataset reads (a table this run staged as its staged
 * snapshot, committed first when the engine reads committed tables only; others as committed)
 * and, for a dataset with a source, reads the source into relation `__source` (also landing a
 * raw copy when `landing` is set). Errors: TABLE_NOT_FOUND for an upstream never written; the
 * source's (INPUT_MISSING, INPUT_MALFORMED, SOURCE_ERROR...); INPUT_SCHEMA when the source's rows
 * bring a lineage column of their own (`_ingested_at`, `_run_id`; `_source` is the connector's).
 */
export async function readInputs(ctx: StepContext): Promise<StepInput> {
  const { ds, engine } = ctx;
  const read: Record<string, UpstreamRead> = {};
  // an incremental dataset reads what its upstream tables committed after the versions it processed (none recorded: everything)
  const processed = ds.incremental && !ctx.full ? processedUpstream(ctx.committed) : undefined;
  for (const ref of ctx.node.reads) {
    if (ref === ds.name) continue; // its own committed table ({{this}} in an expectation): attached by the render stage
    const table = ctx.lake.table(ref);
    const staged = ctx.staged.get(ref);
    if (ctx.path.readsCommittedOnly && staged && staged.committed === undefined) await ctx.commitNow(ref);
    // an upstream with a change data feed is read as its feed: this run's rows of it are committed first
    if (ds.incremental && staged && staged.committed === undefined && staged.preview && hasChangeFeed(staged.preview)) await ctx.commitNow(ref);
    const snapshot = staged?.preview && staged.committed === undefined ? staged.preview : await timed('run.step.read.upstream-snapshot', () => table.trySnapshot());
    if (!snapshot) throw stepError(ctx, 'TABLE_NOT_FOUND', `reads ${ref}, which has never been written: run its dataset first`);
    // a staged table is read as the version its commit was prepared on, plus this run's rows
    const scope = upstreamScope(ds, ctx.interval, snapshot);
    read[ref] = { version: staged?.commit && staged.committed === undefined ? staged.commit.readVersion : snapshot.version, ...(scope ? { scope } : {}) };
    const after = processed?.[ref];
    if (ds.incremental && hasChangeFeed(snapshot)) {
      // the upstream's change rows since the version processed (everything as inserts the first time), with _change_type
      await attachChangeFeed(engine, table, ref, snapshot, after);
      continue;
    }
    if (after === undefined) {
      const scan = await timed('run.step.read.upstream-scan', () => ctx.path.scan(table, snapshot));
      await timed('run.step.read.upstream-attach', () => engine.attachTable(ref, scan));
      continue;
    }
    // the files the commits since added, and this run's own staged rows of it
    const upTo = read[ref]!.version;
    const { adds, rewrites } = await table.addedSince(after, upTo);
    if (staged?.commit && staged.committed === undefined && staged.commit.actions.some((a) => 'remove' in a && a.remove.dataChange !== false)) rewrites.push(upTo + 1);
    if (rewrites.length > 0) {
      throw stepError(ctx, 'INCREMENTAL_UNSUPPORTED', `reads ${ref} incrementally, but its version${rewrites.length === 1 ? '' : 's'} ${rewrites.join(', ')} updated or deleted rows (only appended rows are read from a table without a change data feed): set the table property delta.enableChangeDataFeed = true on ${ref} (tableProperties, or -- table_property: in SQL) to read its later updates and deletes from the feed, and run ${ds.name} with --full-refresh now`);
    }
    const own = staged?.commit && staged.committed === undefined ? staged.commit.actions.flatMap((a) => ('add' in a && a.add.dataChange !== false ? [a.add] : [])) : [];
    await engine.attachTable(ref, await scanAdded(engine, table, snapshot, [...adds, ...own]));
  }
  if (!ds.source) return { inputs: [], expectations: [], hidden: [], unchanged: false, read };

  const { scope, interval, committed } = ctx;
  const source: SourceContext = {
    projectDir: scope.projectDir, dataset: ds.name, interval, partitionColumn: ds.partitionBy?.[0], logicalDate: scope.logicalDate, runId: scope.runId,
    appends: !ctx.full && ds.materialization === 'append', force: ctx.step.reason === 'forced', ...(scope.batch ? { batch: scope.batch } : {}),
    ...(scope.listings ? { listings: scope.listings } : {}),
  };
  // the bookmark of an incremental source and what it loaded come from the committed table (never in a full refresh)
  if (!ctx.full) {
    source.maxOfTarget = (column) => maxOfTable(engine, ctx.lake.table(ds.name), committed, ds.name, column);
    source.committed = new Map([...(committed?.domains.values() ?? [])].map((d) => [d.domain, d.configuration]));
  }
  const batch = await timed('run.step.read.source', () => connectorFor(ds.source!).read(source, engine, SOURCE_RELATION));
  const input: StepInput = {
    inputs: batch.inputs, expectations: batch.expectations ?? [], hidden: batch.quarantineColumns ?? [], unchanged: batch.unchanged === true, read,
    ...(batch.domainMetadata ? { domainMetadata: batch.domainMetadata } : {}), ...(batch.rejected ? { rejected: batch.rejected } : {}),
  };
  if (input.unchanged) await engine.drop(SOURCE_RELATION);
  else {
    // any connector (a database table, an API): `_ingested_at` and `_run_id` are ingot's to set
    const own = (await engine.describe(`SELECT * FROM ${engine.dialect.quoteIdent(SOURCE_RELATION)}`)).fields.find((f) => ['_ingested_at', '_run_id'].includes(lineageColumn(f.name) ?? ''));
    if (own) {
      await engine.drop(SOURCE_RELATION);
      throw forgedLineageError(ds.name, batch.inputs.join(', ') || 'the source', own.name);
    }
  }
  if (!input.unchanged && ds.landing) {
    await landCsv(engine, SOURCE_RELATION, ds.landing, { projectDir: scope.projectDir, dataset: ds.name, interval, logicalDate: scope.logicalDate, runId: scope.runId }).catch((err: unknown) => {
      throw err instanceof IngotError ? err : stepError(ctx, 'STORAGE_ERROR', String(err), err);
    });
  }
  return input;
}
