/**
 * Documenting a project (issue 14, "Document"): column descriptions written as Delta field
 * `comment` metadata and read back by delta-rs, Spark (DESCRIBE TABLE) and the API; the static
 * documentation site opened from disk in Chromium; column-level lineage of every gold column of
 * examples/flights and of CTEs, joins, `SELECT *` and what cannot be resolved.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { cli, flightsProject, tempDir } from './fixtures.js';
import { readWithSpark, type SparkRead } from './helpers.js';

const PYTHON = process.env['INGOT_PYTHON'] ?? 'python3';

/** Each field's `comment` metadata as delta-rs reads the table's schema (`field.metadata['comment']`). */
function deltaRsComments(location: string): Record<string, string | null> {
  const code = [
    'import json, os, sys, deltalake',
    'dt = deltalake.DeltaTable(sys.argv[1])',
    'print(json.dumps({f.name: f.metadata.get("comment") for f in dt.schema().fields}))',
    'sys.stdout.flush(); os._exit(0)',
  ].join('\n');
  const r = spawnSync(PYTHON, ['-c', code, location], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`delta-rs could not read ${location}: ${r.stderr || r.error?.message}`);
  return JSON.parse(r.stdout) as Record<string, string | null>;
}

const SILVER_COMMENTS = {
  dep_time: 'scheduled departure, local time',
  dep_hour: 'hour of the scheduled departure, 0-23',
  route: 'origin-destination, e.g. ORD-LGA',
  delay_min: 'departure delay, minutes (negative: early)',
  distance_mi: 'route distance, miles',
  is_delayed: 'departed more than 15 minutes late',
};

describe('column descriptions', () => {
  let dir: string;
  let cleanup: () => Promise<void>;
  before(async () => {
    ({ dir, cleanup } = await tempDir('document'));
    await flightsProject(dir, ['2001-01-12', '2001-01-13']);
    const run = await cli(['run', '-p', dir, '--date', '2001-01-12']);
    assert.equal(run.code, 0, run.err);
  });
  after(() => cleanup());

  it('are written as Delta field comments that delta-rs, Spark and the API read back (TS and SQL forms)', async () => {
    const silver = deltaRsComments(path.join(dir, 'lake', 'silver', 'flights'));
    assert.deepEqual(silver, { flight_date: null, ...SILVER_COMMENTS, origin: null, destination: null });
    const bronze = deltaRsComments(path.join(dir, 'lake', 'bronze', 'flights_raw'));
    assert.equal(bronze['delay'], 'departure delay, minutes (negative: early)');
    assert.equal(bronze['_ingested_at'], null);
    const gold = deltaRsComments(path.join(dir, 'lake', 'gold', 'route_monthly'));
    assert.equal(gold['avg_delay_min'], 'average departure delay, minutes');
    // the quarantine table holds the same columns and carries the same descriptions
    assert.equal(deltaRsComments(path.join(dir, 'lake', 'silver', 'flights_quarantine'))['delay_min'], SILVER_COMMENTS.delay_min);

    const [s, b] = readWithSpark([{ path: path.join(dir, 'lake', 'silver', 'flights') }, { path: path.join(dir, 'lake', 'bronze', 'flights_raw') }]) as SparkRead[];
    assert.deepEqual(s!.comments, SILVER_COMMENTS, JSON.stringify(s));
    assert.equal(b!.comments['distance'], 'route distance, miles');

    const [{ loadProject }, { openMetadata }, { createApiKey }, { createServer }] = await Promise.all([
      import('../src/project.js'), import('../src/metadata/open.js'), import('../src/serve/api-keys.js'), import('../src/serve/server.js'),
    ]);
    const project = await loadProject(dir);
    const store = await openMetadata(project);
    const { app } = await createServer(project, store, {});
    try {
      const url = await app.listen({ port: 0, host: '127.0.0.1' });
      const key = (await createApiKey(store, 'read', 'reader')).key;
      const res = await fetch(`${url}/api/tables/silver.flights`, { headers: { authorization: `Bearer ${key}` } });
      const body = await res.json() as { schema: { fields: { name: string; description: string | null }[] } };
      assert.equal(res.status, 200);
      assert.deepEqual(Object.fromEntries(body.schema.fields.map((f) => [f.name, f.description])), { flight_date: null, ...SILVER_COMMENTS, origin: null, destination: null });
    } finally {
      await app.close();
      await store.close();
    }
  });

  it('survive schema evolution, change with the definition, and a described column the output lacks is an error naming the file', async () => {
    const file = path.join(dir, 'datasets', 'gold', 'route_monthly.sql');
    const original = await fs.readFile(file, 'utf8');
    try {
      // a new column (schema evolution) and a changed description, in the next interval
      await fs.writeFile(file, original
        .replace('-- column flights: departures on the route in the month', '-- column flights: flights on the route in the month\n-- column max_delay_min: longest departure delay, minutes')
        .replace('avg(distance_mi) AS avg_distance_mi', 'avg(distance_mi) AS avg_distance_mi,\n  max(delay_min) AS max_delay_min'));
      const run = await cli(['run', '-p', dir, '--date', '2001-01-13', '--select', 'gold.route_monthly']);
      assert.equal(run.code, 0, run.err);
      const gold = deltaRsComments(path.join(dir, 'lake', 'gold', 'route_monthly'));
      assert.equal(gold['max_delay_min'], 'longest departure delay, minutes');
      assert.equal(gold['flights'], 'flights on the route in the month');
      assert.equal(gold['avg_delay_min'], 'average departure delay, minutes');

      await fs.writeFile(file, original.replace('-- column month:', '-- column no_such_column: nothing\n-- column month:'));
      const bad = await cli(['run', '-p', dir, '--date', '2001-01-13', '--select', 'gold.route_monthly']);
      assert.notEqual(bad.code, 0);
      assert.match(bad.err, /route_monthly\.sql.*describes column no_such_column, which the output lacks/s);
    } finally {
      await fs.writeFile(file, original);
    }
  });
});
