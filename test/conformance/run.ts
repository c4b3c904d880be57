/**
 * Delta conformance: every table of the corpus (`../shared/conformance/delta`, or
 * `INGOT_CONFORMANCE_DIR`; a table is any folder holding a `_delta_log`), at every version, as
 * ingot reads it (`DeltaTable.snapshot` → `DuckDBEngine.attachTable` → `SELECT *`) and as delta-rs
 * reads it (`delta_rs_dump.py`, cached under `.tmp/conformance/`). Version, schema (names and
 * Delta types), partition columns and rows must be equal, or ingot must refuse the table with
 * PROTOCOL_UNSUPPORTED naming the feature.
 *
 * Per table, over the versions delta-rs can read: `mismatched` if any version differs, else
 * `failed` if ingot raised anything but PROTOCOL_UNSUPPORTED, else `refused` if it refused a
 * version, else `matched`. Tables delta-rs cannot read at any version count apart; a table the
 * dump script could not process at all counts as `failed`.
 * Prints a summary, writes it as markdown to `.tmp/conformance.md` (every outcome as JSON to
 * `.tmp/conformance/results.json`), exits 1 on any mismatch or
 * failure. Usage: `npm run conformance [-- FILTER...]` (substrings of table paths).
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { DuckDBEngine } from '../../src/engine/duckdb/engine.js';
import { IngotError, messageOf } from '../../src/errors.js';
import { scanOf } from '../../src/operations/scan.js';
import { LocalStore } from '../../src/storage/local.js';
import { typeName } from '../../src/table/schema.js';
import { DeltaTable } from '../../src/table/table.js';
import { REPO_ROOT } from '../helpers.js';
import { canonicalRows, selectHex, type CanonicalRows } from './canonical.js';

const CORPUS = path.resolve(process.env['INGOT_CONFORMANCE_DIR'] ?? path.join(REPO_ROOT, '..', 'shared', 'conformance', 'delta'));
const PYTHON = process.env['INGOT_PYTHON'] ?? 'python3';
const DUMP = path.join(REPO_ROOT, 'test', 'conformance', 'delta_rs_dump.py');
const TMP = path.join(REPO_ROOT, '.tmp');
const CACHE = path.join(TMP, 'conformance', 'delta-rs-cache.json');
/** Versions with more rows than this compare by count and hash (plus a sample of the first sorted rows). */
const CAP = 10_000;
const SAMPLE = 50;

/**
 * Versions where delta-rs is provably wrong, with the rows a correct reader returns (canonical
 * lines, sorted) and why. ingot must match these rows instead; the summary lists them.
 */
const REFERENCE_FIXES: Record<string, { version: number; rows: string[]; reason: string }[]> = {
  'delta-rs/table_with_edge_timestamps': [{
    version: 0,
    rows: [
      '{"BIG_DATE":"9999-12-30T00:00:00.000000Z","NORMAL_DATE":"2022-02-01T00:00:00.000000Z","SOME_VALUE":2}',
      '{"BIG_DATE":"9999-12-31T00:00:00.000000Z","NORMAL_DATE":"2022-01-01T00:00:00.000000Z","SOME_VALUE":1}',
    ],
    reason: 'delta-rs converts INT96 timestamps through i64 nanoseconds, so 9999-12-31 wraps to 1816-03-29; '
      + 'the file stats (minValues 9999-12-31T00:00:00.000Z) and pyarrow (coerce_int96_timestamp_unit="us") say 9999-12-31',
  }],
};

/** A version as delta-rs read it (see delta_rs_dump.py). */
type Reference =
  | ({ version: number; ok: true; schema: Column[]; partitionColumns: string[] } & CanonicalRows)
  | { version: number; ok: false; error: string };
interface Column { name: string; type: string }
interface Dump { path: string; versions: Reference[]; error?: string }

/** What happened to one version. `unreadable`: delta-rs could not read it; `ingot` says what ingot did. */
type Outcome =
  | { kind: 'matched'; rows: number; fixed?: string }
  | { kind: 'refused'; feature: string }
  | { kind: 'mismatched'; diff: string }
  | { kind: 'failed'; message: string }
  | { kind: 'unreadable'; deltaRs: string; ingot: string };
type Status = 'matched' | 'refused' | 'mismatched' | 'failed' | 'unreadable';
interface TableResult { table: string; status: Status; versions: { version: number; outcome: Outcome }[] }

const sha256 = (text: string): string => createHash('sha256').update(text).digest('hex');
/** `s` on one line, at most `n` characters. */
const oneLine = (s: string, n = 300): string => {
  const t = s.replace(/\s+/g, ' ').trim();
  return t.length > n ? `${t.slice(0, n)}…` : t;
};

/** Table folders under `root` (relative, sorted): every folder holding a `_delta_log`. */
function findTables(root: string, rel = ''): string[] {
  const entries = readdirSync(path.join(root, rel), { withFileTypes: true }).filter((e) => e.isDirectory());
  const here = entries.some((e) => e.name === '_delta_log') ? [rel] : [];
  return [...here, ...entries.filter((e) => e.name !== '_delta_log').flatMap((e) => findTables(root, path.join(rel, e.name)))].sort();
}

/** Runs delta_rs_dump.py over `tables` in `shards` parallel processes; a table missing from the output gets `error`. */
async function dumpWithDeltaRs(tables: string[], shards: number): Promise<Map<string, Dump>> {
  const out = new Map<string, Dump>();
  const run = (paths: string[]): Promise<void> => new Promise((resolve) => {
    const child = spawn(PYTHON, [DUMP, `--cache=${CACHE}`, `--cap=${CAP}`, ...paths], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => { stdout += d; });
    child.stderr.setEncoding('utf8').on('data', (d: string) => { stderr += d; });
    child.on('error', (err) => { stderr += err.message; });
    child.on('close', (code, signal) => {
      for (const line of stdout.split('\n').filter((l) => l.trim())) {
        const d = JSON.parse(line) as Dump;
        out.set(d.path, d);
      }
      for (const p of paths.filter((p) => !out.has(p))) {
        out.set(p, { path: p, versions: [], error: `delta_rs_dump.py exited with ${code ?? signal} before this table: ${stderr.trim().split('\n').slice(-3).join(' ')}` });
      }
      resolve();
    });
  });
  await Promise.all(Array.from({ length: shards }, (_, i) => run(tables.filter((_, j) => j % shards === i))));
  return out;
}

/** The feature a PROTOCOL_UNSUPPORTED message names: the list after "yet: ", else the message without paths and numbers. */
function featureOf(message: string, location: string): string {
  const listed = /(?:not support(?:ed)? yet|unsupported[^:]*):\s*(.+)$/i.exec(message);
  if (listed) return oneLine(listed[1]!, 160);
  return oneLine(message.split(location).join('<table>').replace(/\d+/g, 'N'), 160);
}

/** A short description of how `ours` differs from `theirs`; undefined when equal. */
function diff(ours: Reference & { ok: true }, theirs: Reference & { ok: true }): string | undefined {
  const cols = (s: Column[]): string => s.map((c) => `${c.name}: ${c.type}`).join(', ');
  if (ours.version !== theirs.version) return `version: ingot ${ours.version}, delta-rs ${theirs.version}`;
  if (cols(ours.schema) !== cols(theirs.schema)) return `schema: ingot (${cols(ours.schema)}), delta-rs (${cols(theirs.schema)})`;
  if (ours.partitionColumns.join() !== theirs.partitionColumns.join()) {
    return `partition columns: ingot [${ours.partitionColumns.join(', ')}], delta-rs [${theirs.partitionColumns.join(', ')}]`;
  }
  if (ours.count === theirs.count && ours.hash === theirs.hash) return undefined;
  const counts = `rows: ingot ${ours.count}, delta-rs ${theirs.count}`;
  const theirSet = new Set(theirs.rows);
  const ourSet = new Set(ours.rows);
  const only = (rows: string[], other: Set<string>): string[] => rows.filter((r) => !other.has(r)).slice(0, 3).map((r) => oneLine(r));
  const sampled = ours.truncated || theirs.truncated ? ` (first ${SAMPLE} sorted rows of each compared)` : '';
  return `${counts}${sampled}; only ingot: ${only(ours.rows, theirSet).join(' | ') || '-'}; only delta-rs: ${only(theirs.rows, ourSet).join(' | ') || '-'}`;
}

/** Reads `version` of `table` with ingot, as a Reference (ok: false with the error when it throws). */
async function readWithIngot(engine: DuckDBEngine, table: DeltaTable, version: number): Promise<Reference | { version: number; ok: false; error: string; refused?: string }> {
  try {
    const snapshot = await table.snapshot(version);
    await engine.attachTable('t.x', await scanOf(table, snapshot));
    const rows = await engine.query(selectHex(snapshot.schema, 't.x'));
    return {
      version: snapshot.version,
      ok: true,
      schema: snapshot.schema.fields.map((f) => ({ name: f.name, type: typeName(f.type) })),
      partitionColumns: snapshot.partitionColumns,
      ...canonicalRows(snapshot.schema, rows, CAP, SAMPLE),
    };
  } catch (err) {
    if (err instanceof IngotError && err.code === 'PROTOCOL_UNSUPPORTED') return { version, ok: false, error: err.message, refused: featureOf(err.message, table.location) };
    return { version, ok: false, error: err instanceof IngotError ? `${err.code}: ${err.message}` : `not an IngotError: ${(err as Error)?.name ?? 'Error'}: ${messageOf(err)}` };
  }
}

/** Compares every version delta-rs listed for one table. */
async function compareTable(engine: DuckDBEngine, rel: string, dump: Dump): Promise<TableResult> {
  const location = path.join(CORPUS, rel);
  const table = new DeltaTable(new LocalStore(location), engine);
  const versions: TableResult['versions'] = [];
  for (const theirs of dump.versions) {
    const ours = await readWithIngot(engine, table, theirs.version);
    const short = (s: string): string => oneLine(s.split(location).join('<table>'));
    let outcome: Outcome;
    if (!theirs.ok) {
      const ingot = ours.ok ? `read ${ours.count} rows` : 'refused' in ours && ours.refused ? `refused: ${ours.refused}` : short(ours.error);
      outcome = { kind: 'unreadable', deltaRs: short(theirs.error), ingot };
    } else if (!ours.ok) {
      outcome = 'refused' in ours && ours.refused ? { kind: 'refused', feature: ours.refused } : { kind: 'failed', message: short(ours.error) };
    } else {
      const fix = REFERENCE_FIXES[rel]?.find((f) => f.version === theirs.version);
      const reference = fix ? { ...theirs, rows: fix.rows, count: fix.rows.length, hash: sha256(fix.rows.join('\n')), truncated: false } : theirs;
      const d = diff(ours, reference);
      outcome = d !== undefined ? { kind: 'mismatched', diff: d } : { kind: 'matched', rows: ours.count, ...(fix ? { fixed: fix.reason } : {}) };
    }
    versions.push({ version: theirs.version, outcome });
  }
  const kinds = new Set(versions.map((v) => v.outcome.kind));
  const status: Status = (['mismatched', 'failed', 'refused', 'matched'] as const).find((k) => kinds.has(k)) ?? 'unreadable';
  // the reference dump itself broke (e.g. delta_rs_dump.py crashed): a harness failure, never hidden
  if (dump.error) return { table: rel, status: 'failed', versions: [...versions, { version: -1, outcome: { kind: 'failed', message: `delta_rs_dump.py: ${dump.error}` } }] };
  return { table: rel, status, versions };
}

/** "v0…v3, v5" */
function ranges(versions: number[]): string {
  const out: string[] = [];
  for (let i = 0; i < versions.length; i++) {
    let j = i;
    while (j + 1 < versions.length && versions[j + 1] === versions[j]! + 1) j++;
    out.push(j === i ? `v${versions[i]}` : `v${versions[i]}…v${versions[j]}`);
    i = j;
  }
  return out.join(', ');
}

/** Outcomes grouped by their text (UUIDs and digits in it ignored): "at v0…v3: text; at v5: other text". */
function grouped(vs: { version: number; outcome: Outcome }[], text: (o: Outcome) => string): string {
  const groups = new Map<string, { text: string; versions: number[] }>();
  for (const v of vs) {
    const t = text(v.outcome);
    const key = t.replace(/[0-9a-f]{8}(-[0-9a-f]{4}){3}-[0-9a-f]{12}/g, 'U').replace(/\d+/g, 'N');
    const g = groups.get(key) ?? { text: t, versions: [] };
    g.versions.push(v.version);
    groups.set(key, g);
  }
  return [...groups.values()].map((g) => `at ${ranges(g.versions)}: ${g.text}`).join('; ');
}

/** The markdown summary. */
function summarize(results: TableResult[], seconds: number, deltaRs: string): string {
  const by = (s: Status): TableResult[] => results.filter((r) => r.status === s);
  const readable = results.length - by('unreadable').length;
  const pct = (n: number, of: number): string => (of === 0 ? '-' : `${((100 * n) / of).toFixed(1)}%`);
  const nVersions = results.reduce((n, r) => n + r.versions.filter((v) => v.version >= 0).length, 0);
  const matchedVersions = results.flatMap((r) => r.versions.flatMap((v) => (v.outcome.kind === 'matched' ? [v.outcome] : [])));
  const lines = [
    `# Delta conformance: ingot vs delta-rs ${deltaRs}`,
    '',
    `${results.length} tables, ${nVersions} versions, from ${CORPUS} (${seconds.toFixed(0)} s).`,
    '',
    '| outcome | tables |',
    '|---|---|',
    ...(['matched', 'refused', 'mismatched', 'failed', 'unreadable'] as const).map((s) => `| ${s === 'unreadable' ? 'delta-rs cannot read' : s} | ${by(s).length} |`),
    '',
    `Matched: ${by('matched').length} of the ${readable} tables delta-rs reads (${pct(by('matched').length, readable)}); ${pct(by('matched').length, results.length)} of all tables.`,
    `Versions: ${matchedVersions.length} of ${nVersions} matched (${matchedVersions.reduce((n, o) => n + o.rows, 0)} rows); `
      + `${results.flatMap((r) => r.versions).filter((v) => v.outcome.kind === 'unreadable').length} unreadable by delta-rs.`,
  ];
  const of = (r: TableResult, kind: Outcome['kind']): { version: number; outcome: Outcome }[] => r.versions.filter((v) => v.outcome.kind === kind);
  const features = new Map<string, string[]>();
  for (const r of by('refused')) {
    for (const f of new Set(of(r, 'refused').map((v) => (v.outcome as { feature: string }).feature))) features.set(f, [...(features.get(f) ?? []), r.table]);
  }
  if (features.size > 0) {
    lines.push('', '## Refused, by feature', '', '| feature | tables | |', '|---|---|---|');
    for (const [f, ts] of [...features.entries()].sort((a, b) => b[1].length - a[1].length)) lines.push(`| ${f.replace(/\|/g, '\\|')} | ${ts.length} | ${ts.join(', ')} |`);
  }
  for (const [status, kind, title] of [['mismatched', 'mismatched', 'Mismatched'], ['failed', 'failed', 'Failed (not PROTOCOL_UNSUPPORTED)']] as const) {
    if (by(status).length === 0) continue;
    lines.push('', `## ${title}`, '');
    for (const r of by(status)) {
      lines.push(`- **${r.table}**: ${grouped(of(r, kind), (o) => (o as { diff?: string; message?: string }).diff ?? (o as { message: string }).message)}`);
    }
  }
  const fixed = results.flatMap((r) => r.versions.flatMap((v) => (v.outcome.kind === 'matched' && v.outcome.fixed ? [`- ${r.table} at v${v.version}: ${v.outcome.fixed}`] : [])));
  if (fixed.length > 0) lines.push('', '## Matched against corrected reference rows (delta-rs is wrong here)', '', ...fixed);
  const unreadable = results.flatMap((r) => of(r, 'unreadable').map((v) => v.outcome as { ingot: string }));
  if (unreadable.length > 0) {
    const crashes = unreadable.filter((o) => o.ingot.startsWith('not an IngotError')).length;
    lines.push('', '## Versions delta-rs cannot read (not counted against ingot)', '');
    if (crashes > 0) lines.push(`On ${crashes} of them ingot threw something other than an IngotError.`, '');
    for (const r of results) {
      const vs = of(r, 'unreadable');
      if (vs.length === 0) continue;
      const deltaRs = oneLine((vs[0]!.outcome as { deltaRs: string }).deltaRs, 160);
      const ingot = grouped(vs, (o) => oneLine((o as { ingot: string }).ingot.replace(/\s+LINE \d+:[^]*$/, ''), 160));
      lines.push(`- ${r.table} (${r.status === 'unreadable' ? 'every version' : ranges(vs.map((v) => v.version))}): delta-rs: ${deltaRs} — ingot ${ingot}`);
    }
  }
  return lines.join('\n') + '\n';
}

async function main(filters: string[]): Promise<number> {
  const started = Date.now();
  const tables = findTables(CORPUS).filter((t) => filters.length === 0 || filters.some((f) => t.includes(f)));
  mkdirSync(path.dirname(CACHE), { recursive: true });
  const dumps = await dumpWithDeltaRs(tables.map((t) => path.join(CORPUS, t)), Math.max(1, Math.min(4, os.availableParallelism())));
  const engine = await DuckDBEngine.open();
  const results: TableResult[] = [];
  try {
    for (const t of tables) results.push(await compareTable(engine, t, dumps.get(path.join(CORPUS, t))!));
  } finally {
    await engine.close();
  }
  const version = await new Promise<string>((resolve) => {
    const child = spawn(PYTHON, ['-c', 'import deltalake; print(deltalake.__version__)'], { stdio: ['ignore', 'pipe', 'ignore'] });
    let v = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => { v += d; });
    child.on('close', () => resolve(v.trim() || '?'));
  });
  const markdown = summarize(results, (Date.now() - started) / 1000, version);
  mkdirSync(TMP, { recursive: true });
  writeFileSync(path.join(TMP, 'conformance.md'), markdown);
  writeFileSync(path.join(TMP, 'conformance', 'results.json'), JSON.stringify(results, null, 1));
  process.stdout.write(markdown);
  return results.some((r) => r.status === 'mismatched' || r.status === 'failed') ? 1 : 0;
}

process.exitCode = await main(process.argv.slice(2));
