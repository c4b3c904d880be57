/**
 * The command line's rough edges (issue "The operator console", its CLI section), on a real
 * flights project with two days run: unknown names exit non-zero with their error code, JSON
 * numbers, headers for zero rows, `--set` as a user types it, and `ingot graph` in every format
 * with expectation marks only from a run's results.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { cli, flightsProject, tempDir } from './fixtures.js';

describe('the command line', () => {
  let dir: string;
  let cleanup: () => Promise<void>;
  before(async () => {
    ({ dir, cleanup } = await tempDir('cli'));
    await flightsProject(dir, ['2001-01-12', '2001-01-13']);
  });
  after(() => cleanup());

  it('graph marks no expectation before a run, and each from the latest results after', async () => {
    const before = await cli(['graph', '-p', dir]);
    assert.equal(before.code, 0, before.err);
    assert.doesNotMatch(before.out, /✓|✗/);
    assert.match(before.out, /· delay_in_range \(quarantine\): .*\(not checked yet\)/);

    const run = await cli(['run', '-p', dir, '--from', '2001-01-12', '--to', '2001-01-13']);
    assert.equal(run.code, 0, run.err);
    const after = await cli(['graph', '-p', dir]);
    assert.match(after.out, /✓ positive_distance \(quarantine\): distance_mi > 0 \(last checked 2001-01-13\)/);

    const json = JSON.parse((await cli(['graph', '-p', dir, '--format', 'json'])).out) as { dataset: string; dependsOn: string[]; expectations: { name: string; last?: { failed: number } }[] }[];
    const silver = json.find((n) => n.dataset === 'silver.flights')!;
    assert.deepEqual(silver.dependsOn.sort(), ['bronze.airports', 'bronze.flights_raw']);
    assert.equal(silver.expectations.find((e) => e.name === 'positive_distance')!.last!.failed, 0);
    const dot = (await cli(['graph', '-p', dir, '--format', 'dot'])).out;
    assert.match(dot, /^digraph ingot \{/);
    assert.match(dot, /"silver\.flights" -> "gold\.route_monthly";/);
    const mermaid = (await cli(['graph', '-p', dir, '--format', 'mermaid'])).out;
    assert.match(mermaid, /^flowchart LR\n/);
    assert.match(mermaid, /silver_flights --> gold_route_monthly/);
  });

  it('a full refresh on a terminal shows each dataset as it finishes; into a file or pipe, only the run', async () => {
    const { main } = await import('../src/cli/main.js');
    const err: string[] = [];
    const code = await main(['run', '-p', dir, '--full-refresh'], { out: () => {}, err: (t) => err.push(t), progress: true });
    assert.equal(code, 0, err.join('\n'));
    const lines = err.join('\n').split('\n');
    const done = lines.findIndex((l) => /full refresh {2}ok/.test(l));
    for (const d of ['bronze.flights_raw', 'silver.flights', 'gold.route_monthly']) {
      const at = lines.findIndex((l) => new RegExp(`^ {4}${d.replace('.', '\\.')} {2}[\\d,]+ rows`).test(l));
      assert.ok(at >= 0 && at < done, `${d} before the run's line:\n${lines.join('\n')}`);
    }
    const quiet = await cli(['run', '-p', dir, '--full-refresh']);
    assert.equal(quiet.code, 0, quiet.err);
    assert.doesNotMatch(quiet.err, /^ {4}silver\.flights/m);
  });

  it('unknown tables and datasets exit 1 with their error code', async () => {
    const history = await cli(['history', '-p', dir, 'gold.nope']);
    assert.equal(history.code, 1);
    assert.match(history.err, /error \[TABLE_NOT_FOUND\]: no table gold\.nope/);
    const checks = await cli(['checks', '-p', dir, 'nope']);
    assert.equal(checks.code, 1);
    assert.match(checks.err, /error \[DATASET_UNKNOWN\]: no dataset nope in the project \(datasets: bronze\.airports, /);
    const optimize = await cli(['optimize', '-p', dir, 'gold.nope']);
    assert.equal(optimize.code, 1);
    assert.match(optimize.err, /TABLE_NOT_FOUND/);
  });

  it('sql --format json prints integers and decimals as numbers when a double holds them exactly, strings otherwise', async () => {
    const r = await cli(['sql', '-p', dir, '--format', 'json',
      "SELECT count(*) AS n, CAST(2.50 AS DECIMAL(5,2)) AS d, CAST('12345678901234567.1' AS DECIMAL(18,1)) AS wide, 9007199254740993::BIGINT AS big, -3::INTEGER AS i, 0.25::DOUBLE AS f, '7' AS s FROM silver.flights"]);
    assert.equal(r.code, 0, r.err);
    const [row] = JSON.parse(r.out) as Record<string, unknown>[];
    assert.equal(typeof row!['n'], 'number');
    assert.ok((row!['n'] as number) > 20_000);
    assert.deepEqual({ ...row, n: 0 }, { n: 0, d: 2.5, wide: '12345678901234567.1', big: '9007199254740993', i: -3, f: 0.25, s: '7' });
  });

  it('a zero-row result prints its header in csv and table, and [] in json', async () => {
    const sql = "SELECT origin, destination FROM silver.flights WHERE origin = 'none'";
    assert.equal((await cli(['sql', '-p', dir, '--format', 'csv', sql])).out, 'origin,destination');
    assert.equal((await cli(['sql', '-p', dir, sql])).out, 'origin  destination\n------  -----------\n(0 rows)');
    assert.equal((await cli(['sql', '-p', dir, '--format', 'json', sql])).out, '[]');
  });

  it("update --set takes `column = 'value'` with spaces, as a user types it", async () => {
    const r = await cli(['update', '-p', dir, 'gold.route_monthly', '--set', "destination = 'ZZZ'", '--where', "origin = 'LAX'"]);
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /gold\.route_monthly: [\d,]+ rows updated, version \d+/);
    const q = await cli(['sql', '-p', dir, '--format', 'json', "SELECT count(*) AS n FROM gold.route_monthly WHERE origin = 'LAX' AND destination <> 'ZZZ'"]);
    assert.deepEqual(JSON.parse(q.out), [{ n: 0 }]);
  });
});
