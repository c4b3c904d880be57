/**
 * The deletion-vector section of `npm run bench` (`npm run bench -- --deletion-vectors`): delete
 * and merge on a table with `delta.enableDeletionVectors = true` (rows marked in deletion
 * vectors, nothing rewritten) against the same operation copy-on-write (files rewritten) on the
 * same data, in the same run, and the merge against delta-rs's.
 *
 * Target: `--rows N` rows (default 30,000,000: flights-3m × 10, unique BIGINT `id`), written by
 * ingot as 10 appends, so 10 data files; the DV variant is the same files with one more commit
 * turning the property on (protocol reader 3 / writer 7 with `deletionVectors`).
 * 1. merge: N/30 source rows (1,000,000 at full scale) of which N/3,000 match (every 3,000th id,
 *    so every file holds matches; delay + 1,000), the rest new: update all / insert all. ingot
 *    copy-on-write, ingot with DVs and delta-rs each merge their own copy of the target;
 * 2. delete: the 1% of rows with `id % 100 = 7` (spread over every file), copy-on-write and with DVs.
 * Each operation runs in its own process on a fresh copy of the target (data files hard-linked,
 * the log copied: no writer modifies a data file in place), `--repeats` times (default 2),
 * alternating the order. Every result must equal the expected table (row count, distinct ids and
 * a hash over every column, computed by DuckDB from the target and the source directly), and the
 * DV results must read the same in delta-rs (row count and column sums), or no ratio is reported.
 * Prints the 1-minute load average with the ratios. Writes bench/out/deletion-vectors.json.
 * Children: `bench/deletion-vectors.ts --child merge|delete <dir> [source]`.
 */
import { existsSync, promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { DuckDBEngine } from '../src/engine/duckdb/engine.js';
import { deleteRows } from '../src/operations/delete.js';
import { merge } from '../src/operations/merge.js';
import { scanOf } from '../src/operations/scan.js';
import { stageWrite } from '../src/operations/stage.js';
import { LocalStore } from '../src/storage/local.js';
import { DeltaTable } from '../src/table/table.js';
import { DELETION_VECTORS_PROPERTY, deletionVectorsEnabled, withDeletionVectors } from '../src/table/write.js';
import { deltaRsMergeScript, lastJson, measure, median, pythonSnippet, round, type Measured } from './measure.js';

const BENCH = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.dirname(BENCH);
const OUT = path.join(BENCH, 'out');
const DATA = path.join(OUT, 'deletion-vectors');
const SELF = fileURLToPath(import.meta.url);
const FLIGHTS = path.join(ROOT, 'node_modules', 'vega-datasets', 'data', 'flights-3m.parquet');
const FLIGHT_ROWS = 3_000_000;
const PYTHON = process.env['INGOT_PYTHON'] ?? 'python3';
const ENGINE = { memoryLimit: '4GB', spillDirectory: path.join(DATA, 'spill') };
const APPENDS = 10;
const MATCH_EVERY = 3_000;
const DELETE_WHERE = 'id % 100 = 7';
const MERGE_ON = 'target.id = source.id';
const TARGETS = { mergeRatio: 2, deleteRatio: 5 };
const PRINT = `count(*) AS "rows", count(DISTINCT id) AS ids, sum(hash(id, date, delay, distance, origin, destination)) AS hash`;
const sqlString = (s: string): string => `'${s.replace(/'/g, "''")}'`;

/** One kind of run: copy-on-write or deletion vectors (ingot), or delta-rs. */
type Kind = 'cow' | 'dv' | 'delta-rs';

export interface DeletionVectorResults {
  targetRows: number; targetFiles: number; sourceRows: number; matched: number; deletedRows: number;
  deltaRsVersion: string;
  /** Seconds inside each process (source read included), per repeat; `wallS` whole processes. */
  merge: Record<Kind, { s: number[]; wallS: number[]; peakRssMB: number[]; metrics: Record<string, unknown> }>;
  delete: Record<'cow' | 'dv', { s: number[]; wallS: number[]; peakRssMB: number[]; metrics: Record<string, unknown> }>;
  /** Median copy-on-write / median DV time (≥ 2 for merge, ≥ 5 for delete are the goals); delta-rs / DV. */
  mergeRatio: number; deltaRsRatio: number; deleteRatio: number;
  /** 1-minute load average at the start and end of the measured runs. */
  loadAvg: [number, number];
  fingerprints: { merge: Record<string, string>; delete: Record<string, string> };
  checks: { figure: string; value: string; target: string; pass: boolean | undefined }[];
}

/** The row count given with `--rows` (default 30,000,000; a multiple of 10 up to 30,000,000). */
function targetRows(): number {
  const i = process.argv.indexOf('--rows');
  const rows = i >= 0 ? Number(process.argv[i + 1]) : APPENDS * FLIGHT_ROWS;
  if (!Number.isInteger(rows) || rows % APPENDS !== 0 || rows <= 0 || rows > APPENDS * FLIGHT_ROWS) throw new Error(`--rows must be a multiple of ${APPENDS} up to ${APPENDS * FLIGHT_ROWS}`);
  return rows;
}

function repeats(): number {
  const i = process.argv.indexOf('--repeats');
  return i >= 0 ? Number(process.argv[i + 1]) : 2;
}

/**
 * Builds (once per row count) the copy-on-write target, its DV twin and the merge source under
 * bench/out/deletion-vectors/<rows>/.
 */
async function build(rows: number): Promise<{ cow: string; dv: string; source: string }> {
  const dir = path.join(DATA, String(rows));
  const out = { cow: path.join(dir, 'target-cow'), dv: path.join(dir, 'target-dv'), source: path.join(dir, 'source.parquet') };
  if (existsSync(path.join(dir, '.built'))) return out;
  console.log(`building ${path.relative(ROOT, dir)} (${rows.toLocaleString('en-US')} rows, once) ...`);
  await fs.rm(dir, { recursive: true, force: true });
  await fs.mkdir(dir, { recursive: true });
  const engine = await DuckDBEngine.open(ENGINE);
  try {
    const per = rows / APPENDS;
    const flights = `SELECT file_row_number AS n, date, delay, distance, origin, destination FROM read_parquet(${sqlString(FLIGHTS)}, file_row_number = true) WHERE file_row_number < ${per}`;
    const table = new DeltaTable(new LocalStore(out.cow), engine);
    for (let c = 0; c < APPENDS; c++) {
      const staged = await engine.stage('__bench_dv', `SELECT (${c * per} + n)::BIGINT AS id, date, delay, distance, origin, destination FROM (${flights})`);
      const { commit } = await stageWrite(engine, table, await table.trySnapshot(), 'SELECT * FROM __bench_dv', { mode: 'append', schema: staged.schema });
      await table.commit(commit);
      await engine.drop('__bench_dv');
    }
    await linkTable(out.cow, out.dv);
    const twin = new DeltaTable(new LocalStore(out.dv), engine);
    const s = await twin.snapshot();
    await twin.commit({
      readVersion: s.version,
      actions: [{ protocol: withDeletionVectors(s.protocol) }, { metaData: { ...s.metadata, configuration: { ...s.metadata.configuration, [DELETION_VECTORS_PROPERTY]: 'true' } } }],
      operation: 'SET TBLPROPERTIES',
      operationParameters: { properties: JSON.stringify({ [DELETION_VECTORS_PROPERTY]: 'true' }) },
    });
    if (!deletionVectorsEnabled(await twin.snapshot())) throw new Error(`${out.dv}: deletion vectors are not on after setting the property`);
    const sourceRows = rows / 30;
    const matched = rows / MATCH_EVERY;
    await engine.query(`COPY (
      SELECT (c * ${per} + n)::BIGINT AS id, date, delay + 1000 AS delay, distance, origin, destination FROM (${flights}), range(${APPENDS}) r(c)
        WHERE (c * ${per} + n) % ${MATCH_EVERY} = 0
      UNION ALL
      SELECT (${rows} + c * ${per} + n)::BIGINT, date, delay, distance, origin, destination FROM (${flights}), range(${APPENDS}) r(c) WHERE c * ${per} + n < ${sourceRows - matched}
    ) TO ${sqlString(out.source)} (FORMAT parquet)`);
  } finally {
    await engine.close();
  }
  await fs.writeFile(path.join(dir, '.built'), '');
  return out;
}

/** A copy of the table at `from` in `to`: data files hard-linked, the log copied. */
async function linkTable(from: string, to: string): Promise<void> {
  await fs.rm(to, { recursive: true, force: true });
  for (const entry of await fs.readdir(from, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile()) continue;
    const src = path.join(entry.parentPath, entry.name);
    const rel = path.relative(from, src);
    const dst = path.join(to, rel);
    await fs.mkdir(path.dirname(dst), { recursive: true });
    if (rel.startsWith('_delta_log')) await fs.copyFile(src, dst);
    else await fs.link(src, dst);
  }
}

/** Child: one ingot operation on the table at `dir`; prints its time and metrics. */
async function child(op: string, dir: string, source?: string): Promise<void> {
  const engine = await DuckDBEngine.open(ENGINE);
  const t0 = performance.now();
  const table = new DeltaTable(new LocalStore(dir), engine);
  const result = op === 'merge'
    ? await merge(table, engine, { source: `SELECT * FROM read_parquet(${sqlString(source!)})`, on: MERGE_ON, whenMatched: [{ update: '*' }], whenNotMatched: [{ insert: '*' }] })
    : await deleteRows(table, engine, { where: DELETE_WHERE });
  const s = (performance.now() - t0) / 1000;
  console.log(JSON.stringify({ s, metrics: result.metrics }));
  await engine.close();
}

/** delta-rs's merge of the same source (`deltaRsMergeScript`). */
const DELTA_RS_MERGE = deltaRsMergeScript(MERGE_ON);

/** delta-rs reading a table through its own scan (`QueryBuilder`, which applies DVs): row count and sums of id and delay. */
const DELTA_RS_SUMS = `
import json, sys
import pyarrow as pa
from deltalake import DeltaTable, QueryBuilder
r = QueryBuilder().register("tbl", DeltaTable(sys.argv[1])).execute("SELECT count(*) AS n, sum(id) AS s, sum(delay) AS d FROM tbl")
t = (r if isinstance(r, pa.Table) else pa.table(r)).to_pylist()[0]
print(json.dumps({"rows": str(t["n"]), "sum_id": str(t["s"]), "sum_delay": str(t["d"])}))
`;

/** Row count, distinct ids and content hash of the table at `dir` read by ingot. */
async function fingerprint(engine: DuckDBEngine, dir: string): Promise<Record<string, string>> {
  const table = new DeltaTable(new LocalStore(dir), engine);
  await engine.attachTable('bench.fp', await scanOf(table, await table.snapshot()));
  const [row] = await engine.query(`SELECT ${PRINT}, sum(id)::VARCHAR AS sum_id, sum(delay)::VARCHAR AS sum_delay FROM bench.fp`);
  return Object.fromEntries(Object.entries(row!).map(([k, v]) => [k, String(v)]));
}

/** The expected merge and delete results, computed by DuckDB from the target files and the source. */
async function expected(engine: DuckDBEngine, target: string, source: string): Promise<{ merge: Record<string, string>; delete: Record<string, string> }> {
  const table = new DeltaTable(new LocalStore(target), engine);
  await engine.attachTable('bench.target', await scanOf(table, await table.snapshot()));
  const src = `read_parquet(${sqlString(source)})`;
  const one = async (sql: string): Promise<Record<string, string>> => {
    const [row] = await engine.query(`SELECT ${PRINT}, sum(id)::VARCHAR AS sum_id, sum(delay)::VARCHAR AS sum_delay FROM (${sql})`);
    return Object.fromEntries(Object.entries(row!).map(([k, v]) => [k, String(v)]));
  };
  return {
    merge: await one(`SELECT id, date, delay, distance, origin, destination FROM ${src} UNION ALL SELECT * FROM bench.target t WHERE NOT EXISTS (SELECT 1 FROM ${src} s WHERE s.id = t.id)`),
    delete: await one(`SELECT * FROM bench.target WHERE NOT (${DELETE_WHERE})`),
  };
}

function python(code: string, args: string[]): Promise<Measured> {
  return measure(PYTHON, ['-c', pythonSnippet(code), ...args], ROOT);
}

/** The whole section; see the file comment. */
export async function deletionVectorBench(): Promise<DeletionVectorResults> {
  const rows = targetRows();
  const n = repeats();
  await fs.mkdir(DATA, { recursive: true });
  const data = await build(rows);
  const work = path.join(DATA, 'work');
  const engine = await DuckDBEngine.open(ENGINE);
  try {
    const want = await expected(engine, data.cow, data.source);
    const targetSnapshot = await new DeltaTable(new LocalStore(data.cow), engine).snapshot();
    const deltaRsVersion = lastJson<{ v: string }>(await python('import json, deltalake\nprint(json.dumps({"v": deltalake.__version__}))', []), 'deltalake version').v;
    type Run = { s: number; wallS: number; peakRssMB: number; metrics: Record<string, unknown> };
    const runs = { merge: { cow: [] as Run[], dv: [] as Run[], 'delta-rs': [] as Run[] }, delete: { cow: [] as Run[], dv: [] as Run[] } };
    const load0 = os.loadavg()[0]!;
    /** Runs one operation on a fresh copy and checks its result. */
    const run = async (op: 'merge' | 'delete', kind: Kind): Promise<void> => {
      await linkTable(kind === 'dv' ? data.dv : data.cow, work);
      let m: Measured;
      let r: { s: number; metrics: Record<string, unknown> };
      if (kind === 'delta-rs') {
        m = await python(DELTA_RS_MERGE, [work, data.source]);
        r = lastJson(m, 'delta-rs (merge)');
      } else {
        m = await measure(process.execPath, ['--import', 'tsx', SELF, '--child', op, work, data.source], ROOT);
        r = JSON.parse(m.stdout.trim().split('\n').pop()!) as typeof r;
      }
      const got = await fingerprint(engine, work);
      const diffs = Object.keys(want[op]).filter((k) => got[k] !== want[op][k]);
      if (diffs.length > 0) throw new Error(`${op} (${kind}) result differs from the expected table: ${diffs.map((k) => `${k} ${got[k]} vs ${want[op][k]}`).join(', ')}`);
      if (kind === 'dv') {
        const snapshot = await new DeltaTable(new LocalStore(work), engine).snapshot();
        const withDv = [...snapshot.files.values()].filter((a) => a.deletionVector).length;
        if (withDv !== targetSnapshot.files.size) throw new Error(`${op} with deletion vectors left ${withDv} files with a DV, expected every one of the ${targetSnapshot.files.size} target files`);
        const theirs = lastJson<Record<string, string>>(await python(DELTA_RS_SUMS, [work]), 'delta-rs (reading the DV table)');
        for (const k of ['rows', 'sum_id', 'sum_delay']) {
          if (theirs[k] !== want[op][k]) throw new Error(`delta-rs reads the ${op} result with deletion vectors as ${k} ${theirs[k]}, expected ${want[op][k]}`);
        }
      }
      (runs[op] as Record<string, Run[]>)[kind]!.push({ s: r.s, wallS: m.wallS, peakRssMB: m.peakRssMB, metrics: r.metrics });
      console.log(`  ${op} ${kind}: ${r.s.toFixed(2)} s (process ${m.wallS.toFixed(1)} s, ${m.peakRssMB.toFixed(0)} MB), load average ${os.loadavg()[0]!.toFixed(2)}`);
    };
    for (let i = 0; i < n; i++) {
      const mergeKinds: Kind[] = ['cow', 'dv', 'delta-rs'];
      for (const kind of i % 2 === 0 ? mergeKinds : [...mergeKinds].reverse()) await run('merge', kind);
      const deleteKinds: Kind[] = ['cow', 'dv'];
      for (const kind of i % 2 === 0 ? deleteKinds : [...deleteKinds].reverse()) await run('delete', kind);
    }
    const load1 = os.loadavg()[0]!;
    await fs.rm(work, { recursive: true, force: true });
    const summary = (rs: Run[]): DeletionVectorResults['delete']['cow'] => ({ s: rs.map((r) => round(r.s)), wallS: rs.map((r) => round(r.wallS)), peakRssMB: rs.map((r) => round(r.peakRssMB, 0)), metrics: rs.at(-1)!.metrics });
    const med = (rs: Run[]): number => median(rs.map((r) => r.s));
    const mergeRatio = round(med(runs.merge.cow) / med(runs.merge.dv));
    const deltaRsRatio = round(med(runs.merge['delta-rs']) / med(runs.merge.dv));
    const deleteRatio = round(med(runs.delete.cow) / med(runs.delete.dv));
    const fmt = (x: number): string => x.toLocaleString('en-US');
    const loads = `load average ${load0.toFixed(2)} → ${load1.toFixed(2)}`;
    const matched = rows / MATCH_EVERY;
    const deleted = Number(runs.delete.dv.at(-1)!.metrics['numDeletedRows']);
    return {
      targetRows: rows, targetFiles: targetSnapshot.files.size, sourceRows: rows / 30, matched, deletedRows: deleted, deltaRsVersion,
      merge: { cow: summary(runs.merge.cow), dv: summary(runs.merge.dv), 'delta-rs': summary(runs.merge['delta-rs']) },
      delete: { cow: summary(runs.delete.cow), dv: summary(runs.delete.dv) },
      mergeRatio, deltaRsRatio, deleteRatio, loadAvg: [round(load0), round(load1)], fingerprints: want,
      checks: [
        { figure: `merge ${fmt(rows / 30)} rows (${fmt(matched)} matching, in every file) into ${fmt(rows)}: ingot copy-on-write / with deletion vectors (medians of ${n})`, value: `${med(runs.merge.cow).toFixed(2)} / ${med(runs.merge.dv).toFixed(2)} s`, target: '', pass: undefined },
        { figure: `merge: copy-on-write / deletion vectors (${loads})`, value: mergeRatio.toFixed(2), target: `≥ ${TARGETS.mergeRatio}`, pass: mergeRatio >= TARGETS.mergeRatio },
        { figure: `merge: delta-rs ${deltaRsVersion} (${med(runs.merge['delta-rs']).toFixed(2)} s) / ingot with deletion vectors`, value: deltaRsRatio.toFixed(2), target: '> 1', pass: deltaRsRatio > 1 },
        { figure: `delete ${fmt(deleted)} rows (1%, \`${DELETE_WHERE}\`, every file): copy-on-write / with deletion vectors`, value: `${med(runs.delete.cow).toFixed(2)} / ${med(runs.delete.dv).toFixed(2)} s`, target: '', pass: undefined },
        { figure: `delete: copy-on-write / deletion vectors (${loads})`, value: deleteRatio.toFixed(2), target: `≥ ${TARGETS.deleteRatio}`, pass: deleteRatio >= TARGETS.deleteRatio },
      ],
    };
  } finally {
    await engine.close();
  }
}

/** The section as markdown. */
export function deletionVectorsMarkdown(r: DeletionVectorResults): string {
  return [
    '## Deletion vectors (bench/deletion-vectors.ts)',
    '',
    '| figure | value | target | result |',
    '| --- | ---: | ---: | --- |',
    ...r.checks.map((c) => `| ${c.figure} | ${c.value} | ${c.target} | ${c.pass === undefined ? '' : c.pass ? 'pass' : '**FAIL**'} |`),
    '',
    `Target: ${r.targetRows.toLocaleString('en-US')} rows in ${r.targetFiles} files. Every result equals the expected table (${Number(r.fingerprints.merge['rows']).toLocaleString('en-US')} rows after the merge, ` +
      `${Number(r.fingerprints.delete['rows']).toLocaleString('en-US')} after the delete; same content hash), and delta-rs reads the deletion-vector results with the same row count and sums. ` +
      `Times per run (s): merge copy-on-write ${r.merge.cow.s.join(', ')}, with DVs ${r.merge.dv.s.join(', ')}, delta-rs ${r.merge['delta-rs'].s.join(', ')}; delete copy-on-write ${r.delete.cow.s.join(', ')}, with DVs ${r.delete.dv.s.join(', ')}.`,
  ].join('\n') + '\n';
}

if (process.argv[2] === '--child') {
  const [op, dir, source] = process.argv.slice(3);
  await child(op!, dir!, source);
} else if (process.argv[1] === SELF) {
  const results = await deletionVectorBench();
  await fs.writeFile(path.join(OUT, 'deletion-vectors.json'), JSON.stringify({ machine: { cpus: os.cpus().length, loadAvg: os.loadavg()[0] }, ...results }, null, 2) + '\n');
  console.log('\n' + deletionVectorsMarkdown(results));
}
