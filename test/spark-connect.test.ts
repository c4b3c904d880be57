import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { parseConnection } from '../src/engine/spark/connection.js';
import { SparkConnectClient } from '../src/engine/spark/client.js';
import { IngotError } from '../src/errors.js';
import { tempDir } from './fixtures.js';
import { startSparkConnect, type SparkConnectServer } from './spark-connect-server.js';

describe('Spark Connect connection strings', () => {
  it('parses host, port and parameters', () => {
    assert.deepEqual(parseConnection('sc://localhost'), { host: 'localhost', port: 15002, useSsl: false, headers: {} });
    const c = parseConnection('sc://spark.example.com:443/;token=abc%3D%3D;user_id=ana;x-cluster-id=42');
    assert.deepEqual(c, { host: 'spark.example.com', port: 443, token: 'abc==', userId: 'ana', useSsl: true, headers: { 'x-cluster-id': '42' } });
    assert.equal(parseConnection('sc://[::1]:15003/;use_ssl=true').host, '::1');
    assert.equal(parseConnection('sc://h:1/;session_id=0123ABCD-4455-6677-8899-aabbccddeeff').sessionId, '0123abcd-4455-6677-8899-aabbccddeeff');
  });

  it('names the bad part, never the token', () => {
    const bad = (url: string, part: RegExp): void => {
      assert.throws(() => parseConnection(url), (e: unknown) => e instanceof IngotError && e.code === 'CONNECTION_INVALID' && part.test(e.message) && !e.message.includes('s3cret'));
    };
    bad('http://h:15002', /scheme http:\/\/ is not sc:\/\//);
    bad('sc://h:99999', /port "99999" is not a number/);
    bad('sc://h:abc', /port "abc"/);
    bad('sc://h/;use_ssl=yes', /use_ssl=yes is not true or false/);
    bad('sc://h/;token', /parameter "token" is not key=value/);
    bad('sc://h/;token=s3cret;use_ssl=false', /clear text/);
    bad('sc://h/;session_id=x', /session_id "x" is not a UUID/);
    bad('localhost:15002', /not of the form/);
  });
});

describe('Spark Connect client', { timeout: 300_000 }, () => {
  let server: SparkConnectServer;
  let client: SparkConnectClient;
  before(async () => {
    // the server ends a response stream after 64 KiB, so results larger than that need ReattachExecute
    server = await startSparkConnect({ 'spark.connect.execute.reattachable.senderMaxStreamSize': '64k' });
    client = SparkConnectClient.connect(server.url);
  });
  after(async () => {
    await client?.close();
    await server?.stop();
  });

  it('returns rows and types of a query', async () => {
    const r = await client.query(`SELECT 1 AS i, 9007199254740993L AS b, CAST(1.5 AS DECIMAL(10,2)) AS d, CAST(-12345678901234.05 AS DECIMAL(38,2)) AS dn,
      DATE '2024-02-29' AS dt, TIMESTAMP '2024-01-02 03:04:05.25' AS ts, TIMESTAMP_NTZ '1999-12-31 23:59:59.000001' AS tn,
      CAST(NULL AS INT) AS n, array(1, NULL, 3) AS a, 0.1D AS f, false AS bo, named_struct('x', 'y') AS st, 'é' AS s`);
    assert.deepEqual(r.schema.fields.map((f) => String(f.type)), [
      'Int32', 'Int64', 'Decimal[10e+2]', 'Decimal[38e+2]', 'Date32<DAY>', 'Timestamp<MICROSECOND, UTC>', 'Timestamp<MICROSECOND>',
      'Int32', 'List<Int32>', 'Float64', 'Bool', 'Struct<{x:Utf8}>', 'Utf8',
    ]);
    assert.deepEqual(r.rows(), [{
      i: 1, b: '9007199254740993', d: '1.50', dn: '-12345678901234.05', dt: '2024-02-29', ts: '2024-01-02 03:04:05.25+00', tn: '1999-12-31 23:59:59.000001',
      n: null, a: [1, null, 3], f: 0.1, bo: false, st: { x: 'y' }, s: 'é',
    }]);
  });

  it('streams many batches and an empty result with its schema', async () => {
    const r = await client.query('SELECT id, id * 2 AS twice FROM range(0, 300000)');
    assert.equal(r.table.numRows, 300000);
    const rows = r.rows();
    assert.deepEqual(rows[299999], { id: '299999', twice: '599998' });
    const empty = await client.query('SELECT id FROM range(0, 10) WHERE id < 0');
    assert.equal(empty.table.numRows, 0);
    assert.deepEqual(empty.schema.fields.map((f) => f.name), ['id']);
  });

  it('runs commands: a Delta table written and read by path', async () => {
    const { dir, cleanup } = await tempDir('spark-connect');
    const t = `delta.\`${dir}/t\``;
    await client.sql(`CREATE TABLE ${t} (k INT, v STRING) USING delta`);
    await client.sql(`INSERT INTO ${t} VALUES (1, 'a'), (2, 'b')`);
    await client.sql(`MERGE INTO ${t} AS target USING (SELECT 2 AS k, 'B' AS v UNION ALL SELECT 3, 'c') AS source ON target.k = source.k
      WHEN MATCHED THEN UPDATE SET * WHEN NOT MATCHED THEN INSERT *`);
    assert.deepEqual((await client.sql(`SELECT * FROM ${t} ORDER BY k`)).rows(), [{ k: 1, v: 'a' }, { k: 2, v: 'B' }, { k: 3, v: 'c' }]);
    await cleanup();
  });

  it('surfaces Spark errors with message and error class', async () => {
    await assert.rejects(client.query('SELECT * FROM no_such_schema.no_such_table'), (e: unknown) => {
      assert.ok(e instanceof IngotError);
      assert.equal(e.code, 'SQL_ERROR');
      assert.equal(e.context.errorClass, 'TABLE_OR_VIEW_NOT_FOUND');
      assert.equal(e.context.sqlState, '42P01');
      assert.match(e.message, /`no_such_schema`\.`no_such_table` cannot be found/);
      return true;
    });
    await assert.rejects(client.sql('SELEC 1'), (e: unknown) => e instanceof IngotError && e.context.errorClass === 'PARSE_SYNTAX_ERROR' && /Syntax error at or near 'SELEC'/.test(e.message));
    // a runtime failure inside a job, not at analysis
    await assert.rejects(client.query("SELECT CAST('x' || id AS INT) FROM range(3)"), (e: unknown) => e instanceof IngotError && e.context.errorClass === 'CAST_INVALID_INPUT' && /'x\d'/.test(e.message));
  });

  it('sets session confs', async () => {
    await client.setConf({ 'spark.sql.shuffle.partitions': '3' });
    assert.deepEqual(await client.getConf(['spark.sql.shuffle.partitions']), { 'spark.sql.shuffle.partitions': '3' });
    assert.deepEqual((await client.query("SELECT current_timezone() AS tz")).rows(), [{ tz: 'UTC' }]);
  });

  it('interrupts a long query', async () => {
    const t0 = performance.now();
    // the rejection is observed at once: it may come while interrupt() is still awaited
    const long = client.query('SELECT count(*) FROM range(0, 1000000000000) a').then(() => undefined, (e: unknown) => e);
    await new Promise((r) => setTimeout(r, 2000));
    const ids = await client.interrupt();
    assert.equal(ids.length, 1);
    const err = await long;
    assert.ok(err instanceof IngotError && err.code === 'QUERY_CANCELLED', String(err));
    assert.ok(performance.now() - t0 < 30_000);
    // the session still works
    assert.deepEqual((await client.query('SELECT 1 AS one')).rows(), [{ one: 1 }]);
  });

  it('reattaches when the server ends a stream before the result is complete', async () => {
    const before = client.reattaches;
    const r = await client.query("SELECT id, repeat('x', 100) AS pad FROM range(0, 50000) DISTRIBUTE BY id % 8");
    assert.equal(r.table.numRows, 50000);
    assert.equal(new Set(r.rows().map((x) => x['id'])).size, 50000);
    assert.ok(client.reattaches > before, `no reattach happened (${client.reattaches})`);
  });

  it('reports an unreachable server', async () => {
    const c = SparkConnectClient.connect('sc://127.0.0.1:1');
    await assert.rejects(c.query('SELECT 1'), (e: unknown) => e instanceof IngotError && e.code === 'ENGINE_UNAVAILABLE' && /sc:\/\/127\.0\.0\.1:1/.test(e.message));
    await c.close();
  });
});
