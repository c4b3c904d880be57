import * as path from 'node:path';
import type { Row } from '../../engine/engine.js';
import type { LocalEngine } from '../../engine/registry.js';
import { IngotError, messageOf } from '../../errors.js';
import { writePathOf } from '../../operations/write-path.js';
import type { DatasetGraph } from '../../pipeline/graph.js';
import { EVERYTHING, intervalOf } from '../../pipeline/interval.js';
import type { Project } from '../../pipeline/project.js';
import type { PlanStep } from '../../plan/plan.js';
import { Lake } from '../../table/lake.js';
import type { DataType, StructType } from '../../table/schema.js';
import { checkRows } from '../step/check.js';
import { conformRows } from '../step/conform.js';
import { CHECKED_RELATION, QUARANTINE_RELATION, SOURCE_RELATION, type StepContext } from '../step/context.js';
import { renderQuery } from '../step/render.js';
import { attachRows, declaredColumns, fixtureRows, rowsSql, type FixturePlace } from './fixture.js';
import { topLevelOrderBy } from './order-by.js';
import { diffRows, formatDiff, isEmptyDiff } from './row-diff.js';
import { shownPath, type RowsSource, type UnitTest } from './test-file.js';

/** The outcome of one unit test. */
export interface UnitTestResult {
  /** `file` (absolute), `line`, `name`, `dataset` of the test. */
  test: Pick<UnitTest, 'file' | 'line' | 'name' | 'dataset' | 'date'>;
  /** `failed`: the dataset's rows differ or its run fails; `error`: the test itself is wrong (TEST_INVALID) or could not run. */
  status: 'passed' | 'failed' | 'error';
  ms: number;
  /** What failed: the row diffs, or the run's error, as lines. */
  lines: string[];
  /** The error of a test with status `error`. */
  error?: IngotError;
}

/** What every test of a suite shares: the project, its graph, one engine and a scratch folder. */
export interface UnitTestEnv {
  project: Project;
  graph: DatasetGraph;
  /** The in-process engine (it also reads Parquet files for the scratch lake of `{{this}}`). */
  engine: LocalEngine;
  /** Scratch folder for the given rows' Parquet files (removed by the caller). */
  dir: string;
  /** Known columns of datasets as upstream tables (`upstreamTypes`): name → column → SQL type. */
  types: ReadonlyMap<string, Record<string, string>>;
}

const RANK = '__ingot_rank';

/**
 * Runs one unit test: attaches each given table's rows (see `fixture.ts`), then runs the
 * dataset's own step stages on them — render (templates of the test's date), conform (its
 * declared schema), check (its expectations: dropped rows leave, quarantined rows go to the
 * quarantine output, a failing `fail` expectation fails the test) — and compares the kept rows
 * (and quarantined ones, when expected) with the expected rows (`diffRows`). Nothing is written
 * to the lake. Never throws: problems of the test itself are results with status `error`
 * (TEST_INVALID naming the file, line and test: an unknown dataset, a dataset with a source, a
 * table given that the dataset does not read or one it reads that is not given, an expected
 * column not in the output).
 */
export async function runUnitTest(t: UnitTest, env: UnitTestEnv, index: number): Promise<UnitTestResult> {
  const t0 = performance.now();
  const result = (status: UnitTestResult['status'], lines: string[], error?: IngotError): UnitTestResult => ({
    test: { file: t.file, line: t.line, name: t.name, dataset: t.dataset, ...(t.date ? { date: t.date } : {}) },
    status, ms: Math.round(performance.now() - t0), lines, ...(error ? { error } : {}),
  });
  const { engine } = env;
  try {
    const lines = await compare(t, env, index);
    return result(lines.length === 0 ? 'passed' : 'failed', lines);
  } catch (err) {
    if (err instanceof IngotError && err.code === 'TEST_INVALID') return result('error', [err.message], err);
    // the dataset's run failed on the given rows (a failing expectation, an SQL error): the test fails
    return result('failed', [`the run of ${t.dataset} fails: ${messageOf(err)}`]);
  } finally {
    await engine.drop(QUARANTINE_RELATION, CHECKED_RELATION, SOURCE_RELATION);
  }
}

/** The diff lines of test `t` (none: it passes). */
async function compare(t: UnitTest, env: UnitTestEnv, index: number): Promise<string[]> {
  const { engine, graph, project } = env;
  const invalid = (message: string, line = t.line, extra: Record<string, string> = {}): IngotError =>
    new IngotError('TEST_INVALID', `${shownPath(t.file)}:${line}: test ${t.name}: ${message}`, { file: t.file, row: line, ...extra });

  const node = graph.get(t.dataset);
  if (!node) {
    const names = graph.order.map((n) => n.dataset.name).sort();
    throw invalid(`unknown dataset ${t.dataset} (datasets: ${names.join(', ')})`, t.lineOf('dataset'), { dataset: t.dataset });
  }
  const ds = node.dataset;
  if (ds.source) throw invalid(`${ds.name} reads a ${ds.source.kind} source: unit tests run a dataset's SQL (test the datasets that read ${ds.name})`, t.lineOf('dataset'), { dataset: ds.name });
  const reads = node.reads.filter((r) => r !== ds.name);
  for (const g of Object.keys(t.given)) {
    if (!node.reads.includes(g)) throw invalid(`given ${g} is not read by ${ds.name} (it reads: ${reads.join(', ') || 'nothing'})`, t.lineOf('given', g), { table: g });
  }
  const absent = reads.filter((r) => !(r in t.given));
  if (absent.length > 0) {
    throw invalid(`${ds.name} reads ${absent.join(', ')} (in its SQL or an expectation): give ${absent.length > 1 ? 'their' : 'its'} rows under given (rows: [] for none)`, t.lineOf('given'), { table: absent[0]! });
  }

  const scratch = path.join(env.dir, String(index));
  const byName = new Map(project.datasets.map((d) => [d.name, d]));
  const attach = async (name: string): Promise<void> => {
    const source = t.given[name]!;
    const place: FixturePlace = { where: `${shownPath(t.file)}:${t.lineOf('given', name)}: test ${t.name}`, what: `given ${name}` };
    const { rows, columns, types } = await fixtureRows(engine, source, '__ingot_fixture', place);
    const declared = { ...types, ...(env.types.get(name) ?? declaredColumns(byName.get(name), engine.dialect)), ...(source.columns ?? {}) };
    await attachRows(engine, name, rowsSql(engine, rows, columns, declared, place), scratch, place);
  };
  for (const name of reads) await attach(name);

  const interval = t.date ? intervalOf(t.date, ds.grain) : EVERYTHING;
  const full = t.date === undefined;
  const step: PlanStep = {
    dataset: ds.name, interval, stateInterval: interval, engine: engine.dialect.name, materialization: ds.materialization,
    action: 'run', reason: 'unit test', fingerprint: 'unit-test', upstream: {},
  };
  const ctx: StepContext = {
    scope: { runId: `test_${index}`, startedAt: new Date(), ...(t.date ? { logicalDate: t.date } : {}), mode: full ? 'full_refresh' : 'date', projectDir: project.dir },
    node, ds, step, engine, path: writePathOf(engine), lake: new Lake(path.join(scratch, 'lake'), engine), interval, full,
    txn: { appId: 'ingot:unit-test', version: 0 }, staged: new Map(), checked: [], committed: undefined,
    commitNow: () => Promise.reject(new Error('a unit test commits nothing')),
  };
  const sql = await renderQuery(ctx);
  // the dataset's own table ({{this}} in an expectation): given rows replace the empty table
  if (t.given[ds.name]) await attach(ds.name);
  const conformed = await conformRows(ctx, sql, { inputs: [], expectations: [], hidden: [], unchanged: false, read: {} });
  const checked = await checkRows(ctx, conformed);

  const lines: string[] = [];
  const outputColumns = checked.schema.fields.map((f) => f.name);
  const orderBy = topLevelOrderBy(sql, engine.dialect, outputColumns);
  lines.push(...await compareOutput(t, env, checked.keptSql, checked.schema, t.expect.rows, 'rows', orderBy, invalid, ds.key));
  if (t.expect.quarantine) {
    if (!checked.quarantineSql) {
      throw invalid(`expect quarantine: ${ds.name} has no quarantine expectation (its expectations: ${(ds.expectations ?? []).map((e) => `${e.name} (${e.action})`).join(', ') || 'none'})`, t.lineOf('expect', 'quarantine'));
    }
    lines.push(...await compareOutput(t, env, checked.quarantineSql, await engine.describe(checked.quarantineSql), t.expect.quarantine, 'quarantine', undefined, invalid, ds.key));
  }
  return lines;
}

/** The diff lines of one output (`rows` or `quarantine`) of the dataset against its expected rows. */
async function compareOutput(
  t: UnitTest, env: UnitTestEnv, sql: string, schema: StructType, expected: RowsSource, label: 'rows' | 'quarantine', orderBy: string | undefined,
  invalid: (message: string, line?: number) => IngotError, key: string[] | undefined,
): Promise<string[]> {
  const { engine } = env;
  const d = engine.dialect;
  const at = label === 'rows' ? ['expect'] : ['expect', 'quarantine'];
  const place: FixturePlace = { where: `${shownPath(t.file)}:${t.lineOf(...at)}: test ${t.name}`, what: label === 'rows' ? 'expect' : 'expect quarantine' };
  const { rows: want, columns } = await fixtureRows(engine, expected, '__ingot_fixture', place);
  const names = schema.fields.map((f) => f.name);
  const unknown = columns.filter((c) => !names.includes(c));
  if (unknown.length > 0) {
    throw invalid(`${place.what}: column ${unknown.join(', ')} is not in the ${label === 'rows' ? 'output' : 'quarantined rows'} of ${t.dataset} (columns: ${names.join(', ')})`, t.lineOf(...at));
  }
  if ('rows' in expected) {
    want.forEach((r, i) => {
      const lacking = columns.filter((c) => !(c in r));
      if (lacking.length > 0) throw invalid(`${place.what}: row ${i + 1} lacks ${lacking.join(', ')}, which other rows list: give ${lacking.length > 1 ? 'them' : 'it'} (null for NULL)`, t.lineOf(...at, 'rows', i));
    });
  }
  const types: Record<string, DataType> = Object.fromEntries(schema.fields.map((f) => [f.name, f.type]));
  // nothing expected: the unexpected rows are shown whole (but for the run's own stamps)
  const shown = columns.length > 0 ? columns : names.filter((c) => c !== '_quarantined_at' && c !== '_run_id');
  const list = shown.map((c) => d.quoteIdent(c)).join(', ');
  let got: Row[];
  let ranks: number[] | undefined;
  const notes: string[] = [];
  if (orderBy) {
    try {
      got = await engine.query(`SELECT ${list ? `${list}, ` : ''}dense_rank() OVER (ORDER BY ${orderBy}) AS ${RANK} FROM (${sql}) AS __kept ORDER BY ${RANK}`);
      ranks = got.map((r) => Number(r[RANK]));
    } catch {
      notes.push(`(order not compared: the query's ORDER BY ${orderBy} does not apply to its output columns)`);
      got = await engine.query(`SELECT ${list || '1 AS __one'} FROM (${sql}) AS __kept`);
    }
  } else got = await engine.query(`SELECT ${list || '1 AS __one'} FROM (${sql}) AS __kept`);
  const diff = diffRows(want, got, columns, types, { ...(key ? { key } : {}), ...(ranks ? { ranks } : {}) });
  if (isEmptyDiff(diff)) return [];
  return [...formatDiff(diff, shown, label), ...notes];
}
