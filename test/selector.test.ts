import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { DuckDBEngine } from '../src/engine/duckdb/engine.js';
import { IngotError } from '../src/errors.js';
import { buildGraph } from '../src/pipeline/graph.js';
import { loadProject } from '../src/project.js';
import { dialectOf } from '../src/engine/registry.js';
import { parseSelector, parseSelectorArgs, selectableNodes, selectDatasets, type SelectableNode, type SelectionOptions } from '../src/plan/selector.js';
import { FLIGHTS, tempDir } from './fixtures.js';

/*
 * The flights example's graph (`ingot graph -p examples/flights`):
 *
 *   bronze.airports ──┐                ┌─ gold.airport_daily ─┐
 *                     ├─ silver.flights┤                      ├─ gold.top5_monthly
 *   bronze.flights_raw┘                └─ gold.route_monthly ─┘
 */
const ALL = ['bronze.airports', 'bronze.flights_raw', 'gold.airport_daily', 'gold.route_monthly', 'gold.top5_monthly', 'silver.flights'];

let engine: DuckDBEngine;

async function nodesOf(dir: string): Promise<SelectableNode[]> {
  const project = await loadProject(dir);
  return selectableNodes(await buildGraph(project.datasets, (sql) => engine.references(sql), () => dialectOf('duckdb')));
}

function sorted(set: Set<string>): string[] {
  return [...set].sort();
}

/** Asserts `fn` throws an IngotError with `code` whose message matches every pattern; returns the message. */
function rejects(fn: () => unknown, code: string, ...patterns: (RegExp | string)[]): string {
  let error: unknown;
  try {
    fn();
  } catch (err) {
    error = err;
  }
  assert.ok(error instanceof IngotError, `expected an IngotError ${code}, got ${String(error)}`);
  assert.equal(error.code, code, error.message);
  for (const p of patterns) {
    if (typeof p === 'string') assert.ok(error.message.includes(p), `"${error.message}" should contain "${p}"`);
    else assert.match(error.message, p);
  }
  return error.message;
}

before(async () => {
  engine = await DuckDBEngine.open();
});
after(async () => {
  await engine.close();
});

describe('selectors on the flights example graph', () => {
  let nodes: SelectableNode[];
  const select = (...values: string[]): string[] => sorted(selectDatasets(nodes, { select: values }));
  before(async () => {
    nodes = await nodesOf(FLIGHTS);
  });

  it('reads the example graph as expected', () => {
    assert.deepEqual(nodes.map((n) => n.name).sort(), ALL);
    const deps = Object.fromEntries(nodes.map((n) => [n.name, [...n.dependsOn].sort()]));
    assert.deepEqual(deps['silver.flights'], ['bronze.airports', 'bronze.flights_raw']);
    assert.deepEqual(deps['gold.top5_monthly'], ['gold.airport_daily', 'gold.route_monthly']);
  });

  it('selects everything without a selection', () => {
    assert.deepEqual(sorted(selectDatasets(nodes, {})), ALL);
    assert.deepEqual(sorted(selectDatasets(nodes, { select: [], exclude: [] })), ALL);
  });

  it('a name selects that dataset', () => {
    assert.deepEqual(select('silver.flights'), ['silver.flights']);
    assert.deepEqual(select('gold.top5_monthly'), ['gold.top5_monthly']);
  });

  it('x+ adds everything downstream, +x everything upstream, +x+ both', () => {
    assert.deepEqual(select('silver.flights+'), ['gold.airport_daily', 'gold.route_monthly', 'gold.top5_monthly', 'silver.flights']);
    assert.deepEqual(select('bronze.airports+'), ['bronze.airports', 'gold.airport_daily', 'gold.route_monthly', 'gold.top5_monthly', 'silver.flights']);
    assert.deepEqual(select('gold.top5_monthly+'), ['gold.top5_monthly']);
    assert.deepEqual(select('+gold.top5_monthly'), ALL);
    assert.deepEqual(select('+gold.route_monthly'), ['bronze.airports', 'bronze.flights_raw', 'gold.route_monthly', 'silver.flights']);
    assert.deepEqual(select('+bronze.airports'), ['bronze.airports']);
    assert.deepEqual(select('+gold.route_monthly+'), ['bronze.airports', 'bronze.flights_raw', 'gold.route_monthly', 'gold.top5_monthly', 'silver.flights']);
    assert.deepEqual(select('+silver.flights+'), ALL);
  });

  it('depths: N+x goes N levels up, x+N N levels down', () => {
    assert.deepEqual(select('1+gold.top5_monthly'), ['gold.airport_daily', 'gold.route_monthly', 'gold.top5_monthly']);
    assert.deepEqual(select('2+gold.top5_monthly'), ['gold.airport_daily', 'gold.route_monthly', 'gold.top5_monthly', 'silver.flights']);
    assert.deepEqual(select('3+gold.top5_monthly'), ALL);
    assert.deepEqual(select('bronze.airports+1'), ['bronze.airports', 'silver.flights']);
    assert.deepEqual(select('bronze.airports+2'), ['bronze.airports', 'gold.airport_daily', 'gold.route_monthly', 'silver.flights']);
    assert.deepEqual(select('1+silver.flights+1'), ['bronze.airports', 'bronze.flights_raw', 'gold.airport_daily', 'gold.route_monthly', 'silver.flights']);
    assert.deepEqual(select('1+gold.route_monthly+'), ['gold.route_monthly', 'gold.top5_monthly', 'silver.flights']);
  });

  it('@x: x, its descendants and all their ancestors', () => {
    // top5_monthly reads every dataset, so on this graph @ of anything upstream of it is everything
    assert.deepEqual(select('@gold.route_monthly'), ALL);
    assert.deepEqual(select('@bronze.airports'), ALL);
    assert.deepEqual(select('@gold.top5_monthly'), ALL);
  });

  it('globs over names: * any characters, ? one', () => {
    assert.deepEqual(select('bronze.*'), ['bronze.airports', 'bronze.flights_raw']);
    assert.deepEqual(select('*.flights'), ['silver.flights']);
    assert.deepEqual(select('*flights*'), ['bronze.flights_raw', 'silver.flights']);
    assert.deepEqual(select('gold.*_monthly'), ['gold.route_monthly', 'gold.top5_monthly']);
    assert.deepEqual(select('gold.top?_monthly'), ['gold.top5_monthly']);
    assert.deepEqual(select('*'), ALL);
    assert.deepEqual(select('bronze.*+1'), ['bronze.airports', 'bronze.flights_raw', 'silver.flights']);
    assert.deepEqual(select('+gold.*_monthly'), ALL);
    assert.deepEqual(select('1+gold.*_monthly'), ['gold.airport_daily', 'gold.route_monthly', 'gold.top5_monthly', 'silver.flights']);
  });

  it('spaces and several values are a union, commas an intersection', () => {
    assert.deepEqual(select('bronze.airports gold.top5_monthly'), ['bronze.airports', 'gold.top5_monthly']);
    assert.deepEqual(select('bronze.airports', 'gold.top5_monthly'), ['bronze.airports', 'gold.top5_monthly']);
    assert.deepEqual(select('  bronze.airports   silver.flights  ', 'bronze.airports'), ['bronze.airports', 'silver.flights']);
    assert.deepEqual(select('gold.*,+gold.top5_monthly'), ['gold.airport_daily', 'gold.route_monthly', 'gold.top5_monthly']);
    assert.deepEqual(select('silver.flights+,+gold.route_monthly'), ['gold.route_monthly', 'silver.flights']);
    assert.deepEqual(select('+gold.airport_daily,+gold.route_monthly,bronze.*'), ['bronze.airports', 'bronze.flights_raw']);
    assert.deepEqual(select('silver.flights+,gold.*_monthly bronze.airports'), ['bronze.airports', 'gold.route_monthly', 'gold.top5_monthly']);
  });

  it('exclude subtracts, with the same grammar', () => {
    assert.deepEqual(sorted(selectDatasets(nodes, { exclude: ['gold.*'] })), ['bronze.airports', 'bronze.flights_raw', 'silver.flights']);
    assert.deepEqual(sorted(selectDatasets(nodes, { select: ['silver.flights+'], exclude: ['gold.top5_monthly'] })), ['gold.airport_daily', 'gold.route_monthly', 'silver.flights']);
    assert.deepEqual(sorted(selectDatasets(nodes, { exclude: ['bronze.* gold.*'] })), ['silver.flights']);
    assert.deepEqual(sorted(selectDatasets(nodes, { exclude: ['bronze.*', 'gold.*'] })), ['silver.flights']);
    assert.deepEqual(sorted(selectDatasets(nodes, { select: ['+gold.top5_monthly'], exclude: ['silver.flights+'] })), ['bronze.airports', 'bronze.flights_raw']);
    assert.deepEqual(sorted(selectDatasets(nodes, { exclude: ['gold.*,+gold.route_monthly'] })), ['bronze.airports', 'bronze.flights_raw', 'gold.airport_daily', 'gold.top5_monthly', 'silver.flights']);
  });

  it('a name naming no dataset: SELECTOR_INVALID with the closest names', () => {
    const message = rejects(() => select('silver.flight'), 'SELECTOR_INVALID', '"silver.flight"', 'closest: silver.flights');
    assert.doesNotMatch(message, /allowed:/);
    rejects(() => select('gold.route_montly+'), 'SELECTOR_INVALID', '"gold.route_montly+"', 'closest: gold.route_monthly');
    rejects(() => select('flights'), 'SELECTOR_INVALID', 'closest: silver.flights');
    const three = rejects(() => select('gold.x'), 'SELECTOR_INVALID', '"gold.x"');
    assert.equal(/closest: (.*)\)/.exec(three)![1]!.split(', ').length, 3);
    rejects(() => select('silver.flights', 'gold.nope'), 'SELECTOR_INVALID', '"gold.nope"');
    rejects(() => select('gold.*,silver.flihgts'), 'SELECTOR_INVALID', '"silver.flihgts"', 'closest: silver.flights');
    rejects(() => selectDatasets(nodes, { exclude: ['silver.flights_raw'] }), 'SELECTOR_INVALID', '"silver.flights_raw"', 'closest: silver.flights, bronze.flights_raw');
  });

  it('a glob or a tag naming no dataset: SELECTOR_INVALID with the datasets or the tags', () => {
    rejects(() => select('platinum.*'), 'SELECTOR_INVALID', '"platinum.*"', `datasets: ${ALL.join(', ')}`);
    rejects(() => select('tag:daily'), 'SELECTOR_INVALID', '"tag:daily"', 'no dataset has tags');
  });

  it('an empty selection: SELECTION_EMPTY with the selectors and the datasets', () => {
    rejects(() => selectDatasets(nodes, { select: ['gold.*'], exclude: ['gold.*'] }), 'SELECTION_EMPTY', '--select gold.*', '--exclude gold.*', `datasets: ${ALL.join(', ')}`);
    rejects(() => select('bronze.*,gold.*'), 'SELECTION_EMPTY', '--select bronze.*,gold.*', `datasets: ${ALL.join(', ')}`);
    rejects(() => selectDatasets(nodes, { exclude: ['*'] }), 'SELECTION_EMPTY', '--exclude *');
    rejects(() => selectDatasets([], {}), 'SELECTION_EMPTY', 'no datasets');
  });

  it('a malformed selector: SELECTOR_INVALID saying what is allowed', () => {
    const cases: [string, string][] = [
      ['++silver.flights', 'at most one +'],
      ['silver.flights++', 'at most one +'],
      ['+', 'names no dataset'],
      ['@', 'names no dataset'],
      ['tag:', 'tag: needs a value'],
      ['tag:Daily', 'lower_snake_case or kebab-case'],
      ['tag:daily*', 'lower_snake_case or kebab-case'],
      ['@+silver.flights', '@ takes no +'],
      ['@silver.flights+', '@ takes no +'],
      ['silver.flights@', '@ goes once, first'],
      ['0+silver.flights', 'a depth is a whole number from 1'],
      ['silver.flights+0', 'a depth is a whole number from 1'],
      ['path:datasets/silver', 'unknown method "path:"'],
      ['bronze.*,,gold.*', 'a comma joins two selectors'],
      [',gold.*', 'a comma joins two selectors'],
      ['silver/flights', 'letters, digits, _, ., * and ?'],
      ['', 'it is empty'],
    ];
    for (const [selector, why] of cases) {
      rejects(() => select(selector), 'SELECTOR_INVALID', `"${selector}"`, why, 'allowed:', 'tag:name', '2+x, x+1', '@x');
    }
    // a malformed selector is refused before any name is looked up, in exclude too
    rejects(() => selectDatasets(nodes, { exclude: ['nope.nope++'] }), 'SELECTOR_INVALID', 'at most one +');
  });
});

describe('parsing selector values', () => {
  it('parses the operators, methods and depths', () => {
    assert.deepEqual(parseSelector('2+tag:daily+1,@silver.flights bronze.*'), [
      [
        { text: '2+tag:daily+1', method: 'tag', value: 'daily', parents: 2, children: 1, childrensParents: false },
        { text: '@silver.flights', method: 'name', value: 'silver.flights', parents: 0, children: 0, childrensParents: true },
      ],
      [{ text: 'bronze.*', method: 'name', value: 'bronze.*', parents: 0, children: 0, childrensParents: false }],
    ]);
    assert.deepEqual(parseSelector('+x+')[0]![0], { text: '+x+', method: 'name', value: 'x', parents: Infinity, children: Infinity, childrensParents: false });
  });

  it('parseSelectorArgs flattens the command line values into selectors and checks them', () => {
    assert.deepEqual(parseSelectorArgs(['silver.flights+', 'tag:daily gold.*', ' a,b ']), ['silver.flights+', 'tag:daily', 'gold.*', 'a,b']);
    assert.deepEqual(parseSelectorArgs('x y'), ['x', 'y']);
    assert.equal(parseSelectorArgs(undefined), undefined);
    assert.deepEqual(parseSelectorArgs([]), []);
    rejects(() => parseSelectorArgs(['ok', '++x']), 'SELECTOR_INVALID', '"++x"');
  });
});

describe('tags', () => {
  let dir: string;
  let cleanup: () => Promise<void>;
  let nodes: SelectableNode[];
  const pick = (options: SelectionOptions): string[] => sorted(selectDatasets(nodes, options));
  const select = (...values: string[]): string[] => pick({ select: values });

  /** A project folder holding the flights example's config and datasets. */
  async function copyFlights(name: string): Promise<string> {
    const project = path.join(dir, name);
    await fs.cp(path.join(FLIGHTS, 'datasets'), path.join(project, 'datasets'), { recursive: true });
    await fs.copyFile(path.join(FLIGHTS, 'ingot.config.ts'), path.join(project, 'ingot.config.ts'));
    return project;
  }

  async function edit(file: string, from: string, to: string): Promise<void> {
    const text = await fs.readFile(file, 'utf8');
    assert.ok(text.includes(from), `${file} holds ${from}`);
    await fs.writeFile(file, text.replace(from, to));
  }

  before(async () => {
    ({ dir, cleanup } = await tempDir('selector'));
    const project = await copyFlights('tagged');
    // a TS dataset and a .sql dataset of the example get tags, and a new TS dataset reads silver.flights
    await edit(path.join(project, 'datasets', 'bronze', 'flights_raw.ts'), "materialization: 'replace partition',", "tags: ['daily'],\n  materialization: 'replace partition',");
    await edit(path.join(project, 'datasets', 'silver', 'flights.sql'), '-- materialization:', '-- tags: daily, finance\n-- materialization:');
    await fs.writeFile(path.join(project, 'datasets', 'gold', 'delay_by_hour.ts'), `import { dataset } from 'ingot';
export default dataset({
  name: 'gold.delay_by_hour',
  tags: ['finance', 'hourly-report'],
  materialization: 'overwrite',
  sql: 'SELECT dep_hour, avg(delay_min) AS avg_delay_min FROM silver.flights GROUP BY dep_hour',
});
`);
    const loaded = await loadProject(project);
    assert.deepEqual(loaded.datasets.find((d) => d.name === 'silver.flights')!.tags, ['daily', 'finance']);
    assert.deepEqual(loaded.datasets.find((d) => d.name === 'bronze.flights_raw')!.tags, ['daily']);
    assert.equal(loaded.datasets.find((d) => d.name === 'gold.airport_daily')!.tags, undefined);
    nodes = await nodesOf(project);
  });
  after(() => cleanup());

  it('tag:t selects the datasets with that tag, from TS and .sql definitions', () => {
    assert.deepEqual(select('tag:daily'), ['bronze.flights_raw', 'silver.flights']);
    assert.deepEqual(select('tag:finance'), ['gold.delay_by_hour', 'silver.flights']);
    assert.deepEqual(select('tag:hourly-report'), ['gold.delay_by_hour']);
  });

  it('tag selectors take graph operators', () => {
    assert.deepEqual(select('tag:daily+'), ['bronze.flights_raw', 'gold.airport_daily', 'gold.delay_by_hour', 'gold.route_monthly', 'gold.top5_monthly', 'silver.flights']);
    assert.deepEqual(select('tag:daily+1'), ['bronze.flights_raw', 'gold.airport_daily', 'gold.delay_by_hour', 'gold.route_monthly', 'silver.flights']);
    assert.deepEqual(select('+tag:hourly-report'), ['bronze.airports', 'bronze.flights_raw', 'gold.delay_by_hour', 'silver.flights']);
    assert.deepEqual(select('1+tag:hourly-report'), ['gold.delay_by_hour', 'silver.flights']);
    assert.deepEqual(select('@tag:hourly-report'), ['bronze.airports', 'bronze.flights_raw', 'gold.delay_by_hour', 'silver.flights']);
  });

  it('@x on a graph where it leaves datasets out', () => {
    // route_monthly's descendant top5_monthly reads airport_daily; delay_by_hour is neither
    assert.deepEqual(select('@gold.route_monthly'), ['bronze.airports', 'bronze.flights_raw', 'gold.airport_daily', 'gold.route_monthly', 'gold.top5_monthly', 'silver.flights']);
    assert.deepEqual(select('@gold.delay_by_hour'), ['bronze.airports', 'bronze.flights_raw', 'gold.delay_by_hour', 'silver.flights']);
    assert.deepEqual(select('@silver.flights'), [...ALL, 'gold.delay_by_hour'].sort());
  });

  it('intersections and excludes with tags', () => {
    assert.deepEqual(select('tag:daily,silver.*'), ['silver.flights']);
    assert.deepEqual(select('tag:finance,gold.*'), ['gold.delay_by_hour']);
    assert.deepEqual(select('tag:daily,tag:finance'), ['silver.flights']);
    assert.deepEqual(select('tag:daily+,gold.*', 'bronze.airports'), ['bronze.airports', 'gold.airport_daily', 'gold.delay_by_hour', 'gold.route_monthly', 'gold.top5_monthly']);
    assert.deepEqual(pick({ select: ['tag:daily+'], exclude: ['tag:finance'] }), ['bronze.flights_raw', 'gold.airport_daily', 'gold.route_monthly', 'gold.top5_monthly']);
    assert.deepEqual(pick({ exclude: ['tag:daily+'] }), ['bronze.airports']);
    rejects(() => pick({ select: ['tag:hourly-report'], exclude: ['tag:finance'] }), 'SELECTION_EMPTY', '--select tag:hourly-report', '--exclude tag:finance', 'gold.delay_by_hour');
  });

  it('a tag no dataset has: SELECTOR_INVALID with the closest tags', () => {
    rejects(() => select('tag:dialy'), 'SELECTOR_INVALID', '"tag:dialy"', 'no dataset has tag "dialy"', 'closest tags: daily');
    rejects(() => select('tag:hourly_report+'), 'SELECTOR_INVALID', '"tag:hourly_report+"', 'closest tags: hourly-report');
  });

  it('refuses a malformed -- tags: value and an invalid tag in TS, naming the file', async () => {
    const badSql = await copyFlights('bad-sql');
    const sqlFile = path.join(badSql, 'datasets', 'silver', 'flights.sql');
    await edit(sqlFile, '-- materialization:', '-- tags: daily, Month End!\n-- materialization:');
    await assert.rejects(loadProject(badSql), (err: IngotError) => {
      assert.equal(err.code, 'DATASET_INVALID');
      assert.ok(err.message.includes(sqlFile), err.message);
      assert.match(err.message, /"Month End!": tags are lower_snake_case or kebab-case words/);
      return true;
    });

    const emptySql = await copyFlights('empty-sql');
    const emptyFile = path.join(emptySql, 'datasets', 'gold', 'airport_daily.sql');
    await edit(emptyFile, '-- materialization:', '-- tags:\n-- materialization:');
    await assert.rejects(loadProject(emptySql), (err: IngotError) => {
      assert.equal(err.code, 'DATASET_INVALID');
      assert.ok(err.message.includes(`${emptyFile}:2:`), err.message);
      assert.match(err.message, /"tags:" needs one or more tags/);
      return true;
    });

    const badTs = await copyFlights('bad-ts');
    const tsFile = path.join(badTs, 'datasets', 'bronze', 'airports.ts');
    await edit(tsFile, "materialization: 'overwrite',", "tags: ['reference', 'Finance'],\n  materialization: 'overwrite',");
    await assert.rejects(loadProject(badTs), (err: IngotError) => {
      assert.equal(err.code, 'DATASET_INVALID');
      assert.ok(err.message.includes(tsFile), err.message);
      assert.match(err.message, /tags\.1: "Finance": tags are lower_snake_case/);
      return true;
    });
  });
});
