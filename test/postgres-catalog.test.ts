/**
 * The catalog BI tools and drivers read from `ingot serve --pg-port`, under the real clients:
 * Metabase's sync (pgjdbc's DatabaseMetaData and the catalog queries of Metabase's PostgreSQL
 * driver, test/reference/pgjdbc/PgClient.java `sync`), Superset's (SQLAlchemy's inspector through
 * psycopg, test/reference/psycopg_client.py `superset`), psql, and node `pg` with `pg-cursor`
 * paging through a big result. The lake's tables are written by delta-rs
 * (test/reference/write_described.py) with non-nullable columns, column descriptions (field
 * metadata `comment`) and a table description, which the catalog must show; row counts and
 * rows must equal `ingot sql`'s.
 */
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import Cursor from 'pg-cursor';
import { openMetadata } from '../src/metadata/open.js';
import { createApiKey } from '../src/serve/api-keys.js';
import { loadProject } from '../src/project.js';
import { cli, ROOT, tempDir } from './fixtures.js';
import { exec, pgjdbcClient, startPgServer, type PgServer } from './pg-wire-helpers.js';

const REFERENCE = path.join(ROOT, 'test', 'reference');

describe('the PostgreSQL catalog under Metabase\'s and Superset\'s sync, psql and pg-cursor', () => {
  let dir: string;
  let cleanup: () => Promise<void>;
  let pgServer: PgServer | undefined;
  let port: number;
  let key = '';
  let jdbcClasspath: string | undefined;
  let jdbcMissing = '';

  const psql = (args: string[]) =>
    exec('psql', [`host=127.0.0.1 port=${port} user=analyst dbname=weather sslmode=disable`, '-X', '-v', 'ON_ERROR_STOP=1', ...args], { PGPASSWORD: key, PGCONNECT_TIMEOUT: '10' });
  /** `ingot sql -f csv` of `sql`, without its header: what the clients' results must equal. */
  const truth = async (sql: string): Promise<string[]> => {
    const r = await cli(['sql', '-p', dir, '-f', 'csv', sql]);
    assert.equal(r.code, 0, r.err);
    return r.out.trim().split('\n').slice(1);
  };

  before(async () => {
    ({ dir, cleanup } = await tempDir('pgcatalog'));
    await fs.mkdir(path.join(dir, 'datasets'), { recursive: true });
    await fs.writeFile(path.join(dir, 'ingot.config.ts'), "export default { name: 'weather', lake: './lake', datasets: './datasets' };\n");
    const written = await exec('python3', [path.join(REFERENCE, 'write_described.py'), path.join(dir, 'lake')]);
    assert.equal(written.code, 0, written.err);
    const store = await openMetadata(await loadProject(dir));
    try {
      key = (await createApiKey(store, 'read', 'analyst')).key;
    } finally {
      await store.close();
    }
    ({ classpath: jdbcClasspath, missing: jdbcMissing } = await pgjdbcClient(dir));
    pgServer = await startPgServer(dir);
    port = pgServer.port;
  });
  after(async () => {
    await pgServer?.stop();
    await cleanup();
  });

  it('psql: \\d shows the Delta schema\'s nullability; descriptions, nullability, row estimates and sizes come from the snapshots', async () => {
    const d = await psql(['-A', '-t', '-c', '\\d silver.stations']);
    assert.equal(d.code, 0, d.err);
    assert.deepEqual(d.out.trim().split('\n').map((l) => l.split('|').slice(0, 4).join(' ')), [
      'id bigint  not null', 'name text  ', 'opened date  ', 'elevation_m double precision  ', 'active boolean  not null',
    ]);
    const dtPlus = await psql(['-A', '-t', '-c', '\\dt+ silver.*']);
    assert.equal(dtPlus.code, 0, dtPlus.err);
    // the size is that of the table's live files (the engine prints it in KiB)
    const bytes = (await fs.readdir(path.join(dir, 'lake', 'silver', 'stations'))).filter((f) => f.endsWith('.parquet'));
    const size = (await Promise.all(bytes.map((f) => fs.stat(path.join(dir, 'lake', 'silver', 'stations', f))))).reduce((n, s) => n + s.size, 0);
    assert.match(dtPlus.out, new RegExp(`^silver\\|stations\\|table\\|ingot\\|.*\\|${(size / 1024).toFixed(1).replace('.', '\\.')} KiB\\|Weather stations$`, 'm'));
    const q = await psql(['-A', '-t', '-F', ';',
      '-c', "SELECT column_name, is_nullable, coalesce(column_comment, '-') FROM information_schema.columns WHERE table_schema = 'gold' AND table_name = 'readings' ORDER BY ordinal_position",
      '-c', "SELECT a.attname, a.attnotnull, coalesce(col_description(a.attrelid, a.attnum), '-') FROM pg_catalog.pg_attribute a WHERE a.attrelid = 'silver.stations'::regclass ORDER BY a.attnum",
      '-c', "SELECT obj_description('silver.stations'::regclass, 'pg_class') AS d, obj_description('gold.readings'::regclass, 'pg_class') IS NULL AS none",
      '-c', 'SELECT schemaname, relname, n_live_tup FROM pg_stat_user_tables ORDER BY 1, 2',
      '-c', "SELECT c.relname, c.reltuples FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'gold'"]);
    assert.equal(q.code, 0, q.err);
    const [readings, stations] = [(await truth('SELECT count(*) FROM gold.readings'))[0], (await truth('SELECT count(*) FROM silver.stations'))[0]];
    assert.deepEqual(q.out.trim().split('\n'), [
      'station_id;NO;-', 'day;NO;Day of the reading (UTC)', 'reading_no;NO;-', 'temp_c;YES;Mean temperature, Celsius', 'note;YES;-',
      'id;t;Station identifier (WMO)', 'name;f;Display name', 'opened;f;-', 'elevation_m;f;Metres above sea level', 'active;t;-',
      'Weather stations;t',
      `gold;readings;${readings}`, `silver;stations;${stations}`,
      `readings;${readings}`,
    ]);
  });

  it('pgjdbc: Metabase\'s sync (DatabaseMetaData and its driver\'s catalog queries) sees the lake\'s tables, columns, descriptions and row counts', async (t) => {
    if (!jdbcClasspath) return t.skip(jdbcMissing);
    const r = await exec('java', ['-Duser.timezone=UTC', '-cp', jdbcClasspath, 'PgClient', `jdbc:postgresql://127.0.0.1:${port}/weather?sslmode=disable`, key, 'sync', 'silver', 'stations']);
    assert.equal(r.code, 0, r.err);
    const [stations] = await truth('SELECT count(*) FROM silver.stations');
    assert.deepEqual(r.out.trim().split('\n'), [
      'timezone UTC',
      'database weather',
      'getSchemas gold silver',
      'getTables gold.readings:TABLE:null silver.stations:TABLE:Weather stations',
      // name:TYPE_NAME:DATA_TYPE (java.sql.Types):NULLABLE (0 no nulls, 1 nullable):IS_NULLABLE:REMARKS
      'getColumns id:int8:-5:0:NO:Station identifier (WMO)|name:text:12:1:YES:Display name|opened:date:91:1:YES:null|elevation_m:float8:8:1:YES:Metres above sea level|active:bool:-7:0:NO:null',
      'getPrimaryKeys 0',
      'getImportedKeys 0',
      'getIndexInfo 0',
      `tables silver,stations,TABLE,Weather stations,${stations}`,
      'privileges null,silver,stations,t,t,t',
      'fields ' + [
        'id,int8,0,silver,stations,f,Station identifier (WMO),t', 'name,text,1,silver,stations,f,Display name,f', 'opened,date,2,silver,stations,f,null,f',
        'elevation_m,float8,3,silver,stations,f,Metres above sea level,f', 'active,bool,4,silver,stations,f,null,t',
      ].join(';'),
      'fks (none)',
      'indexes (none)',
      'enums (none)',
    ]);
  });

  it('SQLAlchemy: Superset\'s sync through the inspector (schemas, tables, views, columns with nullability and comments, keys, indexes, table comment)', async () => {
    const r = await exec('python3', [path.join(REFERENCE, 'psycopg_client.py'), `host=127.0.0.1 port=${port} user=analyst dbname=weather password=${key}`, 'superset', JSON.stringify({ schema: 'silver', table: 'stations' })]);
    assert.equal(r.code, 0, r.err);
    assert.deepEqual(JSON.parse(r.out), {
      standard_conforming_strings: 'on',
      search_path: '"$user", public',
      schemas: ['gold', 'silver'],
      tables: ['stations'],
      views: [],
      materialized_views: [],
      has_table: true,
      columns: [
        ['id', 'BIGINT', false, 'Station identifier (WMO)'], ['name', 'TEXT', true, 'Display name'], ['opened', 'DATE', true, null],
        ['elevation_m', 'DOUBLE PRECISION', true, 'Metres above sea level'], ['active', 'BOOLEAN', false, null],
      ],
      pk: { name: null, constrained_columns: [] },
      fks: [],
      indexes: [],
      unique: [],
      checks: [],
      table_comment: { text: 'Weather stations' },
    });
  });

  it('node pg with pg-cursor: a 200,000-row result read in pages of 10,000 (and a parameterized one) equals ingot sql', async () => {
    const client = new pg.Client({ host: '127.0.0.1', port, user: 'analyst', database: 'weather', password: key });
    await client.connect();
    try {
      const [want] = await truth('SELECT count(*) AS n, sum(reading_no) AS s, count(temp_c) AS t, sum(temp_c) AS st FROM gold.readings');
      const cursor = client.query(new Cursor<{ reading_no: string; temp_c: string | null }>('SELECT reading_no, temp_c FROM gold.readings'));
      let pages = 0;
      let rows = 0;
      let sum = 0n;
      let temps = 0;
      let tempSum = 0;
      for (let page = await cursor.read(10_000); page.length > 0; page = await cursor.read(10_000)) {
        assert.ok(page.length <= 10_000);
        pages++;
        rows += page.length;
        for (const r of page) {
          sum += BigInt(r.reading_no);
          if (r.temp_c !== null) {
            temps++;
            tempSum += Math.round(Number(r.temp_c) * 100);
          }
        }
      }
      await cursor.close();
      assert.equal(`${rows},${sum},${temps},${(tempSum / 100).toFixed(2)}`, want);
      assert.equal(pages, Math.ceil(rows / 10_000));

      const [station] = await truth('SELECT count(*) AS n, max(day) AS d FROM gold.readings WHERE station_id = 10003');
      const byStation = client.query(new Cursor('SELECT day FROM gold.readings WHERE station_id = $1 ORDER BY day', [10003], { rowMode: 'array' }));
      const days: Date[] = [];
      for (let page = await byStation.read(7_000); page.length > 0; page = await byStation.read(7_000)) days.push(...page.map((r) => (r as [Date])[0]));
      await byStation.close();
      const last = days[days.length - 1]!;
      assert.equal(`${days.length},${last.getFullYear()}-${String(last.getMonth() + 1).padStart(2, '0')}-${String(last.getDate()).padStart(2, '0')}`, station);
      // the session serves on after the cursors
      assert.equal((await client.query('SELECT count(*)::INTEGER AS n FROM silver.stations')).rows[0].n, 5);
    } finally {
      await client.end();
    }
  });
});
