/**
 * A real Spark Connect server for tests and the bench: the `SparkConnectServer` class of the
 * pyspark package (its `jars/spark-connect_*.jar`, pyspark's folder as SPARK_HOME) started by
 * `spark-submit` on a free port of 127.0.0.1, in local[2] mode with 1 GB of driver memory, the
 * UTC session time zone, and Delta Lake: delta-spark's jars from the Ivy cache (`~/.ivy2*\/jars`,
 * filled by `test/reference/read_spark.py --check` when empty) plus the Delta SQL extension and
 * catalog. Startup takes 10-15 s on 2 busy cores, so a test file shares one server. `stop()` ends
 * it and deletes its scratch folder. With `{ s3a: true }` Spark also gets hadoop-aws and the AWS
 * SDK bundle it was built against (`s3aJars`), so it reads and writes `s3a://` paths; the
 * endpoint and credentials are session confs the Spark engine sets (`s3aConfFromEnv`).
 */
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { existsSync, promises as fs, readdirSync } from 'node:fs';
import { connect } from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort } from './moto.js';

/** A running server: `url` is its `sc://127.0.0.1:PORT` connection string. */
export interface SparkConnectServer {
  url: string;
  port: number;
  /** The spark-submit process (the JVM runs as its child). */
  pid: number;
  /** Milliseconds from spawn until the port accepted connections. */
  startupMs: number;
  stop: () => Promise<void>;
}

/** Spark logs errors only, to stderr (shared with test/reference/read_spark.py). */
const LOG4J2 = path.join(path.dirname(fileURLToPath(import.meta.url)), 'reference', 'log4j2.properties');

/** The pyspark package folder (`python3 -c 'import pyspark'`). Throws when pyspark is not installed. */
export function pysparkHome(): string {
  const out = execFileSync('python3', ['-c', 'import os, pyspark; print(os.path.dirname(pyspark.__file__))'], { encoding: 'utf8' });
  return out.trim();
}

/**
 * delta-spark's jars (delta-spark, delta-storage, antlr4-runtime) in the Ivy cache; when absent,
 * `read_spark.py --check` fetches them from Maven Central first. Throws when that fails.
 */
export function deltaJars(): string[] {
  const found = cachedDeltaJars();
  if (found) return found;
  execFileSync('python3', [path.join(path.dirname(fileURLToPath(import.meta.url)), 'reference', 'read_spark.py'), '--check'], { stdio: 'pipe' });
  const fetched = cachedDeltaJars();
  if (!fetched) throw new Error('delta-spark jars not found in ~/.ivy2*/jars after `python3 test/reference/read_spark.py --check`');
  return fetched;
}

function cachedDeltaJars(): string[] | undefined {
  for (const dir of readdirSync(os.homedir()).filter((d) => d.startsWith('.ivy2')).map((d) => path.join(os.homedir(), d, 'jars'))) {
    if (!existsSync(dir)) continue;
    const jars = readdirSync(dir).filter((f) => /^(io\.delta_delta-(spark|storage)|org\.antlr_antlr4-runtime)/.test(f)).map((f) => path.join(dir, f));
    if (jars.some((j) => j.includes('delta-spark'))) return jars;
  }
  return undefined;
}

/**
 * hadoop-aws of the Hadoop version pyspark ships (its `jars/hadoop-client-api-<v>.jar`) and the
 * AWS SDK v2 bundle that Hadoop release was built against (`aws-java-sdk-v2.version` of its
 * hadoop-project POM), from the Ivy cache (`~/.ivy2*\/jars`, named as Ivy names them); when
 * absent, fetched by Maven from its default repository (the bundle is ~560 MB, once; Maven checks
 * the checksums) and copied there under Ivy's names. Throws when Maven fails.
 */
export async function s3aJars(): Promise<string[]> {
  const hadoop = /^hadoop-client-api-(.+)\.jar$/.exec(readdirSync(path.join(pysparkHome(), 'jars')).find((f) => f.startsWith('hadoop-client-api-')) ?? '')?.[1];
  if (!hadoop) throw new Error('no hadoop-client-api jar in pyspark/jars');
  const ivy = readdirSync(os.homedir()).filter((d) => d.startsWith('.ivy2')).map((d) => path.join(os.homedir(), d, 'jars')).filter(existsSync);
  const cached = (pattern: RegExp): string | undefined => ivy.flatMap((dir) => readdirSync(dir).filter((f) => pattern.test(f)).map((f) => path.join(dir, f)))[0];
  const aws = cached(new RegExp(`^org\\.apache\\.hadoop_hadoop-aws-${hadoop.replace(/\./g, '\\.')}\\.jar$`));
  const bundle = cached(/^software\.amazon\.awssdk_bundle-[\d.]+\.jar$/);
  if (aws && bundle) return [aws, bundle];
  const dir = ivy[0] ?? path.join(os.homedir(), '.ivy2', 'jars');
  await fs.mkdir(dir, { recursive: true });
  const pomFile = await mavenCopy(`org.apache.hadoop:hadoop-project:${hadoop}:pom`, path.join(dir, `hadoop-project-${hadoop}.pom`));
  const pom = await fs.readFile(pomFile, 'utf8');
  const sdk = /<aws-java-sdk-v2\.version>([^<]+)</.exec(pom)?.[1];
  if (!sdk) throw new Error(`hadoop-project ${hadoop}: no aws-java-sdk-v2.version in its POM`);
  return [
    aws ?? await mavenCopy(`org.apache.hadoop:hadoop-aws:${hadoop}`, path.join(dir, `org.apache.hadoop_hadoop-aws-${hadoop}.jar`)),
    bundle ?? await mavenCopy(`software.amazon.awssdk:bundle:${sdk}`, path.join(dir, `software.amazon.awssdk_bundle-${sdk}.jar`)),
  ];
}

/**
 * Copies Maven artifact `coordinates` (`group:artifact:version[:type]`) to `file`: Maven fetches
 * it from its default repository into its local one (checking checksums), then copies it into a
 * temporary folder, renamed to `file`. Throws with Maven's output when it fails.
 */
async function mavenCopy(coordinates: string, file: string): Promise<string> {
  const tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'ingot-maven-'));
  try {
    // run outside any project folder so that no pom.xml is picked up
    const r = spawnSync('mvn', ['-q', '-B', '-Dstyle.color=never', 'dependency:copy', `-Dartifact=${coordinates}`, `-DoutputDirectory=${tmp}`], { cwd: tmp, encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`mvn dependency:copy ${coordinates} failed (${r.error?.message ?? `exit ${r.status}`}): ${(r.stdout + r.stderr).slice(-2000)}`);
    const [copied] = await fs.readdir(tmp);
    if (!copied) throw new Error(`mvn dependency:copy ${coordinates}: nothing copied`);
    await fs.copyFile(path.join(tmp, copied), file); // /tmp may be another file system
    return file;
  } finally {
    await fs.rm(tmp, { recursive: true, force: true });
  }
}

/** Options of `startSparkConnect`. */
export interface SparkConnectOptions {
  /** Also put hadoop-aws and the AWS SDK bundle on the classpath (`s3aJars`): `s3a://` paths. */
  s3a?: boolean;
  /** The driver's memory (default 1g). */
  driverMemory?: string;
}

/** Starts a server (see the file comment) with extra static confs `conf`; waits until its port accepts connections (at most 120 s). */
export async function startSparkConnect(conf: Record<string, string> = {}, options: SparkConnectOptions = {}): Promise<SparkConnectServer> {
  const home = pysparkHome();
  const connectJar = readdirSync(path.join(home, 'jars')).find((f) => f.startsWith('spark-connect_'));
  if (!connectJar) throw new Error(`no spark-connect jar in ${home}/jars: pyspark 4 ships one`);
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'ingot-spark-connect-'));
  const port = await freePort();
  const confs = {
    'spark.connect.grpc.binding.address': '127.0.0.1',
    'spark.connect.grpc.binding.port': String(port),
    'spark.sql.extensions': 'io.delta.sql.DeltaSparkSessionExtension',
    'spark.sql.catalog.spark_catalog': 'org.apache.spark.sql.delta.catalog.DeltaCatalog',
    'spark.sql.session.timeZone': 'UTC',
    'spark.sql.shuffle.partitions': '2',
    'spark.default.parallelism': '2',
    'spark.databricks.delta.snapshotPartitions': '2',
    'spark.sql.warehouse.dir': path.join(dir, 'warehouse'),
    'spark.local.dir': dir,
    'spark.ui.enabled': 'false',
    'spark.ui.showConsoleProgress': 'false',
    'spark.driver.extraJavaOptions': `-Duser.timezone=UTC -Dlog4j2.configurationFile=file:${LOG4J2}`,
    ...conf,
  };
  const args = [
    '--master', 'local[2]', '--driver-memory', options.driverMemory ?? '1g',
    '--class', 'org.apache.spark.sql.connect.service.SparkConnectServer',
    '--jars', [...deltaJars(), ...(options.s3a ? await s3aJars() : [])].join(','),
    ...Object.entries(confs).flatMap(([k, v]) => ['--conf', `${k}=${v}`]),
    path.join(home, 'jars', connectJar),
  ];
  const t0 = performance.now();
  const child = spawn(path.join(home, 'bin', 'spark-submit'), args, {
    env: { ...process.env, SPARK_HOME: home, SPARK_LOCAL_IP: '127.0.0.1' },
    stdio: ['ignore', 'ignore', 'pipe'],
    detached: true,
  });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => { stderr = (stderr + d.toString()).slice(-4000); });
  const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
  let stopped = false;
  const stop = async (): Promise<void> => {
    if (stopped) return;
    stopped = true;
    // spark-submit execs a JVM in its process group: end the group
    try { process.kill(-child.pid!, 'SIGTERM'); } catch { /* already gone */ }
    const done = await Promise.race([exited.then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), 10_000))]);
    if (!done) try { process.kill(-child.pid!, 'SIGKILL'); } catch { /* already gone */ }
    await fs.rm(dir, { recursive: true, force: true });
  };
  const deadline = Date.now() + 120_000;
  for (;;) {
    if (child.exitCode !== null) {
      await stop();
      throw new Error(`Spark Connect server exited with code ${child.exitCode}:\n${stderr}`);
    }
    if (await accepts(port)) break;
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`Spark Connect server did not listen on port ${port} within 120 s:\n${stderr}`);
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  return { url: `sc://127.0.0.1:${port}`, port, pid: child.pid!, startupMs: Math.round(performance.now() - t0), stop };
}

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => { socket.destroy(); resolve(true); });
    socket.once('error', () => resolve(false));
  });
}
