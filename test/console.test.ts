/**
 * The operator console (issue 17) end to end: a real `ingot serve` (child process, scheduler on)
 * over a project whose runs were made by `ingot run` (one of them failed, with the longest error
 * the test can make), driven in Debian's headless chromium through playwright-core. Checked
 * against the metadata store, the lake and the CLI: runs under their pipeline whoever started
 * them; a failed run's datasets with their states; actions with a write key (backfill after its
 * plan, trigger, retry, pause/resume) and disabled with a read key; live progress from the event
 * stream (a dataset held by a local HTTP API while the page shows it running); graph states and
 * the dataset page; paging; one pass rate in the API, the UI and `ingot checks`; and no
 * horizontal overflow on any page at 1,400 and 420 px.
 *
 * `INGOT_SCREENSHOTS=1` (`npm run screenshots`) also saves docs/screenshots/console-*.png.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promises as fs } from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { Lake } from '../src/table/lake.js';
import { cli, httpListening, ROOT, startServe, tempDir, type ServeProcess } from './fixtures.js';

const CHROMIUM = '/usr/bin/chromium';
const SHOTS = process.env['INGOT_SCREENSHOTS'] === '1';
const LONG = 'silver.events_cleaned_with_an_exceptionally_long_table_name_to_test_the_layout';
/** The failing dataset's rows carry this unbroken word: its error (and log line) are 1,500+ characters without a space. */
const PAD = 'x'.repeat(1500);
const BAD_DAY = '2024-01-03';
const HELD_DAY = '2024-02-01';
type Row = Record<string, unknown>;

const FILES: Record<string, string> = {
  'ingot.config.ts': `import { defineConfig, pipeline } from 'ingot';
export default defineConfig({
  pipelines: [
    pipeline({ name: 'events', datasets: ['bronze.dim', 'bronze.events', 'silver.*', 'gold.*'], retries: 0 }),
    pipeline({ name: 'live', datasets: ['bronze.a_quick', 'bronze.b_feed'], retries: 0 }),
  ],
});
`,
  'datasets/bronze/dim.sql': '-- materialization: overwrite\nSELECT range AS k FROM range(3)\n',
  'datasets/bronze/events.sql': "-- materialization: append\n-- expect i_small (warn): i < 240\nSELECT CAST({{logical_date}} AS DATE) AS day, range AS i, 'k' || (range % 7) AS k FROM range(250)\n",
  'datasets/bronze/a_quick.sql': '-- materialization: append\nSELECT CAST({{logical_date}} AS DATE) AS day, range AS n FROM range(120)\n',
  [`datasets/silver/${LONG.split('.')[1]}.sql`]: '-- materialization: append\nSELECT day, i, k FROM bronze.events WHERE day = {{logical_date}} AND i % 2 = 0\n',
  'datasets/silver/stale_one.sql': '-- materialization: overwrite\nSELECT k, count(*) AS n FROM bronze.events GROUP BY k\n',
  'datasets/gold/fragile.sql': `-- materialization: append\n-- expect not_the_bad_day (fail): day <> DATE '${BAD_DAY}'\nSELECT day, count(*) AS n, repeat('x', 1500) AS padding FROM ${LONG} WHERE day = {{logical_date}} GROUP BY day\n`,
  'datasets/gold/zz_after.sql': '-- materialization: append\nSELECT day, n FROM gold.fragile WHERE day = {{logical_date}}\n',
  'datasets/gold/never.sql': '-- materialization: overwrite\nSELECT count(*) AS n FROM bronze.dim\n',
};

describe('the operator console in a real browser over a real ingot serve', () => {
  let dir: string;
  let cleanup: () => Promise<void>;
  let server: ServeProcess<string> | undefined;
  let feed: http.Server;
  /** Releases the held request of HELD_DAY. */
  let release: () => void = () => {};
  let feedHeld: Promise<void>;
  let base: string;
  const keys = { read: '', write: '' };
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  let failedRun = '';

  const sql = async (select: string): Promise<Row[]> => {
    const r = await cli(['sql', '-p', dir, '--format', 'json', select]);
    assert.equal(r.code, 0, r.err);
    return JSON.parse(r.out) as Row[];
  };
  const api = async (p: string, key = keys.read): Promise<Row> => {
    const res = await fetch(`${base}${p}`, { headers: { authorization: `Bearer ${key}` } });
    assert.equal(res.status, 200, `${p}: ${res.status}`);
    return (await res.json()) as Row;
  };
  const tableRows = async (selector: string): Promise<Row[]> => page.locator(selector).first().evaluate((table) => {
    const heads = [...table.querySelectorAll('thead th')].map((th) => th.textContent ?? '');
    return [...table.querySelectorAll('tbody tr')].map((tr) => Object.fromEntries([...tr.querySelectorAll('td')].map((td, i) => [heads[i], td.textContent ?? ''])));
  });
  const signIn = async (key: string, width = 1400): Promise<void> => {
    await context?.close();
    context = await browser.newContext({ viewport: { width, height: 900 } });
    page = await context.newPage();
    page.on('pageerror', (e) => assert.fail(`page error: ${e.message}`));
    await page.goto(`${base}/`);
    await page.fill('input[name=key]', key);
    await page.click('form.key-form button[type=submit]');
    await page.waitForSelector('.pipeline[data-pipeline=events] .runs-box h3');
  };
  const go = async (hash: string, ready: string): Promise<void> => {
    await page.goto(`${base}/${hash}`);
    await page.waitForSelector(ready);
  };
  const waitFor = async <T>(what: string, fn: () => Promise<T | undefined | false>, ms = 60_000): Promise<T> => {
    const end = Date.now() + ms;
    for (;;) {
      const v = await fn();
      if (v) return v;
      if (Date.now() > end) assert.fail(`timed out waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 250));
    }
  };

  before(async () => {
    await promisify(execFile)(path.join(ROOT, 'node_modules', '.bin', 'vite'), ['build', '--logLevel', 'error'], { cwd: ROOT });
    ({ dir, cleanup } = await tempDir('console'));
    // the feed API: rows at once, except HELD_DAY's, held until the test releases them
    feedHeld = new Promise<void>((resolveHeld) => {
      feed = http.createServer((req, res) => {
        const day = new URL(req.url!, 'http://x').searchParams.get('date');
        const answer = (): void => {
          res.writeHead(200, { 'content-type': 'application/json' });
          res.end(JSON.stringify([{ id: 1, v: day }, { id: 2, v: day }, { id: 3, v: day }]));
        };
        if (day === HELD_DAY) {
          let answered = false;
          release = () => {
            if (!answered) answer();
            answered = true;
          };
          resolveHeld();
        } else answer();
      });
    });
    await new Promise<void>((r) => feed.listen(0, '127.0.0.1', r));
    const port = (feed.address() as AddressInfo).port;
    FILES['datasets/bronze/b_feed.ts'] = `import { dataset } from 'ingot';
export default dataset({
  name: 'bronze.b_feed',
  source: { kind: 'http', url: 'http://127.0.0.1:${port}/feed', query: { date: '{{logical_date}}' }, timeoutMs: 120000, columns: { id: 'INTEGER', v: 'VARCHAR' } },
  materialization: 'append',
});
`;
    for (const [file, text] of Object.entries(FILES)) {
      await fs.mkdir(path.dirname(path.join(dir, file)), { recursive: true });
      await fs.writeFile(path.join(dir, file), text);
    }
    // runs of `ingot run` (no pipeline recorded): two good days, 22 days of bronze.events alone, one failing day
    const never = ['--exclude', 'gold.never'];
    for (const args of [['--date', '2024-01-01', ...never], ['--date', '2024-01-02', '--exclude', 'gold.never', 'silver.stale_one'],
      ['--from', '2024-03-01', '--to', '2024-03-22', '-s', 'bronze.events']]) {
      const r = await cli(['run', '-p', dir, ...args]);
      assert.equal(r.code, 0, r.err);
    }
    const bad = await cli(['run', '-p', dir, '--date', BAD_DAY, ...never]);
    assert.equal(bad.code, 1, 'the bad day fails');
    // a column description: the Delta field metadata key `comment`, in a metadata-only commit
    const table = new Lake(path.join(dir, 'lake')).table(LONG);
    const snap = await table.snapshot();
    const schema = JSON.parse(snap.metadata.schemaString) as { fields: { name: string; metadata: Row }[] };
    schema.fields.find((f) => f.name === 'k')!.metadata = { comment: 'the key: k0 to k6, the row number modulo 7' };
    const log = path.join(dir, 'lake', ...LONG.split('.'), '_delta_log', `${String(snap.version + 1).padStart(20, '0')}.json`);
    await fs.writeFile(log, [{ commitInfo: { timestamp: Date.now(), operation: 'CHANGE COLUMN' } }, { metaData: { ...snap.metadata, schemaString: JSON.stringify(schema) } }].map((a) => JSON.stringify(a)).join('\n') + '\n', { flag: 'wx' });
    for (const scope of ['read', 'write'] as const) {
      const created = await cli(['keys', 'create', '--scope', scope, '-p', dir]);
      assert.equal(created.code, 0, created.err);
      keys[scope] = created.out.trim();
    }
    server = await startServe(dir, ['--port', '0', '--tick', '200'], httpListening);
    base = server.ready;
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
  });

  after(async () => {
    release();
    await context?.close();
    await browser?.close();
    await server?.stop();
    await new Promise((r) => feed?.close(r));
    await cleanup?.();
  });

  it('every run appears under its pipeline: runs of ingot run under the pipeline whose datasets they ran', async () => {
    const recorded = JSON.parse((await cli(['runs', '-p', dir, '--format', 'json', '--limit', '100'])).out) as Row[];
    assert.equal(recorded.length, 25);
    assert.ok(recorded.every((r) => r['pipeline'] === null), 'ingot run records no pipeline');
    const listed = await api('/api/runs?pipeline=events&limit=100');
    assert.equal(listed['count'], 25);
    assert.deepEqual((listed['items'] as Row[]).map((r) => r['id']), recorded.map((r) => r['run_id']));
    assert.ok((listed['items'] as Row[]).every((r) => r['pipeline'] === 'events' && r['attributed'] === true));
    assert.equal((await api('/api/runs?pipeline=live'))['count'], 0);
    failedRun = String(recorded.find((r) => r['status'] === 'failed')!['run_id']);

    await signIn(keys.read);
    assert.equal(await page.locator('.pipeline[data-pipeline=events] h3').innerText(), 'Runs (25)');
    // paged: 20 of 25, then the last 5
    assert.equal(await page.locator('.pipeline[data-pipeline=events] table.runs tbody tr').count(), 20);
    await page.click('.pipeline[data-pipeline=events] .pager button.next');
    await page.waitForSelector('.pipeline[data-pipeline=events] .pager:text-matches("21–25 of 25")');
    assert.deepEqual((await tableRows('.pipeline[data-pipeline=events] table.runs')).map((r) => r['run']), recorded.slice(20).map((r) => r['run_id']));
    assert.ok((await tableRows('.pipeline[data-pipeline=events] table.runs')).every((r) => r['trigger'] === 'ingot run'));
  });

  it('a failed run lists every dataset with its state: succeeded, failed with the error, skipped, not run, staged but not committed', async () => {
    await go(`#/runs/${encodeURIComponent(failedRun)}`, 'table.tasks');
    const rows = await tableRows('table.tasks');
    const state = Object.fromEntries(rows.map((r) => [r['dataset'], [r['state'], r['reason or error']]]));
    // every dataset of the pipeline the run ran: all but gold.never (excluded)
    assert.deepEqual(rows.map((r) => r['dataset']).sort(), ['bronze.a_quick', 'bronze.b_feed', 'bronze.dim', 'bronze.events', 'gold.fragile', 'gold.zz_after', LONG, 'silver.stale_one'].sort());
    assert.equal(state['gold.fragile']![0], 'failed');
    assert.match(String(state['gold.fragile']![1]), /EXPECTATION_FAILED|not_the_bad_day/);
    assert.ok(String(state['gold.fragile']![1]).includes(PAD), 'the whole error is shown');
    assert.equal(state['bronze.dim']![0], 'skipped');
    assert.match(String(state['bronze.dim']![1]), /^up to date/);
    assert.deepEqual(state['gold.zz_after'], ['not run', 'upstream gold.fragile failed']);
    // after the failure in the run's order, and not reading gold.fragile
    assert.deepEqual(state['silver.stale_one'], ['not run', 'the run stopped when gold.fragile failed']);
    for (const d of ['bronze.events', LONG, 'bronze.a_quick']) {
      assert.equal(state[d]![0], 'staged, not committed', d);
      // and indeed not committed: the lake holds no row of the bad day
      const [n] = await sql(`SELECT count(*) AS n FROM ${d} WHERE day = DATE '${BAD_DAY}'`);
      assert.equal(Number(n!['n']), 0, d);
    }
    // as the metadata store recorded it; gold.never was not selected, so it is not a step of the run
    const tasks = await sql(`SELECT dataset, status FROM _ingot.run_datasets WHERE run_id = '${failedRun}' ORDER BY dataset`);
    assert.deepEqual(tasks.filter((t) => t['status'] !== 'success').map((t) => [t['dataset'], t['status']]), [['bronze.dim', 'skipped'], ['gold.fragile', 'failed'], ['gold.zz_after', 'not_run'], ['silver.stale_one', 'not_run']]);
    assert.deepEqual(tasks.map((t) => t['dataset']), rows.map((r) => r['dataset']).sort());
  });

  it('a read key sees every action disabled with the reason', async () => {
    await go('#/pipelines', '.pipeline[data-pipeline=live] .actions');
    for (const selector of ['form.trigger button', 'form.backfill button', 'button.pause']) {
      assert.ok(await page.locator(`.pipeline[data-pipeline=live] ${selector}`).isDisabled(), selector);
      assert.match(await page.locator(`.pipeline[data-pipeline=live] ${selector}`).getAttribute('title') ?? '', /read scope: actions need a write key/);
    }
    assert.match(await page.locator('.pipeline[data-pipeline=live] .refusal').innerText(), /Actions disabled: your key has the read scope/);
    await go(`#/runs/${encodeURIComponent(failedRun)}`, 'button.retry');
    assert.ok(await page.locator('button.retry').isDisabled());
  });

  it('with a write key: a backfill shows its plan, then queues; the running run shows its dataset and rows live; the graph colours it running', async () => {
    await signIn(keys.write);
    await page.evaluate(() => { (window as unknown as { marker: number }).marker = 17; });
    const live = page.locator('.pipeline[data-pipeline=live]');
    await live.locator('input[name=from]').fill(HELD_DAY);
    await live.locator('input[name=to]').fill(HELD_DAY);
    await live.locator('form.backfill button').click();
    await live.locator('table.plan').waitFor();
    // the plan is `ingot plan`'s for the pipeline's datasets
    const planned = await cli(['plan', '-p', dir, '--date', HELD_DAY, '-s', 'bronze.a_quick', 'bronze.b_feed']);
    const want = planned.out.split('\n').filter((l) => /^\s+(run|skip)\s/.test(l)).map((l) => l.trim().split(/\s{2,}/)).map(([, d, reason]) => [d, reason]);
    const shown = (await tableRows('.pipeline[data-pipeline=live] table.plan')).map((r) => [r['dataset'], r['reason']]);
    assert.deepEqual(shown, want);
    assert.equal(await live.locator('.plan .meta').innerText(), '1 to queue, 0 skipped');
    assert.equal((await api('/api/runs?pipeline=live'))['count'], 0, 'nothing queued before confirming');
    await live.locator('button.confirm').click();
    await live.locator('.done:text-matches("Queued 1 interval of live \\\\(2024-02-01 to 2024-02-01\\\\)")').waitFor();

    // the scheduler runs it: bronze.a_quick writes 120 rows, then bronze.b_feed waits on the held request
    await feedHeld;
    await page.waitForSelector('p.live:text-matches("running: bronze.b_feed · 120 rows so far")', { timeout: 60_000 });
    await page.waitForSelector('.pipeline[data-pipeline=live] g.node[data-name="bronze.b_feed"][data-state=running]');
    const runs = (await api('/api/runs?pipeline=live'))['items'] as Row[];
    assert.equal(runs.length, 1);
    assert.equal(runs[0]!['status'], 'running');
    const detail = await api(`/api/runs/${runs[0]!['id']}`);
    assert.equal(detail['current'], 'bronze.b_feed');
    assert.equal(detail['rowsSoFar'], 120);
    await go(`#/runs/${encodeURIComponent(String(runs[0]!['id']))}`, 'p.progress');
    assert.equal(await page.locator('p.progress').innerText(), 'running bronze.b_feed · 120 rows so far');
    await page.evaluate(() => { (window as unknown as { marker: number }).marker = 18; });
    release();
    // without a reload: the run ends on the page
    await page.waitForSelector('h1 .badge.success', { timeout: 60_000 });
    assert.equal(await page.evaluate(() => (window as unknown as { marker: number }).marker), 18);
    const states = await tableRows('table.tasks');
    assert.deepEqual(states.map((r) => [r['dataset'], r['state'], r['rows']]), [['bronze.a_quick', 'succeeded', '120'], ['bronze.b_feed', 'succeeded', '3']]);
    const [fed] = await sql(`SELECT count(*) AS n FROM bronze.b_feed WHERE v = '${HELD_DAY}'`);
    assert.equal(Number(fed!['n']), 3);

    // its logs: a table with a level filter and a search
    await page.waitForSelector('table.log tbody tr');
    const all = await page.locator('table.log tbody tr').count();
    assert.ok(all >= 2);
    await page.fill('input[name=search]', 'attempt-success');
    assert.deepEqual((await tableRows('table.log')).map((r) => r['event']), ['attempt-success']);
    await page.fill('input[name=search]', '');
    await page.selectOption('select[name=level]', 'error');
    assert.equal(await page.locator('table.log tbody tr').count(), 0);
    assert.match(await page.locator('.log-table .meta').innerText(), new RegExp(`^0 of ${all} lines$`));
  });

  it('with a write key: retry a failed run, trigger an interval, pause and resume; each says what it did', async () => {
    await go(`#/runs/${encodeURIComponent(failedRun)}`, 'button.retry');
    await page.click('button.retry');
    await page.waitForSelector(`.done:text-is("Queued events for ${BAD_DAY} again: the scheduler runs it as a new run.")`);
    const retried = await waitFor('the retried run to end', async () => {
      const items = (await api('/api/runs?pipeline=events&limit=3'))['items'] as Row[];
      return items.find((r) => r['logicalDate'] === BAD_DAY && r['trigger'] === 'manual' && r['status'] !== 'running');
    });
    assert.equal(retried['status'], 'failed', 'the bad day fails again');
    assert.ok(String(retried['error']).includes(PAD));

    await go('#/pipelines', '.pipeline[data-pipeline=live] form.trigger');
    const live = page.locator('.pipeline[data-pipeline=live]');
    await live.locator('input[name=date]').fill('2024-02-02');
    await live.locator('form.trigger button').click();
    await live.locator('.done:text-is("Queued live for 2024-02-02: the scheduler of ingot serve runs it next.")').waitFor();
    await waitFor('the triggered run', async () => ((await api('/api/runs?pipeline=live'))['items'] as Row[]).find((r) => r['logicalDate'] === '2024-02-02' && r['status'] === 'success'));
    // the page follows without a reload
    await page.waitForSelector('.pipeline[data-pipeline=live] .runs-box h3:text-is("Runs (2)")');

    await live.locator('button.pause').click();
    await live.locator('.done:text-is("Paused live: it starts no new runs.")').waitFor();
    assert.deepEqual(((await api('/api/pipelines'))['items'] as Row[]).map((p) => [p['name'], p['paused']]), [['events', false], ['live', true]]);
    await page.waitForSelector('.pipeline[data-pipeline=live] h2 .badge.paused');
    await live.locator('button.pause:text-is("Resume")').click();
    await live.locator('.done:text-is("Resumed live: its schedule and queued runs start again.")').waitFor();
    assert.deepEqual(((await api('/api/pipelines'))['items'] as Row[]).map((p) => p['paused']), [false, false]);
  });

  it('the graph colours each dataset by its latest state; a node opens its dataset page', async () => {
    await go('#/pipelines', '.pipeline[data-pipeline=events] g.node');
    const states = Object.fromEntries(await page.locator('.pipeline[data-pipeline=events] g.node').evaluateAll((gs) => gs.map((g) => [g.getAttribute('data-name'), g.getAttribute('data-state')])));
    assert.deepEqual(states, {
      'bronze.dim': 'succeeded', 'bronze.events': 'succeeded', [LONG]: 'succeeded', 'silver.stale_one': 'stale',
      'gold.fragile': 'failed', 'gold.zz_after': 'succeeded', 'gold.never': 'never run',
    });
    assert.equal(await page.locator(`.pipeline[data-pipeline=events] g.node[data-name="gold.fragile"] rect`).evaluate((r) => getComputedStyle(r).fill), 'rgb(253, 236, 234)');
    await page.click(`.pipeline[data-pipeline=events] g.node[data-name="${LONG}"]`);
    await page.waitForSelector('table.schema');
    const snap = await new Lake(path.join(dir, 'lake')).table(LONG).snapshot();
    assert.match(await page.locator('.facts').innerText(), new RegExp(`version ${snap.version} · CHANGE COLUMN`));
    assert.match(await page.locator('.freshness').innerText(), /ago$/);
    const schema = await tableRows('table.schema');
    assert.deepEqual(schema.map((r) => [r['column'], r['description']]), [['day', ''], ['i', ''], ['k', 'the key: k0 to k6, the row number modulo 7']]);
    assert.match(await page.locator('.facts').innerText(), /upstream: bronze\.events · downstream: gold\.fragile/);
    assert.equal((await page.locator('pre.sql').innerText()).trim(), FILES[`datasets/silver/${LONG.split('.')[1]}.sql`]!.split('\n').slice(1).join('\n').trim());
    // its recent runs: the ones that ran it
    const runs = await sql(`SELECT count(DISTINCT run_id) AS n FROM _ingot.run_datasets WHERE dataset = '${LONG}'`);
    assert.match(await page.locator('h2:text-matches("Recent runs")').innerText(), new RegExp(`\\(${Number(runs[0]!['n'])}\\)`));
    // a dataset with an expectation: its pass rate by logical date, one point per run that checked it
    await go('#/datasets/bronze.events', '.trend-chart svg');
    const [checked] = await sql("SELECT count(DISTINCT run_id) AS n FROM _ingot.run_datasets WHERE dataset = 'bronze.events' AND len(expectations) > 0");
    assert.equal(await page.locator('.trend-chart g.mark-symbol.role-mark path').count(), Number(checked!['n']));
    assert.deepEqual(await page.locator('table.expectations td[data-col=condition]').allInnerTexts(), ['i < 240']);
  });

  it('one pass rate (rows passed ÷ rows checked) in the API, the UI and ingot checks; the grid ordered by logical date', async () => {
    // bronze.events checks 250 rows a run and 10 fail i_small (i >= 240): 96 % of rows, whatever the number of runs
    const stat = ((await api('/api/expectations'))['items'] as Row[]).find((e) => e['dataset'] === 'bronze.events' && e['name'] === 'i_small')!;
    assert.equal(stat['passRate'], 0.96);
    assert.equal(stat['rowsChecked'], Number(stat['runs']) * 250);
    assert.equal(stat['failingRuns'], stat['runs'], 'every run fails it: a per-run rate would say 0 %');
    const checks = JSON.parse((await cli(['checks', 'bronze.events', '-p', dir, '--format', 'json'])).out) as Row[];
    assert.equal(Number(checks[0]!['pass_rate_pct']), 96);
    assert.equal(Number(checks[0]!['rows_checked']), stat['rowsChecked']);
    await go('#/quality', '.quality-runs svg');
    const shown = (await tableRows('table.quality')).find((r) => r['dataset'] === 'bronze.events');
    assert.equal(shown!['percent'], '96.00 %');
    // the failed runs' failures are counted, in the API and in ingot checks
    const fragile = JSON.parse((await cli(['checks', 'gold.fragile', '-p', dir, '--format', 'json'])).out) as Row[];
    assert.equal(Number(fragile[0]!['failing_runs']), 2);
    assert.ok(Number(fragile[0]!['pass_rate_pct']) < 100);
    // grid columns in logical-date order
    const labels = await page.locator('.quality-runs g.role-axis-label text').first().evaluate((t) => [...t.parentElement!.querySelectorAll('text')].map((x) => x.textContent ?? ''));
    const dates = labels.filter((l) => /^\d{4}-\d{2}-\d{2}$/.test(l));
    assert.ok(dates.length > 5);
    assert.deepEqual(dates, [...dates].sort());
  });

  it('rows and history are paged; the rows viewer filters and sorts through the API; headers are words', async () => {
    await go('#/tables', 'table.tables');
    assert.deepEqual(await page.locator('table.tables th').allInnerTexts(), ['name', 'version', 'rows', 'files', 'size', 'partitioned by', 'last modified']);
    await go('#/tables/bronze.events', 'table.history tbody tr');
    assert.equal(await page.locator('table.history tbody tr').count(), 20);
    const history = await new Lake(path.join(dir, 'lake')).table('bronze.events').history();
    await page.click('.history button.next');
    await page.waitForSelector(`.history .pager:text-matches("21–${history.length} of ${history.length}")`);
    assert.deepEqual((await page.locator('table.history td[data-col=version]').allInnerTexts()).map(Number), history.slice(20).map((h) => h.version));
    await page.selectOption('select[name=filter-column]', 'i');
    await page.selectOption('select[name=filter-op]', 'lt');
    await page.fill('input[name=filter-value]', '3');
    await page.selectOption('select[name=sort]', 'day:desc');
    await page.click('.row-controls button[type=submit]');
    const [n] = await sql('SELECT count(*) AS n FROM bronze.events WHERE i < 3');
    await page.waitForSelector(`.rows .row-count:text-is("${Number(n!['n'])}")`);
    const rows = await tableRows('table.sample');
    assert.ok(rows.every((r) => Number(r['i']) < 3));
    const days = rows.map((r) => String(r['day']));
    assert.deepEqual(days, [...days].sort().reverse());
  });

  it('no page overflows sideways at 1,400 or 420 px, with the longest error, table name and log line', async () => {
    const retried = ((await api('/api/runs?pipeline=events&status=failed'))['items'] as Row[]).find((r) => r['trigger'] === 'manual')!;
    const pages: [string, string, string][] = [
      ['pipelines', '#/pipelines', '.pipeline[data-pipeline=events] .runs-chart svg'],
      ['run-failed', `#/runs/${encodeURIComponent(failedRun)}`, 'table.tasks'],
      ['run-log', `#/runs/${encodeURIComponent(String(retried['id']))}`, 'table.log tbody tr'],
      ['dataset', `#/datasets/${LONG}`, 'table.schema'],
      ['dataset-checks', '#/datasets/bronze.events', '.trend-chart svg'],
      ['tables', '#/tables', 'table.tables'],
      ['table', `#/tables/${LONG}`, 'table.history tbody tr'],
      ['quality', '#/quality', '.quality-runs svg'],
      ['dashboards', '#/dashboards', 'h1'],
    ];
    for (const width of [1400, 420]) {
      await signIn(keys.write, width);
      for (const [name, hash, ready] of pages) {
        await go(hash, ready);
        if (name === 'run-log') {
          // the longest log line: the failed attempt's error with the 1,500-character word
          assert.ok((await page.locator('table.log').evaluate((t) => t.textContent ?? '')).includes(PAD));
        }
        const m = await page.evaluate(() => ({ scroll: document.documentElement.scrollWidth, inner: window.innerWidth }));
        assert.ok(m.scroll <= m.inner, `${name} at ${width} px: scrollWidth ${m.scroll} > innerWidth ${m.inner}`);
        if (SHOTS) {
          await fs.mkdir(path.join(ROOT, 'docs', 'screenshots'), { recursive: true });
          await page.screenshot({ path: path.join(ROOT, 'docs', 'screenshots', `console-${name}-${width}.png`), fullPage: true });
        }
      }
    }
  });
});
