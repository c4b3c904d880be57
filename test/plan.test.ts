/**
 * The plan stage: `ingot plan` / `ingot run` decide each step from the lake's recorded interval
 * state (definition fingerprints, upstream versions), select datasets with dbt's grammar, and
 * skip what did not change.
 */
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Lake } from '../src/table/lake.js';
import { cli, tempDir } from './fixtures.js';

/** The JSON plan of `ingot plan` with `args`: per run, each step's dataset → [action, reason]. */
async function plan(dir: string, ...args: string[]): Promise<{ logicalDate?: string; steps: Record<string, [string, string]> }[]> {
  const r = await cli(['plan', '-p', dir, '--format', 'json', ...args]);
  assert.equal(r.code, 0, r.err);
  const parsed = JSON.parse(r.out) as { runs: { logicalDate?: string; steps: { dataset: string; action: string; reason: string }[] }[] };
  return parsed.runs.map((run) => ({ ...(run.logicalDate ? { logicalDate: run.logicalDate } : {}), steps: Object.fromEntries(run.steps.map((s) => [s.dataset, [s.action, s.reason]])) }));
}

async function run(dir: string, ...args: string[]): Promise<{ out: string; err: string }> {
  const r = await cli(['run', '-p', dir, ...args]);
  assert.equal(r.code, 0, r.err);
  return r;
}

/** Every table's version. */
async function versions(dir: string): Promise<Record<string, number>> {
  const lake = new Lake(path.join(dir, 'lake'));
  const out: Record<string, number> = {};
  for (const name of await lake.list()) out[name] = (await lake.table(name).snapshot()).version;
  return out;
}

const FILES: Record<string, string> = {
  'ingot.config.ts': "import { defineConfig } from 'ingot';\nexport default defineConfig({ lake: './lake' });\n",
  'datasets/bronze/events.ts': `import { dataset, files } from 'ingot';
export default dataset({
  name: 'bronze.events',
  source: files({ path: 'landing/day={day}/*.csv', format: 'csv' }),
  materialization: 'replace partition',
  partitionBy: ['day'],
  tags: ['ingest'],
});
`,
  'datasets/silver/events.sql': `-- materialization: replace partition
-- partition_by: day
-- tags: daily
SELECT day, id, amount * 2 AS amount FROM bronze.events WHERE day >= {{start}} AND day < {{end}}
`,
  'datasets/gold/daily.sql': `-- materialization: replace partition
-- partition_by: day
-- tags: daily, report
SELECT day, count(*) AS n, sum(amount) AS amount FROM silver.events WHERE day >= {{start}} AND day < {{end}} GROUP BY day
`,
  'datasets/gold/total.sql': `-- materialization: overwrite
SELECT count(*) AS n FROM silver.events
`,
};

async function project(dir: string, files: Record<string, string> = FILES): Promise<void> {
  for (const [name, text] of Object.entries(files)) {
    await fs.mkdir(path.dirname(path.join(dir, name)), { recursive: true });
    await fs.writeFile(path.join(dir, name), text);
  }
  for (const day of ['2024-03-01', '2024-03-02']) {
    await fs.mkdir(path.join(dir, 'landing', `day=${day}`), { recursive: true });
    await fs.writeFile(path.join(dir, 'landing', `day=${day}`, 'a.csv'), `id,amount\n1,10\n2,${day.endsWith('1') ? 5 : 7}\n`);
  }
}

describe('the plan', () => {
  let dir: string;
  let cleanup: () => Promise<void>;
  before(async () => {
    ({ dir, cleanup } = await tempDir('plan'));
    await project(dir);
  });
  after(() => cleanup());

  it('plans every step of a new project as new, and runs nothing', async () => {
    const runs = await plan(dir, '--from', '2024-03-01', '--to', '2024-03-02');
    assert.deepEqual(runs.map((r) => r.logicalDate), ['2024-03-01', '2024-03-02']);
    assert.deepEqual(runs[0]!.steps, {
      'bronze.events': ['run', 'new'], 'silver.events': ['run', 'new'], 'gold.daily': ['run', 'new'], 'gold.total': ['run', 'new'],
    });
    assert.deepEqual(await versions(dir), {}, 'planning wrote nothing');
    const text = await cli(['plan', '-p', dir, '--date', '2024-03-01']);
    assert.match(text.out, /^2024-03-01\n {2}run {3}bronze\.events +new\n/);
    assert.match(text.out, /1 run: 4 steps to run, 0 to skip$/);
  });

  it('skips every step of a rerun whose inputs did not change, committing nothing', async () => {
    await run(dir, '--from', '2024-03-01', '--to', '2024-03-02');
    const before = await versions(dir);
    assert.deepEqual((await plan(dir, '--date', '2024-03-02'))[0]!.steps, {
      'bronze.events': ['skip', 'up to date: no new or changed files'], 'silver.events': ['skip', 'up to date'], 'gold.daily': ['skip', 'up to date'], 'gold.total': ['skip', 'up to date'],
    });
    const r = await run(dir, '--date', '2024-03-02');
    assert.match(r.err, /2024-03-02 {2}ok {2}nothing to do: every step up to date, nothing committed/);
    assert.match(r.out, /skipped \(the plan found nothing to do\):\n {2}bronze\.events: 1 × up to date: no new or changed files\n {2}silver\.events: 1 × up to date/);
    assert.deepEqual(await versions(dir), before, 'no table got a new version');
  });

  it('runs a step whose upstream moved in its partitions, naming the versions, and a new interval as missing', async () => {
    // an older date after a newer one: bronze moved on since 2024-03-01 was computed, but only in another day's partition
    assert.ok(Object.values((await plan(dir, '--date', '2024-03-01'))[0]!.steps).every(([a]) => a === 'skip'));
    // a changed input file of that day: bronze runs, silver and gold follow
    await fs.writeFile(path.join(dir, 'landing', 'day=2024-03-01', 'a.csv'), 'id,amount\n1,10\n2,6\n');
    const changed = (await plan(dir, '--date', '2024-03-01'))[0]!.steps;
    assert.deepEqual(changed['bronze.events'], ['run', '1 new or changed file']);
    assert.deepEqual(changed['silver.events'], ['run', 'upstream changed: bronze.events runs first']);
    await run(dir, '--date', '2024-03-01', '--select', 'bronze.events');
    const bronze = (await versions(dir))['bronze.events']!;
    const older = (await plan(dir, '--date', '2024-03-01'))[0]!.steps;
    assert.deepEqual(older['bronze.events'], ['skip', 'up to date: no new or changed files']);
    assert.equal(older['silver.events']![0], 'run');
    assert.match(older['silver.events']![1], new RegExp(`^upstream changed: bronze\\.events \\d+ → ${bronze} \\(\\d+ commits?\\)$`));
    assert.deepEqual(older['gold.daily'], ['run', 'upstream changed: silver.events runs first']);
    await run(dir, '--date', '2024-03-01');
    // a day the tables hold no state for (its input not landed yet: the run would fail on it)
    const missing = (await plan(dir, '--date', '2024-03-05'))[0]!.steps;
    assert.deepEqual(missing['bronze.events'], ['run', 'no input files found']);
    assert.deepEqual(missing['silver.events'], ['run', 'interval missing']);
    const once = (await plan(dir, '--date', '2024-03-05', '--select', 'gold.daily'))[0]!.steps;
    assert.deepEqual(once, { 'gold.daily': ['run', 'interval missing'] });
  });

  it('forces steps with --rerun and --full-refresh', async () => {
    const forced = (await plan(dir, '--date', '2024-03-02', '--rerun'))[0]!.steps;
    assert.ok(Object.values(forced).every(([a, r]) => a === 'run' && r === 'forced'), JSON.stringify(forced));
    const full = await plan(dir, '--full-refresh');
    assert.equal(full[0]!.logicalDate, undefined);
    assert.ok(Object.values(full[0]!.steps).every(([a, r]) => a === 'run' && r === 'forced'));
  });

  it('runs a changed definition and everything downstream of it, and only that', async () => {
    await run(dir, '--date', '2024-03-01');
    await run(dir, '--date', '2024-03-02');
    const before = await versions(dir);
    const file = path.join(dir, 'datasets/silver/events.sql');
    // reformatting (comments, whitespace) is not a change
    await fs.writeFile(file, (await fs.readFile(file, 'utf8')).replace('SELECT day, id,', '-- same rows\nSELECT   day,\n  id,'));
    assert.ok(Object.values((await plan(dir, '--date', '2024-03-02'))[0]!.steps).every(([a]) => a === 'skip'));
    await fs.writeFile(file, (await fs.readFile(file, 'utf8')).replace('amount * 2', 'amount * 3'));
    assert.deepEqual((await plan(dir, '--date', '2024-03-02'))[0]!.steps, {
      'bronze.events': ['skip', 'up to date: no new or changed files'], 'silver.events': ['run', 'definition changed'],
      'gold.daily': ['run', 'upstream changed: silver.events runs first'], 'gold.total': ['run', 'upstream changed: silver.events runs first'],
    });
    await run(dir, '--date', '2024-03-02');
    const afterRun = await versions(dir);
    assert.equal(afterRun['bronze.events'], before['bronze.events'], 'bronze untouched');
    for (const t of ['silver.events', 'gold.daily', 'gold.total']) assert.equal(afterRun[t], before[t]! + 1, `${t} committed once`);
    const q = await cli(['sql', '-p', dir, '--format', 'json', "SELECT amount FROM gold.daily WHERE day = DATE '2024-03-02'"]);
    assert.deepEqual(JSON.parse(q.out), [{ amount: 51 }], '(10 + 7) × 3');
  });

  it('selects with dbt\'s grammar: one, downstream, upstream, both, globs, tags, unions and excludes', async () => {
    const steps = async (...args: string[]): Promise<string[]> => Object.keys((await plan(dir, '--date', '2024-03-02', '--rerun', ...args))[0]!.steps);
    assert.deepEqual(await steps('--select', 'silver.events'), ['silver.events']);
    assert.deepEqual(await steps('--select', 'silver.events+'), ['silver.events', 'gold.daily', 'gold.total']);
    assert.deepEqual(await steps('--select', '+gold.daily'), ['bronze.events', 'silver.events', 'gold.daily']);
    assert.deepEqual(await steps('--select', '+silver.events+'), ['bronze.events', 'silver.events', 'gold.daily', 'gold.total']);
    assert.deepEqual(await steps('--select', 'gold.*'), ['gold.daily', 'gold.total']);
    assert.deepEqual(await steps('--select', 'tag:daily'), ['silver.events', 'gold.daily']);
    assert.deepEqual(await steps('--select', 'tag:ingest', 'gold.total'), ['bronze.events', 'gold.total']);
    assert.deepEqual(await steps('--select', 'tag:daily,gold.*'), ['gold.daily']);
    assert.deepEqual(await steps('--select', 'silver.events+', '--exclude', 'gold.total'), ['silver.events', 'gold.daily']);
    // unselected upstream tables are read as committed: gold.daily alone runs from the committed silver.events
    const r = await run(dir, '--date', '2024-03-02', '--select', 'gold.daily', '--rerun');
    assert.match(r.out, /gold\.daily +1 +0 /);
    assert.doesNotMatch(r.out, /silver\.events +1/);

    const bad = await cli(['plan', '-p', dir, '--date', '2024-03-02', '--select', 'silver.event']);
    assert.equal(bad.code, 1);
    assert.match(bad.err, /SELECTOR_INVALID.*silver\.event.*silver\.events/);
    const empty = await cli(['plan', '-p', dir, '--date', '2024-03-02', '--select', 'gold.daily', '--exclude', 'tag:report']);
    assert.equal(empty.code, 1);
    assert.match(empty.err, /SELECTION_EMPTY.*bronze\.events.*gold\.daily.*gold\.total.*silver\.events/s);
  });

  it('runs once without a date when no dataset needs an interval, and names the one that does', async () => {
    const r = await cli(['run', '-p', dir]);
    assert.equal(r.code, 1);
    assert.match(r.err, /DATASET_INVALID.*bronze\.events .*needs an interval \(materialization replace partition by day\): give --date/);
    const conflicting = await cli(['run', '-p', dir, '--date', '2024-03-01', '--from', '2024-03-01', '--to', '2024-03-02']);
    assert.equal(conflicting.code, 1);
    assert.match(conflicting.err, /give one of --date, --from and --to, or --full-refresh \(got --date and --from\/--to\)/);

    const { dir: once, cleanup: done } = await tempDir('plan-once');
    try {
      await project(once, {
        'ingot.config.ts': FILES['ingot.config.ts']!,
        'datasets/staging/orders.sql': 'SELECT range AS id, range % 3 AS customer FROM range(10)\n',
        'datasets/marts/customers.sql': '-- materialization: overwrite\nSELECT customer, count(*) AS orders FROM staging.orders GROUP BY customer\n',
      });
      assert.match((await run(once)).err, /once {2}ok {2}2 datasets, 13 rows written/);
      assert.match((await run(once)).err, /once {2}ok {2}nothing to do/);
    } finally {
      await done();
    }
  });
});
