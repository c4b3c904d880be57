/**
 * `ingot serve --pg-port` under real PostgreSQL clients: `psql` (Debian's postgresql-client) and
 * psycopg 3 (test/reference/psycopg_client.py), against a real `ingot serve` process on a lake the
 * flights pipeline built from the real flights data. Results must equal `ingot sql`'s.
 */
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { openMetadata } from '../src/metadata/open.js';
import { createApiKey, listApiKeys, revokeApiKey } from '../src/serve/api-keys.js';
import { loadProject } from '../src/project.js';
import { cli, flightsProject, ROOT, tempDir } from './fixtures.js';
import { exec, pgjdbcClient, startPgServer, type PgServer } from './pg-wire-helpers.js';

const DAYS = ['2001-01-01', '2001-01-02'];
const PSYCOPG = path.join(ROOT, 'test', 'reference', 'psycopg_client.py');

// eslint-disable-next-line @typescript-eslint/no-explicit-any
async function psycopg(conninfo: string, scenario: string, args: Record<string, unknown> = {}): Promise<any> {
  const r = await exec('python3', [PSYCOPG, conninfo, scenario, JSON.stringify(args)]);
  assert.equal(r.code, 0, r.err);
  return JSON.parse(r.out);
}

describe('ingot serve speaks the PostgreSQL protocol to psql and psycopg', () => {
  let dir: string;
  let cleanup: () => Promise<void>;
  let server: ChildProcess;
  let pgServer: PgServer | undefined;
  let port: number;
  const keys = { read: '', admin: '', revoked: '' };
  let certFile: string;
  /** The Java classpath of pgjdbc and the compiled PgClient; undefined when Maven or javac is missing (the JDBC tests then skip). */
  let jdbcClasspath: string | undefined;
  let jdbcMissing = '';

  /** A libpq connection string to the server. */
  const conninfo = (password: string, extra = 'sslmode=disable'): string => `host=127.0.0.1 port=${port} user=analyst dbname=flights password=${password} ${extra}`;
  /** psql with `args`, the read key as password unless `password` is given. */
  const psql = (args: string[], password = keys.read, ssl = 'disable') =>
    exec('psql', [`host=127.0.0.1 port=${port} user=analyst dbname=flights sslmode=${ssl}`, '-X', '-v', 'ON_ERROR_STOP=1', '-v', 'VERBOSITY=verbose', ...args], { PGPASSWORD: password, PGCONNECT_TIMEOUT: '10' });
  /** `ingot sql -f csv` of `sql`: what the clients' results must equal. */
  const truth = async (sql: string): Promise<string> => {
    const r = await cli(['sql', '-p', dir, '-f', 'csv', sql]);
    assert.equal(r.code, 0, r.err);
    return r.out.trim();
  };

  before(async () => {
    ({ dir, cleanup } = await tempDir('pgwire'));
    await flightsProject(dir, DAYS);
    // a self-signed certificate for TLS, and a statement timeout the tests can reach
    certFile = path.join(dir, 'server.crt');
    const ssl = await exec('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '2', '-subj', '/CN=localhost', '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1',
      '-keyout', path.join(dir, 'server.key'), '-out', certFile]);
    assert.equal(ssl.code, 0, ssl.err);
    const config = await fs.readFile(path.join(dir, 'ingot.config.ts'), 'utf8');
    await fs.writeFile(path.join(dir, 'ingot.config.ts'), config.replace("name: 'flights',", "name: 'flights',\n  serve: { postgres: { tls: { cert: 'server.crt', key: 'server.key' }, statementTimeoutSeconds: 30 } },"));
    const r = await cli(['run', '-p', dir, '--from', DAYS[0]!, '--to', DAYS[1]!]);
    assert.equal(r.code, 0, r.err);
    const store = await openMetadata(await loadProject(dir));
    try {
      keys.read = (await createApiKey(store, 'read', 'analyst')).key;
      keys.admin = (await createApiKey(store, 'admin')).key;
      keys.revoked = (await createApiKey(store, 'read', 'gone')).key;
      await revokeApiKey(store, (await listApiKeys(store)).find((k) => k.name === 'gone')!.id);
    } finally {
      await store.close();
    }
    // pgjdbc from Maven, the client program compiled with javac
    ({ classpath: jdbcClasspath, missing: jdbcMissing } = await pgjdbcClient(dir));
    pgServer = await startPgServer(dir);
    ({ process: server, port } = pgServer);
  });
  after(async () => {
    await pgServer?.stop();
    await cleanup();
  });

  it('psql: query results equal ingot sql, over SCRAM-SHA-256 without TLS', async () => {
    for (const sql of [
      'SELECT origin, count(*) AS n, sum(delay_min) AS d, min(dep_time) AS t, min(flight_date) AS fd, avg(distance_mi) AS a FROM silver.flights GROUP BY origin ORDER BY n DESC, origin LIMIT 20',
      'SELECT * FROM gold.airport_daily ORDER BY flight_date, airport LIMIT 50',
      'SELECT iata, name, city, state FROM bronze.airports ORDER BY iata LIMIT 30',
    ]) {
      const r = await psql(['--csv', '-c', sql]);
      assert.equal(r.code, 0, r.err);
      assert.equal(r.out.trim(), await truth(sql));
    }
  });

  it('psql: session commands clients send are answered harmlessly', async () => {
    const r = await psql(['-q', '-A', '-t', '-c', 'SET application_name = \'bi\'', '-c', 'SHOW TimeZone', '-c', 'SELECT version()', '-c', 'SELECT current_schema()',
      '-c', "SELECT set_config('search_path', 'silver', false)", '-c', 'BEGIN', '-c', 'SELECT count(*) FROM silver.flights', '-c', 'COMMIT', '-c', 'DISCARD ALL', '-c', 'SHOW server_version']);
    assert.equal(r.code, 0, r.err);
    const count = await truth('SELECT count(*) AS n FROM silver.flights');
    assert.deepEqual(r.out.trim().split('\n').filter((l) => l !== ''), ['UTC', r.out.split('\n').find((l) => l.startsWith('PostgreSQL 16.0 (ingot'))!, 'public', 'silver', count.split('\n')[1], '16.0']);
  });

  it('psql: \\dn, \\dt, \\d table and \\x; \\dn and \\dt list the lake\'s layers and tables (quarantine tables included); information_schema describes their columns', async () => {
    const dn = await psql(['-A', '-t', '-c', '\\dn']);
    assert.equal(dn.code, 0, dn.err);
    assert.deepEqual(dn.out.trim().split('\n'), ['bronze|ingot', 'gold|ingot', 'silver|ingot']);
    const lake = await cli(['tables', '-p', dir, '--format', 'json']);
    const tables = (JSON.parse(lake.out) as { table: string }[]).map((t) => t.table);
    assert.ok(tables.length >= 7 && tables.includes('silver.flights_quarantine'));
    const dt = await psql(['-A', '-t', '-c', '\\dt *.*']);
    assert.equal(dt.code, 0, dt.err);
    const listed = dt.out.trim().split('\n').map((l) => l.split('|')).map(([schema, name, type]) => `${schema}.${name} ${type}`);
    assert.deepEqual(listed, ['bronze.airports', 'bronze.flights_raw', 'gold.airport_daily', 'gold.route_monthly', 'gold.top5_monthly', 'silver.flights', 'silver.flights_quarantine'].map((t) => `${t} table`));
    assert.ok(tables.every((t) => listed.includes(`${t} table`)));
    const bronze = await psql(['-A', '-t', '-c', '\\dt bronze.*']);
    assert.deepEqual(bronze.out.trim().split('\n').map((l) => l.split('|')[1]), ['airports', 'flights_raw']);
    const d = await psql(['-A', '-t', '-c', '\\d silver.flights']);
    assert.equal(d.code, 0, d.err);
    assert.deepEqual(d.out.trim().split('\n').map((l) => l.split('|').slice(0, 2).join(' ')), [
      'flight_date date', 'dep_time timestamp with time zone', 'dep_hour integer', 'origin text', 'destination text', 'route text',
      'delay_min integer', 'distance_mi integer', 'is_delayed boolean',
    ]);
    const x = await psql(['-x', '-c', 'SELECT iata, name FROM bronze.airports ORDER BY iata LIMIT 1']);
    assert.match(x.out, /-\[ RECORD 1 \]-*\niata \| \S+\nname \| /);
    const db = await psql(['-A', '-t', '-c', "SELECT datname FROM pg_catalog.pg_database WHERE datname = current_database()", '-c', "SELECT setting FROM pg_catalog.pg_settings WHERE name = 'standard_conforming_strings'"]);
    assert.equal(db.out.trim(), 'flights\non');
    const who = await psql(['-A', '-t', '-c', 'SELECT current_schema(), session_user, current_database()']);
    assert.equal(who.out.trim(), 'public|analyst|flights');
    const columns = await psql(['-A', '-t', '-F', ' ', '-c', "SELECT column_name, data_type FROM information_schema.columns WHERE table_schema = 'silver' AND table_name = 'flights' ORDER BY ordinal_position"]);
    assert.match(columns.out, /^flight_date DATE\ndep_time TIMESTAMP WITH TIME ZONE\n/);
  });

  it('psql: \\copy (select ...) to a file writes the rows ingot sql returns', async () => {
    const file = path.join(dir, 'out.csv');
    const sql = 'SELECT origin, destination, count(*) AS n FROM silver.flights GROUP BY ALL ORDER BY n DESC, origin, destination LIMIT 100';
    const r = await psql(['-c', `\\copy (${sql}) to '${file}' with (format csv, header)`]);
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /COPY 100/);
    assert.equal((await fs.readFile(file, 'utf8')).trim(), await truth(sql));
  });

  it('refuses writes, DDL, file reads and hidden statements with SQLSTATEs; unknown tables are 42P01, syntax errors 42601 with the position', async () => {
    const cases: [string, RegExp][] = [
      ['CREATE TABLE silver.x (a INT)', /ERROR: {2}25006/],
      ['DELETE FROM silver.flights', /ERROR: {2}25006/],
      ["COPY (SELECT 1) TO '/tmp/ingot-pg-x.csv'", /ERROR: {2}25006/],
      ['SELECT 1 /* ; DROP TABLE silver.flights */', /^ \?column\?|1/m],
      ["SELECT * FROM read_csv('/etc/passwd')", /ERROR: {2}42501/],
      ['SELECT * FROM silver.nope', /ERROR: {2}42P01/],
      ['SELECT * FROM silver.flights WHERE', /ERROR: {2}42601[\s\S]*LINE 1: SELECT \* FROM silver\.flights WHERE\n {8,}\^/],
      ['SELEC 1', /ERROR: {2}42601[\s\S]*LINE 1: SELEC 1\n {8}\^/],
    ];
    for (const [sql, expected] of cases) {
      const r = await psql(['-c', sql]);
      assert.match(r.out + r.err, expected, sql);
    }
    assert.equal((await fs.stat('/tmp/ingot-pg-x.csv').catch(() => undefined)), undefined);
    // two statements in one Query: the write is refused, the table unchanged
    const r = await psql(['-c', 'SELECT 1; DROP TABLE silver.flights']);
    assert.match(r.err, /25006/);
    assert.equal((await psql(['-A', '-t', '-c', 'SELECT count(*) FROM silver.flights'])).out.trim(), (await truth('SELECT count(*) AS n FROM silver.flights')).split('\n')[1]);
  });

  it('authentication: a wrong, revoked or missing key is 28P01; a read key works', async () => {
    for (const password of ['ingot_000000000000_wrong', keys.revoked]) {
      // libpq reports a failed connection by its message only (pgjdbc's test checks the SQLSTATE)
      const r = await psycopg(conninfo(password), 'connect');
      assert.equal(r.ok, false);
      assert.match(r.message, /FATAL: {2}password authentication failed for user "analyst"/);
      const p = await psql(['-c', 'SELECT 1'], password);
      assert.notEqual(p.code, 0);
      assert.match(p.err, /password authentication failed for user "analyst"/);
    }
    const none = await exec('psql', [`host=127.0.0.1 port=${port} user=analyst dbname=flights sslmode=disable`, '-w', '-c', 'SELECT 1'], { PGPASSWORD: '' });
    assert.notEqual(none.code, 0);
    assert.match(none.err, /password/);
    const ok = await psycopg(conninfo(keys.admin), 'connect');
    assert.deepEqual([ok.ok, ok.ssl, ok.timezone], [true, false, 'UTC']);
    assert.ok(ok.server_version >= 160000);
  });

  it('TLS with a self-signed certificate: psql and psycopg verify it; the key goes as a cleartext password only inside TLS', async () => {
    const r = await psql(['-A', '-t', '-c', 'SELECT count(*) FROM bronze.airports'], keys.read, `verify-full sslrootcert=${certFile}`);
    assert.equal(r.code, 0, r.err);
    assert.equal(r.out.trim(), (await truth('SELECT count(*) AS n FROM bronze.airports')).split('\n')[1]);
    const c = await psycopg(conninfo(keys.read, `sslmode=verify-full sslrootcert=${certFile}`), 'connect');
    assert.deepEqual([c.ok, c.ssl], [true, true]);
    const wrong = await psycopg(conninfo('ingot_000000000000_wrong', `sslmode=require`), 'connect');
    assert.match(wrong.message, /password authentication failed/);
  });

  it('psycopg: parameters ($1) in text and binary formats, prepared statements, typed values equal ingot sql', async () => {
    const sql = "SELECT origin, destination, dep_time, flight_date, delay_min, distance_mi, is_delayed FROM silver.flights WHERE origin = %s AND delay_min > %s AND flight_date = %s ORDER BY dep_time, destination, delay_min LIMIT 25";
    const expected = (await truth(sql.replace('%s', "'ATL'").replace('%s', '30').replace('%s', "DATE '2001-01-02'"))).split('\n').slice(1);
    for (const binary of [false, true]) {
      for (const prepare of [false, true]) {
        const r = await psycopg(conninfo(keys.read), 'rows', { sql, params: ['ATL', 30, '2001-01-02'], binary, prepare });
        assert.deepEqual(r.columns.map((c: [string, number]) => c[1]), [25, 25, 1184, 1082, 23, 23, 16], 'text, text, timestamptz, date, int4, int4, bool');
        const rows = r.rows.map((row: unknown[]) => [row[0], row[1], String(row[2]).replace('T', ' ').replace('+00:00', '+00'), row[3], row[4], row[5], row[6]].join(','));
        assert.deepEqual(rows, expected, `binary=${binary} prepare=${prepare}`);
      }
    }
    const typed = await psycopg(conninfo(keys.read), 'rows', { sql: "SELECT 1.50::DECIMAL(10,2) AS d, [1, 2] AS l, {'a': 1} AS s, 'x'::BLOB AS b, 2.5::DOUBLE AS f, 7::BIGINT AS i, NULL AS n", binary: true });
    assert.deepEqual(typed.columns.map((c: [string, number]) => c[1]), [1700, 1007, 114, 17, 701, 20, 23]);
    assert.deepEqual(typed.rows, [['1.50', [1, 2], { a: 1 }, '78', 2.5, 7, null]]);
    // edge values, text and binary alike
    const edges = "SELECT -12345.678::DECIMAL(18,3) AS a, 0::DECIMAL(5,2) AS b, 10000.0001::DECIMAL(12,4) AS c, 123456789012345678::DECIMAL(38,0) AS d, 0.1::FLOAT AS f, DATE '1970-01-01' AS e, TIMESTAMP '1999-12-31 23:59:59.5' AS t, TIMESTAMPTZ '2024-02-29 12:00:00.000001+00' AS z, ['a b', NULL, 'c\"d'] AS l";
    const text = await psycopg(conninfo(keys.read), 'rows', { sql: edges });
    const binary = await psycopg(conninfo(keys.read), 'rows', { sql: edges, binary: true });
    const want = ['-12345.678', '0.00', '10000.0001', '123456789012345678', 0.1, '1970-01-01', '1999-12-31T23:59:59.500000', '2024-02-29T12:00:00.000001+00:00', ['a b', null, 'c"d']];
    assert.deepEqual(text.rows, [want]);
    // a binary float4 is the 32-bit value itself (as from PostgreSQL); its text is the shortest form
    assert.deepEqual(binary.rows, [want.map((v) => (v === 0.1 ? Math.fround(0.1) : v))]);
  });

  it('time travel: layer."table@N" and layer."table@<time>" read that version, as ingot sql --version does', async () => {
    const sql = 'SELECT flight_date, count(*) AS n FROM silver.flights GROUP BY 1 ORDER BY 1';
    const v0 = await cli(['sql', '-p', dir, '-f', 'csv', '--version', 'silver.flights=0', sql]);
    assert.equal(v0.code, 0, v0.err);
    const r = await psql(['--csv', '-c', sql.replace('silver.flights', 'silver."flights@0"')]);
    assert.equal(r.code, 0, r.err);
    assert.equal(r.out.trim(), v0.out.trim());
    assert.equal(v0.out.trim().split('\n').length, 2, 'version 0 has the first day only');
    const now = await psql(['--csv', '-c', sql.replace('silver.flights', `silver."flights@${new Date().toISOString()}"`)]);
    assert.equal(now.out.trim(), await truth(sql));
    const missing = await psql(['-c', 'SELECT * FROM silver."flights@99"']);
    assert.match(missing.err, /22023: version 99 does not exist/);
  });

  it('SQLAlchemy: the inspector lists schemas, tables and columns; pandas.read_sql gives ingot sql\'s rows', async () => {
    const sql = 'SELECT origin, count(*) AS n FROM silver.flights GROUP BY origin ORDER BY n DESC, origin LIMIT 10';
    const r = await psycopg(conninfo(keys.read), 'sqlalchemy', { sql });
    assert.deepEqual(r.schemas, ['bronze', 'gold', 'silver']);
    assert.deepEqual(r.tables, ['flights', 'flights_quarantine']);
    assert.deepEqual(r.columns.map((c: [string, string, boolean]) => `${c[0]} ${c[1]}`), [
      'flight_date DATE', 'dep_time TIMESTAMP', 'dep_hour INTEGER', 'origin TEXT', 'destination TEXT', 'route TEXT', 'delay_min INTEGER', 'distance_mi INTEGER', 'is_delayed BOOLEAN',
    ]);
    assert.deepEqual([r.frame.columns.join(','), ...r.frame.rows.map((row: unknown[]) => row.join(','))], (await truth(sql)).split('\n'));
  });

  it('node pg: parameters, named prepared statements, errors with SQLSTATEs; rows equal ingot sql', async () => {
    const client = new pg.Client({ host: '127.0.0.1', port, user: 'analyst', database: 'flights', password: keys.read });
    await client.connect();
    try {
      const sql = 'SELECT origin, destination, delay_min FROM silver.flights WHERE origin = $1 AND delay_min >= $2 ORDER BY delay_min DESC, destination LIMIT 10';
      const want = (await truth(sql.replace('$1', "'SEA'").replace('$2', '60'))).split('\n');
      for (const name of [undefined, 'by_origin', 'by_origin']) {
        const r = await client.query<{ origin: string; destination: string; delay_min: number }>({ text: sql, values: ['SEA', 60], ...(name ? { name } : {}) });
        assert.deepEqual([r.fields.map((f) => f.name).join(','), ...r.rows.map((row) => `${row.origin},${row.destination},${row.delay_min}`)], want);
      }
      await assert.rejects(client.query('DELETE FROM silver.flights'), (e: { code?: string }) => e.code === '25006');
      await assert.rejects(client.query('SELECT * FROM silver.nope'), (e: { code?: string }) => e.code === '42P01');
      await assert.rejects(client.query('SELEC 1'), (e: { code?: string; position?: string }) => e.code === '42601' && e.position === '1');
      assert.equal((await client.query('SELECT 1 + 1 AS two')).rows[0].two, 2);
    } finally {
      await client.end();
    }
    const wrong = new pg.Client({ host: '127.0.0.1', port, user: 'analyst', database: 'flights', password: 'ingot_000000000000_wrong' });
    await assert.rejects(wrong.connect(), (e: { code?: string }) => e.code === '28P01');
  });

  it('psycopg: a server-side cursor pages through every row of a table (DECLARE/FETCH)', async () => {
    const r = await psycopg(conninfo(keys.read), 'cursor', { sql: 'SELECT distance_mi FROM silver.flights', itersize: 5000 });
    const [, want] = (await truth('SELECT count(*) AS n, sum(distance_mi) AS s FROM silver.flights')).split('\n');
    assert.equal(`${r.rows},${r.sum}`, want);
    // the statement timeout counts each FETCH, not the client's time between them
    const slow = await psycopg(conninfo(keys.read, "sslmode=disable options='-c statement_timeout=1000'"), 'cursor', { sql: 'SELECT distance_mi FROM silver.flights', itersize: 5000, pause: 1.5 });
    assert.equal(`${slow.rows},${slow.sum}`, want);
    // a session idle past idle_in_transaction_session_timeout with an open cursor is ended, its pooled connection freed
    const idle = await psycopg(conninfo(keys.read, "sslmode=disable options='-c idle_in_transaction_session_timeout=1000'"), 'cursor', { sql: 'SELECT distance_mi FROM silver.flights', itersize: 5000, pause: 2 });
    assert.equal(idle.rows, 5000, "the first page, fetched before the pause");
    assert.match(idle.message, /idle-in-transaction timeout/);
  });

  it('psycopg: errors carry SQLSTATEs and the session keeps serving', async () => {
    for (const [sql, state] of [['INSERT INTO silver.flights SELECT * FROM silver.flights', '25006'], ['SELECT * FROM gold.nope', '42P01'], ['SELECT FROM WHERE', '42601'], ['SELECT nope FROM silver.flights', '42703']] as const) {
      const r = await psycopg(conninfo(keys.read), 'error', { sql });
      assert.equal(r.sqlstate, state, `${sql}: ${r.message}`);
      assert.equal(r.after, 42);
    }
  });

  it('a query cancelled by the client (CancelRequest) and one past the statement timeout stop with 57014; other clients are served throughout', async () => {
    const long = 'SELECT sum(i) FROM range(100000000000) AS t(i)';
    const started = Date.now();
    const [cancelled, other] = await Promise.all([
      psycopg(conninfo(keys.read), 'cancel', { sql: long, after: 1 }),
      (async () => {
        await new Promise((r) => setTimeout(r, 300));
        return psql(['-A', '-t', '-c', 'SELECT count(*) FROM bronze.airports']);
      })(),
    ]);
    assert.equal(cancelled.sqlstate, '57014', cancelled.message);
    assert.match(cancelled.message, /user request/);
    assert.ok(cancelled.seconds < 4, `cancelled after ${cancelled.seconds} s`);
    assert.equal(cancelled.after, 42);
    assert.equal(other.code, 0, other.err);
    // a statement timeout given at connection (libpq's options), below serve.postgres.statementTimeoutSeconds (30)
    const timedOut = await psycopg(conninfo(keys.read, "sslmode=disable options='-c statement_timeout=2000'"), 'error', { sql: long });
    assert.equal(timedOut.sqlstate, '57014', timedOut.message);
    assert.match(timedOut.message, /statement timeout/);
    assert.equal(timedOut.after, 42);
    // a client that goes away in the middle of a huge result: the server stops streaming it and serves on
    const gone = await exec('bash', ['-c', `psql "host=127.0.0.1 port=${port} user=analyst dbname=flights sslmode=disable" -c "COPY (SELECT i FROM range(1000000000) AS t(i)) TO STDOUT" | head -n 2`], { PGPASSWORD: keys.read });
    assert.equal(gone.out, '0\n1\n');
    const next = await psql(['-A', '-t', '-c', 'SELECT count(*) FROM bronze.airports']);
    assert.equal(next.code, 0, next.err);
    // a session's own, lower statement_timeout
    const r = await psql(['-c', 'SET statement_timeout = 500', '-c', long]);
    assert.match(r.err, /57014/);
    assert.ok(Date.now() - started < 60_000);
  });

  /** PgClient (pgjdbc) with `args`; its stdout. */
  const jdbc = async (password: string, args: string[], url = `jdbc:postgresql://127.0.0.1:${port}/flights?sslmode=disable`): Promise<string> => {
    const r = await exec('java', ['-Duser.timezone=UTC', '-cp', jdbcClasspath!, 'PgClient', url, password, ...args]);
    assert.equal(r.code, 0, r.err);
    return r.out.trim();
  };

  it('pgjdbc: a Statement, a PreparedStatement with parameters (named statements, binary transfer) and a fetch-size ResultSet equal ingot sql', async (t) => {
    if (!jdbcClasspath) return t.skip(jdbcMissing);
    const sql = 'SELECT origin, count(*) AS n, min(dep_time) AS t, avg(delay_min) AS a FROM silver.flights GROUP BY origin ORDER BY n DESC, origin LIMIT 15';
    assert.equal(await jdbc(keys.read, ['query', sql]), await truth(sql));
    const prepared = 'SELECT origin, destination, dep_time, delay_min FROM silver.flights WHERE origin = ? AND delay_min > ? ORDER BY dep_time, destination, delay_min LIMIT 20';
    assert.equal(await jdbc(keys.read, ['prepared', prepared, 'DFW', '45']), await truth(prepared.replace('?', "'DFW'").replace('?', '45')));
    const [, want] = (await truth('SELECT count(*) AS n, sum(distance_mi) AS s FROM silver.flights')).split('\n');
    assert.equal(await jdbc(keys.read, ['fetch', 'SELECT distance_mi FROM silver.flights', '1000']), want);
  });

  it('pgjdbc: DatabaseMetaData lists schemas, tables and typed columns; a wrong key is SQLSTATE 28P01', async (t) => {
    if (!jdbcClasspath) return t.skip(jdbcMissing);
    const meta = (await jdbc(keys.read, ['meta'])).split('\n');
    assert.deepEqual(meta, [
      'schemas bronze gold silver',
      'tables flights:TABLE flights_quarantine:TABLE',
      'columns flight_date:date:91 dep_time:timestamptz:93 dep_hour:int4:4 origin:text:12 destination:text:12 route:text:12 delay_min:int4:4 distance_mi:int4:4 is_delayed:bool:-7',
      'primary keys 0',
    ]);
    assert.equal(await jdbc('ingot_000000000000_wrong', ['connect']), 'sqlstate 28P01');
    assert.equal(await jdbc(keys.revoked, ['connect']), 'sqlstate 28P01');
    assert.equal(await jdbc(keys.read, ['connect'], `jdbc:postgresql://127.0.0.1:${port}/flights?sslmode=verify-full&sslrootcert=${certFile}`), 'ok 16.0');
  });

  it('a 3,000,000-row result streams with flat server memory (COPY to the client, and psql paging with a cursor)', async (t) => {
    const rss = async (): Promise<number> => Number(/VmRSS:\s+(\d+) kB/.exec(await fs.readFile(`/proc/${server.pid}/status`, 'utf8'))![1]) * 1024;
    // warm: the engine and its first chunks
    await psql(['-A', '-t', '-c', 'SELECT count(*) FROM range(1000)']);
    const before = await rss();
    // the server's resident memory sampled every 50 ms while the results stream
    let highest = before;
    const sampler = setInterval(() => void rss().then((v) => { highest = Math.max(highest, v); }, () => {}), 50);
    t.after(() => clearInterval(sampler));
    const sql = "SELECT i, i * 2 AS j, 'row ' || i AS s FROM range(3000000) AS t(i)";
    const copy = await psql(['-c', `\\copy (${sql}) to pstdout with (format csv)`]);
    assert.equal(copy.code, 0, copy.err);
    const lines = copy.out.trimEnd().split('\n');
    assert.equal(lines.length, 3_000_000);
    assert.equal(lines[2_999_999], '2999999,5999998,row 2999999');
    const paged = await psql(['-A', '-t', '-v', 'FETCH_COUNT=50000', '-c', sql]);
    assert.equal(paged.code, 0, paged.err);
    assert.equal(paged.out.trimEnd().split('\n').length, 3_000_000);
    clearInterval(sampler);
    const grown = highest - before;
    t.diagnostic(`the server's peak memory grew by ${Math.round(grown / 1048576)} MB over two 3,000,000-row results`);
    assert.ok(grown < 200 * 1024 * 1024, `the server's peak memory grew by ${Math.round(grown / 1048576)} MB`);
  });

  it('failed authentications are rate limited per address, as HTTP\'s are (last: it blocks this address for a minute)', async () => {
    // fast attempts through node pg (the window may have restarted since the earlier tests' failures)
    let message = '';
    for (let i = 0; i < 45 && !/too many failed/.test(message); i++) {
      const c = new pg.Client({ host: '127.0.0.1', port, user: 'analyst', database: 'flights', password: 'ingot_000000000000_wrong' });
      message = await c.connect().then(() => 'connected', (e: Error) => e.message);
      await c.end().catch(() => {});
    }
    assert.match(message, /too many failed authentication attempts/);
    // a valid key is refused too while the address is blocked
    const blocked = await psycopg(conninfo(keys.read), 'connect');
    assert.equal(blocked.ok, false);
    assert.match(blocked.message, /too many failed authentication attempts/);
  });
});
