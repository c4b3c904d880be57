/**
 * A lake on S3 (a moto server) shared by both engines: a Spark Connect server with hadoop-aws
 * (`startSparkConnect({}, { s3a: true })`) reads and writes it as `s3a://`, its session pointed
 * at moto by the `fs.s3a.*` confs the runner derives from the AWS environment
 * (`s3aConfFromEnv`). One project, three data dates; its silver and gold datasets switch engines
 * between dates, so each engine extends a table the other wrote (Delta Lake's commits followed by
 * ingot's and back) and reads tables the other wrote. The rows equal those of the same project on
 * DuckDB alone, and delta-rs reads every table from S3.
 */
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { CreateBucketCommand } from '@aws-sdk/client-s3';
import { DuckDBEngine } from '../src/engine/duckdb/engine.js';
import { SparkEngine } from '../src/engine/spark/engine.js';
import { s3aConfFromEnv } from '../src/engine/spark/s3a.js';
import { Lake } from '../src/table/lake.js';
import { queryLake } from '../src/operations/query.js';
import { loadProject } from '../src/project.js';
import { Runner } from '../src/run/runner.js';
import { openStore } from '../src/storage/open.js';
import { s3ClientFromEnv } from '../src/storage/s3.js';
import { tempDir } from './fixtures.js';
import { readWithDeltaRs } from './helpers.js';
import { motoEnvironment, type MotoEnvironment } from './moto.js';
import { startSparkConnect, type SparkConnectServer } from './spark-connect-server.js';

const BUCKET = 'ingot-spark';
const LAKE = `s3://${BUCKET}/lake`;
const DAYS = ['2024-05-01', '2024-05-02', '2024-05-03'];
/** The engine of silver.orders per date; gold.customers runs on the other one. */
const SILVER_ON = ['spark', 'duckdb', 'spark'] as const;

type Row = Record<string, unknown>;

/** Orders of `day`: a few customers, amounts with cents. */
function orders(day: string, n: number): string {
  const lines = ['id,customer,amount'];
  for (let i = 0; i < n; i++) lines.push(`${day.slice(-2)}${String(i).padStart(3, '0')},${['ada', 'bo', 'cy', 'di'][i % 4]},${((i * 37) % 1000) / 100 + 1}`);
  return lines.join('\n') + '\n';
}

/** Writes the project (config + datasets) into `dir`, silver.orders on engine `silver`, gold.customers on `gold`. */
async function writeProject(dir: string, lake: string, silver: 'duckdb' | 'spark', gold: 'duckdb' | 'spark'): Promise<void> {
  const ds = path.join(dir, 'datasets');
  for (const layer of ['bronze', 'silver', 'gold']) await fs.mkdir(path.join(ds, layer), { recursive: true });
  await fs.writeFile(path.join(dir, 'ingot.config.ts'), `import { defineConfig } from 'ingot';\nexport default defineConfig({ name: 'orders', lake: '${lake}', spark: { url: 'env:INGOT_TEST_SPARK_REMOTE' } });\n`);
  const def = (o: Record<string, unknown>): string => `export default ${JSON.stringify(o)};\n`;
  await fs.writeFile(path.join(ds, 'bronze', 'orders.ts'), def({
    name: 'bronze.orders', materialization: 'replace partition', partitionBy: ['day'],
    source: { kind: 'files', path: 'landing/day={day}/*.csv', format: 'csv', columns: { id: 'BIGINT', customer: 'VARCHAR', amount: 'DECIMAL(10,2)' } },
  }));
  // .sql files with an `engine` header (a dataset module would be imported once per process)
  await fs.writeFile(path.join(ds, 'silver', 'orders.sql'), `-- engine: ${silver}\n-- materialization: replace partition\n-- partition_by: day
SELECT day, id, customer, amount, CAST(amount * 2 AS DECIMAL(12,2)) AS doubled FROM bronze.orders WHERE day >= {{start}} AND day < {{end}}\n`);
  await fs.writeFile(path.join(ds, 'gold', 'customers.sql'), `-- engine: ${gold}\n-- materialization: replace partition\n-- partition_by: day
SELECT day, customer, count(*) AS orders, sum(doubled) AS doubled FROM silver.orders WHERE day >= {{start}} AND day < {{end}} GROUP BY day, customer\n`);
}

describe('a lake on S3 shared by the DuckDB and Spark engines', { timeout: 900_000 }, () => {
  let moto: MotoEnvironment | undefined;
  let server: SparkConnectServer | undefined;
  let dir: string;
  let cleanup: () => Promise<void>;
  let storageOptions: Record<string, string>;

  before(async () => {
    ({ dir, cleanup } = await tempDir('spark-s3'));
    moto = await motoEnvironment({ INGOT_CACHE_DIR: path.join(dir, 'cache') });
    ({ storageOptions } = moto);
    await (await s3ClientFromEnv()).send(new CreateBucketCommand({ Bucket: BUCKET }));
    server = await startSparkConnect({}, { s3a: true });
    process.env['INGOT_TEST_SPARK_REMOTE'] = server.url;
  });
  after(async () => {
    await server?.stop();
    await moto?.stop();
    await cleanup?.();
  });

  it('derives the S3A session confs from the AWS environment', () => {
    assert.deepEqual(s3aConfFromEnv({ AWS_ENDPOINT_URL: 'http://127.0.0.1:9000', AWS_ACCESS_KEY_ID: 'k', AWS_SECRET_ACCESS_KEY: 's' }), {
      'fs.s3a.endpoint': 'http://127.0.0.1:9000', 'fs.s3a.path.style.access': 'true', 'fs.s3a.connection.ssl.enabled': 'false', 'fs.s3a.endpoint.region': 'us-east-1',
      'fs.s3a.access.key': 'k', 'fs.s3a.secret.key': 's', 'fs.s3a.aws.credentials.provider': 'org.apache.hadoop.fs.s3a.SimpleAWSCredentialsProvider',
    });
    // AWS itself: the SDK's endpoint for the region, the server's credential chain
    assert.deepEqual(s3aConfFromEnv({ AWS_REGION: 'eu-west-1' }), { 'fs.s3a.endpoint.region': 'eu-west-1' });
  });

  it('runs datasets on both engines over one S3 lake, each extending the tables the other wrote; delta-rs reads them', async () => {
    const onS3 = path.join(dir, 's3');
    const local = path.join(dir, 'local');
    for (const p of [onS3, local]) {
      for (const [i, day] of DAYS.entries()) {
        await fs.mkdir(path.join(p, 'landing', `day=${day}`), { recursive: true });
        await fs.writeFile(path.join(p, 'landing', `day=${day}`, 'orders.csv'), orders(day, 20 + 7 * i));
      }
    }
    const run = async (project: string, day: string): Promise<void> => {
      const runner = await Runner.open(await loadProject(project));
      try {
        const r = await runner.run(day);
        assert.equal(r.status, 'success', `${project} ${day}: ${r.error}`);
      } finally {
        await runner.close();
      }
    };
    const t0 = performance.now();
    for (const [i, day] of DAYS.entries()) {
      await writeProject(onS3, LAKE, SILVER_ON[i]!, SILVER_ON[i] === 'spark' ? 'duckdb' : 'spark');
      await run(onS3, day);
    }
    const t1 = performance.now();
    // the same project on DuckDB alone, on a local lake
    await writeProject(local, './lake', 'duckdb', 'duckdb');
    for (const day of DAYS) await run(local, day);
    console.log(`3 dates on the S3 lake (moto), Spark and DuckDB: ${Math.round(t1 - t0)} ms; on DuckDB alone, local: ${Math.round(performance.now() - t1)} ms`);

    // who wrote each version: Delta Lake on Spark, ingot (DuckDB) in between
    for (const [table, spark] of [['silver/orders', [true, false, true]], ['gold/customers', [false, true, false]]] as const) {
      const store = openStore(`${LAKE}/${table}`);
      for (const [v, bySpark] of spark.entries()) {
        const log = (await store.get(`_delta_log/${String(v).padStart(20, '0')}.json`)).toString('utf8');
        assert.equal(/"engineInfo":"Apache-Spark\/[\d.]+ Delta-Lake\/[\d.]+"/.test(log), bySpark, `${table} version ${v}: ${log.slice(0, 300)}`);
      }
    }

    // ingot (DuckDB) reads the same rows from S3 as the all-DuckDB project has
    const read = async (lake: string, sql: string): Promise<Row[]> => {
      const engine = await DuckDBEngine.open();
      try {
        return await queryLake(new Lake(lake, engine), engine, sql);
      } finally {
        await engine.close();
      }
    };
    const queries = {
      'silver.orders': 'SELECT CAST(day AS VARCHAR) AS day, id, customer, CAST(amount AS VARCHAR) AS amount, CAST(doubled AS VARCHAR) AS doubled FROM silver.orders ORDER BY id',
      'gold.customers': 'SELECT CAST(day AS VARCHAR) AS day, customer, orders, CAST(doubled AS VARCHAR) AS doubled FROM gold.customers ORDER BY day, customer',
    };
    const expected: Record<string, Row[]> = {};
    for (const [table, sql] of Object.entries(queries)) {
      expected[table] = await read(path.join(local, 'lake'), sql);
      assert.equal(expected[table].length, table === 'silver.orders' ? 20 + 27 + 34 : 12, table);
      assert.deepEqual(await read(LAKE, sql), expected[table], table);
    }

    // Spark reads the tables DuckDB extended last, from S3 (s3a://)
    const spark = await SparkEngine.open(server!.url, s3aConfFromEnv());
    try {
      const rows = await spark.query(`SELECT day, customer, orders, CAST(doubled AS STRING) AS doubled FROM delta.\`s3a://${BUCKET}/lake/gold/customers\` ORDER BY day, customer`);
      assert.deepEqual(rows.map((r) => ({ ...r, orders: String(r['orders']) })), expected['gold.customers']!.map((r) => ({ ...r, orders: String(r['orders']) })));
    } finally {
      await spark.close();
    }

    // delta-rs reads every table from S3: the same rows
    const silver = readWithDeltaRs(`${LAKE}/silver/orders`, undefined, 'datafusion', storageOptions);
    assert.equal(silver.version, 2);
    assert.deepEqual(silver.rows.map((r) => String(r['id'])).sort(), expected['silver.orders']!.map((r) => String(r['id'])).sort());
    const gold = readWithDeltaRs(`${LAKE}/gold/customers`, undefined, 'datafusion', storageOptions);
    assert.equal(gold.version, 2);
    const key = (r: Row): string => `${String(r['day'])}/${String(r['customer'])}/${Number(r['orders'])}/${Number(r['doubled']).toFixed(2)}`;
    assert.deepEqual(gold.rows.map(key).sort(), expected['gold.customers']!.map(key).sort());
  });
});
