/**
 * The web UI end to end: a real `ingot serve` (child process) over a copy of the flights example
 * after a backfill of four real days (one of them with three bad rows, quarantined), driven in
 * Debian's headless chromium through playwright-core. Every page is checked against the lake and
 * the metadata store read directly (the CLI, Delta snapshots): graph, runs, a run's datasets,
 * expectations and log, tables (schema, sample rows, paging, history, time travel), pass rates,
 * and the dashboard's charts (one SVG mark per row, labelled with its values) and CSV downloads.
 *
 * `INGOT_SCREENSHOTS=1` (`npm run screenshots`) also saves docs/screenshots/*.png.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, promises as fs } from 'node:fs';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { chromium, type Browser, type Page } from 'playwright-core';
import { Lake } from '../src/table/lake.js';
import { cli, flightsProject, httpListening, ROOT, startServe, tempDir, type ServeProcess } from './fixtures.js';

const CHROMIUM = '/usr/bin/chromium';
const DAYS = ['2001-01-01', '2001-01-02', '2001-01-03', '2001-01-04'];
const BAD_DAY = '2001-01-03';
/** Appended to the bad day's landing file: two unknown airports and one delay out of range. */
const BAD_ROWS = ['2001-01-03 10:00:00,12,300,ZZZ,LAX', '2001-01-03 11:00:00,3000,300,SFO,LAX', '2001-01-03 12:00:00,5,300,SFO,QQQ'];
const SHOTS = process.env['INGOT_SCREENSHOTS'] === '1';
type Row = Record<string, unknown>;

/** A value as text both sides agree on: numbers to 10 significant digits, timestamps without T/Z/zone. */
function norm(v: unknown): string {
  if (v === null || v === undefined) return '';
  const s = typeof v === 'object' ? JSON.stringify(v) : String(v).trim();
  if (/^-?\d+(\.\d+)?(e[-+]?\d+)?$/i.test(s)) return String(Number(Number(s).toPrecision(10)));
  const t = /^(\d{4}-\d{2}-\d{2})[ T](\d{2}:\d{2}:\d{2})(\.0+)?(Z|[+-]00(:?00)?)?$/.exec(s);
  return t ? `${t[1]} ${t[2]}` : s;
}

const normRow = (columns: string[], r: Row | string[]): string =>
  JSON.stringify(columns.map((c, i) => norm(Array.isArray(r) ? r[i] : r[c])));

/** RFC 4180 CSV text as rows of fields (the first is the header). */
function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') { field += '"'; i++; }
      else if (c === '"') quoted = false;
      else field += c;
    } else if (c === '"') quoted = true;
    else if (c === ',') { row.push(field); field = ''; }
    else if (c === '\n' || c === '\r') {
      if (c === '\r' && text[i + 1] === '\n') i++;
      row.push(field); rows.push(row); row = []; field = '';
    } else field += c;
  }
  if (field || row.length) { row.push(field); rows.push(row); }
  return rows;
}

describe('web UI in a real browser over a real ingot serve', () => {
  let dir: string;
  let cleanup: () => Promise<void>;
  let server: ServeProcess<string> | undefined;
  let base: string;
  let key: string;
  let browser: Browser;
  let page: Page;
  /** What the browser reported refusing under the server's Content-Security-Policy, over every page visited. */
  const refused: string[] = [];

  /** Rows of a SELECT over the project's lake, through the CLI (`--version t=N` for time travel). */
  const sql = async (select: string, ...args: string[]): Promise<Row[]> => {
    const r = await cli(['sql', '-p', dir, '--format', 'json', ...args, select]);
    assert.equal(r.code, 0, r.err);
    return JSON.parse(r.out) as Row[];
  };
  const texts = (selector: string): Promise<string[]> => page.locator(selector).allInnerTexts().then((t) => t.map((x) => x.trim()));
  /** Cell texts of the rows of a table, by column name. */
  const tableRows = async (selector: string): Promise<Row[]> => page.locator(selector).evaluate((table) => {
    const heads = [...table.querySelectorAll('thead th')].map((th) => th.textContent ?? '');
    return [...table.querySelectorAll('tbody tr')].map((tr) => Object.fromEntries([...tr.querySelectorAll('td')].map((td, i) => [heads[i], td.textContent ?? ''])));
  });
  const go = async (hash: string, ready: string): Promise<void> => {
    await page.goto(`${base}/${hash}`);
    await page.waitForSelector(ready);
  };
  const shot = async (name: string): Promise<void> => {
    if (!SHOTS) return;
    await fs.mkdir(path.join(ROOT, 'docs', 'screenshots'), { recursive: true });
    await page.screenshot({ path: path.join(ROOT, 'docs', 'screenshots', `${name}.png`), fullPage: true });
  };

  before(async () => {
    // the UI as the working tree has it
    await promisify(execFile)(path.join(ROOT, 'node_modules', '.bin', 'vite'), ['build', '--logLevel', 'error'], { cwd: ROOT });
    ({ dir, cleanup } = await tempDir('ui'));
    await flightsProject(dir, DAYS);
    await fs.appendFile(path.join(dir, 'landing', 'flights', `date=${BAD_DAY}`, 'flights.csv'), BAD_ROWS.join('\n') + '\n');
    const backfill = await cli(['backfill', 'default', '-p', dir, '--from', DAYS[0]!, '--to', DAYS.at(-1)!]);
    assert.equal(backfill.code, 0, backfill.err);
    assert.equal((await cli(['pause', 'default', '-p', dir])).code, 0);
    const created = await cli(['keys', 'create', '--scope', 'read', '--name', 'ui-test', '-p', dir]);
    assert.equal(created.code, 0, created.err);
    key = created.out.trim();

    server = await startServe(dir, ['--port', '0'], httpListening);
    base = server.ready;
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
  });

  after(async () => {
    await browser?.close();
    await server?.stop();
    await cleanup?.();
  });

  it('refuses a wrong key with the server\'s auth error, and shows nothing', async () => {
    const context = await browser.newContext();
    const p = await context.newPage();
    await p.goto(`${base}/#/pipelines`);
    await p.fill('input[name=key]', `${key.slice(0, -4)}xxxx`);
    await p.click('form.key-form button[type=submit]');
    const error = await p.waitForSelector('.auth-error');
    assert.match(await error.innerText(), /401/);
    assert.equal(await p.locator('.pipeline').count(), 0);
    await context.close();
  });

  it('pipelines: the dataset graph, paused state and runs of the pipeline', async () => {
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 }, acceptDownloads: true });
    page = await context.newPage();
    page.on('pageerror', (e) => assert.fail(`page error: ${e.message}`));
    page.on('console', (m) => { if (/Content Security Policy|Refused to/i.test(m.text())) refused.push(m.text()); });
    await page.goto(`${base}/`);
    await page.fill('input[name=key]', key);
    await page.click('form.key-form button[type=submit]');
    await page.waitForSelector('.pipeline[data-pipeline=default] .runs-chart svg');

    // nodes and edges equal `ingot graph`
    const graph = await cli(['graph', '-p', dir]);
    const edges: string[] = [];
    let current = '';
    for (const line of graph.out.split('\n')) {
      if (!line.startsWith(' ')) current = line.split(' ')[0]!;
      else if (line.trim().startsWith('← ')) edges.push(`${line.trim().slice(2)}->${current}`);
    }
    const nodes = graph.out.split('\n').filter((l) => !l.startsWith(' ')).map((l) => l.split(' ')[0]!);
    assert.deepEqual((await page.locator('svg.graph g.node').evaluateAll((gs) => gs.map((g) => g.getAttribute('data-name')))).sort(), [...nodes].sort());
    assert.equal(nodes.length, 6);
    assert.deepEqual((await page.locator('svg.graph path.edge').evaluateAll((ps) => ps.map((p) => `${p.getAttribute('data-from')}->${p.getAttribute('data-to')}`))).sort(), edges.sort());
    assert.deepEqual(await texts('.pipeline h2 .badge'), ['paused']);

    // the runs equal the metadata store's
    const runs = JSON.parse((await cli(['runs', '-p', dir, '--format', 'json'])).out) as Row[];
    const shown = await tableRows('.pipeline table.runs');
    assert.deepEqual(shown.map((r) => [r['run'], r['logical date'], r['status'], r['rows']]),
      runs.map((r) => [r['run_id'], r['logical_date'], r['status'], Number(r['rows_written']).toLocaleString('en-US')]));
    assert.deepEqual(shown.map((r) => r['logical date']).sort(), DAYS);
    assert.equal(await page.locator('.runs-chart g.mark-symbol.role-mark path').count(), runs.length);
    await shot('pipelines');
  });

  it('a run: per-dataset rows, quarantine counts, expectations and the task log', async () => {
    await page.click(`table.runs a:text-matches("${BAD_DAY}")`);
    await page.waitForSelector('table.log');
    const runId = decodeURIComponent(page.url().split('#/runs/')[1]!);
    const tasks = await tableRows('table.tasks');
    assert.deepEqual(tasks.map((t) => t['dataset']), ['bronze.airports', 'bronze.flights_raw', 'silver.flights', 'gold.airport_daily', 'gold.route_monthly', 'gold.top5_monthly']);
    const byName = new Map(tasks.map((t) => [t['dataset'], t]));
    const [silver] = await sql(`SELECT count(*) AS n FROM silver.flights WHERE flight_date = DATE '${BAD_DAY}'`);
    const [bronze] = await sql(`SELECT count(*) AS n FROM bronze.flights_raw WHERE flight_date = DATE '${BAD_DAY}'`);
    assert.equal(byName.get('silver.flights')!['rows'], Number(silver!['n']).toLocaleString('en-US'));
    assert.equal(byName.get('bronze.flights_raw')!['rows'], Number(bronze!['n']).toLocaleString('en-US'));
    assert.equal(Number(bronze!['n']) - Number(silver!['n']), BAD_ROWS.length);
    // quarantine: the three bad rows, by the expectation each failed
    const quarantined = await sql(`SELECT _failed_expectations AS e, count(*) AS n FROM silver.flights_quarantine WHERE _run_id = '${runId}' GROUP BY 1 ORDER BY 1`);
    assert.deepEqual(quarantined.map((q) => [q['e'], Number(q['n'])]), [['delay_in_range', 1], ['known_airports', 2]]);
    assert.equal(byName.get('silver.flights')!['quarantined'], String(BAD_ROWS.length));
    const expectations = await tableRows('table.expectations');
    assert.deepEqual(expectations.map((e) => [e['name'], e['result'], e['failed rows']]),
      [['delay_in_range', 'failed', '1'], ['known_airports', 'failed', '2'], ['positive_distance', 'passed', '0']]);
    // rows checked: the rows silver.flights' query produced, the bad day's bronze rows
    assert.ok(expectations.every((e) => e['rows checked'] === Number(bronze!['n']).toLocaleString('en-US')));
    // every dataset of the run with its state
    assert.ok(tasks.every((t) => t['state'] === 'succeeded' || (t['state'] === 'skipped' && /up to date/.test(String(t['reason or error'])))), JSON.stringify(tasks));
    assert.equal(byName.get('silver.flights')!['state'], 'succeeded');
    // the log of silver.flights: a table of this run's events, ending with its success and row count
    assert.equal(await page.locator('select[name=dataset]').inputValue(), 'silver.flights');
    await page.waitForSelector('table.log tbody tr');
    const log = await tableRows('table.log');
    assert.ok(log.length >= 2);
    const success = log.find((l) => l['event'] === 'attempt-success');
    assert.match(String(success?.['details']), new RegExp(`rowsOut=${Number(silver!['n'])}\\b`));
    assert.match(String(success?.['details']), new RegExp(`quarantined=${BAD_ROWS.length}\\b`));
    assert.ok(log.every((l) => !/runId=/.test(String(l['details'])) || String(l['details']).includes(`runId=${runId}`)));
    await shot('run');
  });

  it('tables: list, schema, sample rows with paging, history and time travel', async () => {
    await go('#/tables', 'table.tables');
    const listed = await tableRows('table.tables');
    const lake = new Lake(path.join(dir, 'lake'));
    const tables = JSON.parse((await cli(['tables', '-p', dir, '--format', 'json'])).out) as { table: string; version: number }[];
    assert.deepEqual(listed.map((t) => [t['name'], Number(t['version'])]), tables.map((t) => [t.table, t.version]));

    await page.click('table.tables a:text-is("silver.flights")');
    await page.waitForSelector('table.sample tbody tr');
    const snapshot = await lake.table('silver.flights').snapshot();
    assert.deepEqual(await texts('table.schema tbody td[data-col=name]'), snapshot.schema.fields.map((f) => f.name));
    const columns = snapshot.schema.fields.map((f) => f.name);
    const [all] = await sql('SELECT count(*) AS n FROM silver.flights');
    assert.equal(await page.locator('.rows .row-count').innerText(), Number(all!['n']).toLocaleString('en-US'));
    // two pages of 20 rows, all distinct rows of the table; Previous brings back the first
    const everything = new Map<string, number>();
    for (const r of await sql('SELECT * FROM silver.flights')) everything.set(normRow(columns, r), (everything.get(normRow(columns, r)) ?? 0) + 1);
    const page1 = (await tableRows('table.sample')).map((r) => normRow(columns, r));
    await page.click('.rows button.next');
    await page.waitForSelector('.rows .meta:text-matches("21–40")');
    const page2 = (await tableRows('table.sample')).map((r) => normRow(columns, r));
    assert.equal(page1.length, 20);
    assert.equal(page2.length, 20);
    for (const r of [...page1, ...page2]) assert.ok(everything.has(r), `row not in silver.flights: ${r}`);
    assert.ok(page1.every((r) => !page2.includes(r) || everything.get(r)! > 1), 'pages overlap');
    await page.click('.rows button.prev');
    await page.waitForSelector('.rows .meta:text-matches("1–20")');
    assert.deepEqual((await tableRows('table.sample')).map((r) => normRow(columns, r)), page1);

    // history: the table's versions, newest first
    const history = await lake.table('silver.flights').history(100);
    assert.deepEqual((await texts('table.history td[data-col=version]')).map(Number), history.map((h) => h.version).sort((a, b) => b - a));
    assert.equal(history.length, DAYS.length);
    await shot('table');

    // time travel: version 0 holds the first day only
    await page.selectOption('select[name=version]', '0');
    await page.waitForSelector('.rows h2:text-is("Rows at version 0")');
    const [v0] = await sql('SELECT count(*) AS n FROM silver.flights', '--version', 'silver.flights=0');
    const [day1] = await sql(`SELECT count(*) AS n FROM silver.flights WHERE flight_date = DATE '${DAYS[0]}'`);
    assert.equal(Number(v0!['n']), Number(day1!['n']));
    assert.notEqual(Number(v0!['n']), Number(all!['n']));
    assert.equal(await page.locator('.rows .row-count').innerText(), Number(v0!['n']).toLocaleString('en-US'));
    const v0Rows = (await tableRows('table.sample')).map((r) => r['flight_date']);
    assert.ok(v0Rows.every((d) => d === DAYS[0]), v0Rows.join());

    // a small table: every sample row equals the direct query
    await go('#/tables/gold.top5_monthly', 'table.sample tbody tr');
    const top5Columns = (await lake.table('gold.top5_monthly').snapshot()).schema.fields.map((f) => f.name);
    const direct = (await sql('SELECT * FROM gold.top5_monthly')).map((r) => normRow(top5Columns, r)).sort();
    assert.ok(direct.length > 0 && direct.length <= 20);
    assert.deepEqual((await tableRows('table.sample')).map((r) => normRow(top5Columns, r)).sort(), direct);
  });

  it('data quality: each expectation\'s pass rate over the runs', async () => {
    await go('#/quality', '.quality-runs svg');
    // pass rate = rows that passed ÷ rows checked: silver.flights checks every bronze row; the quarantine holds the failed ones
    const runs = JSON.parse((await cli(['runs', '-p', dir, '--format', 'json'])).out) as Row[];
    const [checked] = await sql('SELECT count(*) AS n FROM bronze.flights_raw');
    const failing = await sql('SELECT _failed_expectations AS e, count(*) AS n FROM silver.flights_quarantine GROUP BY 1');
    const failedRows = (name: string) => failing.filter((f) => String(f['e']).split(/[,;] ?/).includes(name)).reduce((s, f) => s + Number(f['n']), 0);
    const total = Number(checked!['n']);
    const want = ['delay_in_range', 'known_airports', 'positive_distance'].map((name) =>
      [name, total.toLocaleString('en-US'), String(failedRows(name)), `${(((total - failedRows(name)) / total) * 100).toFixed(2)} %`]);
    assert.deepEqual((await tableRows('table.quality')).map((r) => [r['name'], r['rows checked'], r['failed rows'], r['percent']]), want);
    assert.deepEqual(want.map((w) => w[2]), ['1', '2', '0']);
    assert.equal(await page.locator('.quality-chart g.mark-rect.role-mark path').count(), 3);
    // the grid: one cell per expectation and run, red where the run failed it
    assert.equal(await page.locator('.quality-runs g.mark-rect.role-mark path').count(), 3 * runs.length);
    assert.equal(await page.locator('.quality-runs g.mark-rect.role-mark path[fill="#e53935"]').count(), 2);
    await shot('quality');
  });

  it('dashboards: each panel drawn from its query, one mark per row, and its CSV download', async () => {
    await go('#/dashboards', 'ul.dashboards');
    assert.deepEqual(await texts('ul.dashboards a'), ['Flight delays']);
    await page.click('ul.dashboards a');
    await page.waitForSelector('.panel[data-panel="2"] svg');
    await page.waitForSelector('.panel[data-panel="3"] table');
    const config = (await import(pathToFileURL(path.join(dir, 'ingot.config.ts')).href)) as { default: { dashboards: { panels: { title: string; type: string; sql: string; x?: string; y?: string }[] }[] } };
    const panels = config.default.dashboards[0]!.panels;
    assert.deepEqual(await page.locator('.panel h2').evaluateAll((hs) => hs.map((h) => h.firstChild?.textContent?.trim())), panels.map((p) => p.title));
    for (const [i, p] of panels.entries()) {
      const rows = await sql(p.sql);
      assert.ok(rows.length > 0, p.title);
      const columns = Object.keys(rows[0]!);
      const panel = page.locator(`.panel[data-panel="${i}"]`);
      if (p.type === 'table') {
        assert.deepEqual((await panel.locator('table').evaluate((t) => [...t.querySelectorAll('tbody tr')].map((tr) => [...tr.querySelectorAll('td')].map((td) => td.textContent ?? ''))))
          .map((r) => normRow(columns, r)), rows.map((r) => normRow(columns, r)));
      } else {
        // each mark's ARIA label names its x and y values: they are the query's rows, in order
        const marks = panel.locator(p.type === 'bar' ? 'g.mark-rect.role-mark path' : 'g.mark-symbol.role-mark path');
        assert.equal(await marks.count(), rows.length, p.title);
        const labels = await marks.evaluateAll((ms) => ms.map((m) => m.getAttribute('aria-label') ?? ''));
        const pairs = labels.map((l) => Object.fromEntries(l.split('; ').map((kv) => kv.split(': ') as [string, string])));
        assert.deepEqual(pairs.map((x) => [norm(x[p.x!]), norm(String(x[p.y!]).replace(/,/g, '').replace(/\u2212/g, '-'))]), rows.map((r) => [norm(r[p.x!]), norm(r[p.y!])]), p.title);
      }
      const [download] = await Promise.all([page.waitForEvent('download'), panel.locator('a.csv').click()]);
      const csv = parseCsv(await fs.readFile(await download.path(), 'utf8'));
      assert.deepEqual(csv[0], columns);
      assert.deepEqual(csv.slice(1).map((r) => normRow(columns, r)), rows.map((r) => normRow(columns, r)), `${p.title} CSV`);
    }
    await shot('dashboard');
  });

  it('serves the built UI (index and assets) without a key', async () => {
    assert.ok(existsSync(path.join(ROOT, 'dist', 'ui', 'index.html')));
    const res = await fetch(`${base}/`);
    assert.equal(res.status, 200);
    assert.match(await res.text(), /<script type="module"[^>]+src="\.\/assets\/index-[\w-]+\.js"/);
  });

  it('sends the security headers, and every page and chart works under its Content-Security-Policy (issue 19, item 11)', async () => {
    const res = await fetch(`${base}/`);
    const csp = res.headers.get('content-security-policy') ?? '';
    assert.match(csp, /default-src 'self'/);
    assert.match(csp, /frame-ancestors 'none'/);
    assert.doesNotMatch(csp, /unsafe-eval/);
    assert.equal(res.headers.get('x-frame-options'), 'DENY');
    assert.equal(res.headers.get('x-content-type-options'), 'nosniff');
    assert.equal(res.headers.get('referrer-policy'), 'no-referrer');
    // the pages above (graph, run, tables, quality, dashboards with their Vega charts) ran under it
    assert.deepEqual(refused, []);
  });
});
