import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { isMap, isScalar, isSeq, LineCounter, parseDocument, type Document, type Node } from 'yaml';
import { z } from 'zod';
import { IngotError } from '../../errors.js';
import { parseDate } from '../../pipeline/interval.js';

/**
 * Unit test files: `*.test.yaml` anywhere under the project folder (next to the datasets, as
 * dbt and SQLMesh keep theirs), each a map of test name → test:
 *
 * ```yaml
 * route_delays:
 *   dataset: silver.flights          # the dataset under test
 *   date: 2001-01-15                 # logical date (optional: without it the test runs over everything)
 *   given:
 *     bronze.flights_raw:            # every table the dataset reads (its SQL and its expectations)
 *       rows: [{ date: '2001-01-15 08:30:00', delay: 5, origin: SFO }]
 *       # or csv: fixtures/x.csv / json: fixtures/x.json (relative to the test file);
 *       # columns: { delay: INTEGER } types columns the rows cannot tell
 *   expect:
 *     rows: [{ origin: SFO, delay_min: 5 }]        # or csv: / json:
 *     quarantine: { rows: [...] }                   # optional: the rows its expectations quarantine
 * ```
 */

/** Rows of a unit test: inline, or a CSV / JSON fixture file (absolute path once parsed). */
export type RowsSource =
  | { rows: Record<string, unknown>[]; columns?: Record<string, string> }
  | { csv: string; columns?: Record<string, string> }
  | { json: string; columns?: Record<string, string> };

/** One unit test as parsed from its file. */
export interface UnitTest {
  /** Absolute path of the `.test.yaml` file. */
  file: string;
  /** 1-based line of the test's name in the file. */
  line: number;
  name: string;
  dataset: string;
  /** Logical date as `parseDate` returns it; undefined: a run over everything. */
  date?: string;
  /** Upstream table (`layer.table`) → its rows. */
  given: Record<string, RowsSource>;
  expect: { rows: RowsSource; quarantine?: RowsSource };
  /** The 1-based line of a path in the test (`['given', 'bronze.x']`), for messages; the test's line when unknown. */
  lineOf(...at: (string | number)[]): number;
}

/** `file` as messages show it: relative to the working folder when inside it, else absolute. */
export function shownPath(file: string): string {
  const rel = path.relative(process.cwd(), file);
  return rel && !rel.startsWith('..') && !path.isAbsolute(rel) ? rel : file;
}

/** Suffix of a unit test file. */
export const TEST_FILE_SUFFIX = '.test.yaml';

const TABLE = /^[a-z_][a-z0-9_]*\.[a-z_][a-z0-9_]*$/;

const columnsSchema = z.record(z.string().min(1), z.string().min(1));
const rowsFields = {
  rows: z.array(z.record(z.string(), z.unknown()), { error: 'rows is a list of maps (column: value)' }).optional(),
  csv: z.string().regex(/\.csv$/, 'a csv fixture is a .csv file').optional(),
  json: z.string().regex(/\.(json|ndjson|jsonl)$/, 'a json fixture is a .json, .ndjson or .jsonl file').optional(),
  columns: columnsSchema.optional(),
};
const oneSource = (r: { rows?: unknown; csv?: unknown; json?: unknown }): boolean => [r.rows, r.csv, r.json].filter((x) => x !== undefined).length === 1;
/** An object schema's message for a value that is not a map (its other issues keep zod's words: `Unrecognized key: "x"`). */
const notAMap = (message: string) => ({ error: (issue: { code?: string }) => (issue.code === 'invalid_type' ? message : undefined) });
const ONE_SOURCE = 'give exactly one of rows: [...], csv: <file> and json: <file>';
const rowsSchema = z.object(rowsFields, notAMap('a map with rows: [...], csv: <file> or json: <file>')).strict().refine(oneSource, { message: ONE_SOURCE });

const testSchema = z.object({
  dataset: z.string({ error: 'the dataset under test, as layer.table' }).regex(TABLE, 'the dataset under test, as layer.table'),
  date: z.union([z.string(), z.date()]).optional(),
  given: z.record(z.string().regex(TABLE, 'given tables are layer.table'), rowsSchema).default({}),
  expect: z.object({ rows: rowsFields.rows, csv: rowsFields.csv, json: rowsFields.json, quarantine: z.object({ rows: rowsFields.rows, csv: rowsFields.csv, json: rowsFields.json }).strict().refine(oneSource, { message: ONE_SOURCE }).optional() }, notAMap('a map with rows: [...] (or csv: / json: <file>), and optionally quarantine: { rows: [...] }'))
    .strict().refine(oneSource, { message: ONE_SOURCE }),
}, notAMap('a test is a map with dataset, date (optional), given and expect')).strict();

/**
 * Every `*.test.yaml` file under `dir`, sorted, skipping `node_modules`, folders starting with
 * `.` and `skip` (absolute folders such as the lake).
 */
export async function findTestFiles(dir: string, skip: string[] = []): Promise<string[]> {
  const out: string[] = [];
  const walk = async (d: string): Promise<void> => {
    let entries;
    try {
      entries = await fs.readdir(d, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries.sort((a, b) => a.name.localeCompare(b.name))) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) {
        if (e.name === 'node_modules' || e.name.startsWith('.') || skip.includes(p)) continue;
        await walk(p);
      } else if (e.isFile() && e.name.endsWith(TEST_FILE_SUFFIX)) out.push(p);
    }
  };
  await walk(path.resolve(dir));
  return out;
}

/** A test of a file that could not be parsed: its name, line and error. */
export interface InvalidTest {
  file: string;
  name: string;
  line: number;
  error: IngotError;
}

/**
 * Parses the unit tests of one `*.test.yaml` file (YAML 1.2 core schema: `2001-01-15` stays a
 * string). Fixture paths become absolute (relative to the file). A malformed test is returned in
 * `invalid` (TEST_INVALID naming the file, line, test and field: an unknown key, a bad table
 * name or date), the others still run. Errors (thrown): TEST_INVALID for a file that is not
 * valid YAML or not a map of tests.
 */
export async function readTestFile(file: string): Promise<{ tests: UnitTest[]; invalid: InvalidTest[] }> {
  const text = await fs.readFile(file, 'utf8');
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false });
  const at = (offset: number | undefined): number => (offset === undefined ? 1 : lines.linePos(offset).line);
  if (doc.errors.length > 0) {
    const e = doc.errors[0]!;
    throw new IngotError('TEST_INVALID', `${shownPath(file)}:${at(e.pos[0])}: not valid YAML: ${e.message.split('\n')[0]}`, { file, row: at(e.pos[0]) });
  }
  const top = doc.toJS() as unknown;
  if (top === null || top === undefined) return { tests: [], invalid: [] };
  if (typeof top !== 'object' || Array.isArray(top)) {
    throw new IngotError('TEST_INVALID', `${shownPath(file)}:1: a test file is a map of test name → test (dataset, date, given, expect)`, { file, row: 1 });
  }
  const tests: UnitTest[] = [];
  const invalid: InvalidTest[] = [];
  for (const [name, raw] of Object.entries(top as Record<string, unknown>)) {
    try {
      tests.push(parseTest(doc, file, name, raw, at));
    } catch (err) {
      if (!(err instanceof IngotError)) throw err;
      invalid.push({ file, name, line: at(keyOffset(doc, name)), error: err });
    }
  }
  return { tests, invalid };
}

/** One test of `doc` (see `readTestFile`). Errors: TEST_INVALID. */
function parseTest(doc: Document, file: string, name: string, raw: unknown, at: (offset: number | undefined) => number): UnitTest {
  {
    const lineOf = (...p: (string | number)[]): number => at(nodeAt(doc, [name, ...p])?.range?.[0] ?? nodeAt(doc, [name])?.range?.[0]);
    const keyLine = at(keyOffset(doc, name));
    const where = (p: (string | number)[]): string => `${shownPath(file)}:${p.length ? lineOf(...p) : keyLine}: test ${name}`;
    if (!/^[A-Za-z0-9_][A-Za-z0-9_ .-]*$/.test(name)) {
      throw new IngotError('TEST_INVALID', `${shownPath(file)}:${keyLine}: test name "${name}": use letters, digits, _ . - and spaces`, { file, row: keyLine });
    }
    const parsed = testSchema.safeParse(raw);
    if (!parsed.success) {
      // an unknown key first: it is often the reason a required one is missing (`expected:` for `expect:`)
      const issue = parsed.error.issues.find((i) => i.code === 'unrecognized_keys') ?? parsed.error.issues[0]!;
      const p = [...issue.path, ...(issue.code === 'unrecognized_keys' ? issue.keys.slice(0, 1) : [])].filter((x): x is string | number => typeof x !== 'symbol');
      throw new IngotError('TEST_INVALID', `${where(p)}: ${p.length && issue.code !== 'unrecognized_keys' ? `${p.join('.')}: ` : ''}${issue.message}`, { file, row: p.length ? lineOf(...p) : keyLine });
    }
    const t = parsed.data;
    let date: string | undefined;
    if (t.date !== undefined) {
      const d = t.date instanceof Date ? t.date.toISOString().slice(0, 10) : t.date;
      try {
        date = parseDate(d, 'date');
      } catch (err) {
        throw new IngotError('TEST_INVALID', `${where(['date'])}: ${(err as Error).message}`, { file, row: lineOf('date') });
      }
    }
    const resolve = (s: RowsSource): RowsSource =>
      'csv' in s ? { ...s, csv: path.resolve(path.dirname(file), s.csv) } : 'json' in s ? { ...s, json: path.resolve(path.dirname(file), s.json) } : s;
    const { quarantine, ...rows } = t.expect as RowsSource & { quarantine?: RowsSource };
    return {
      file, line: keyLine, name, dataset: t.dataset, ...(date ? { date } : {}),
      given: Object.fromEntries(Object.entries(t.given).map(([k, v]) => [k, resolve(v as RowsSource)])),
      expect: { rows: resolve(rows), ...(quarantine ? { quarantine: resolve(quarantine) } : {}) },
      lineOf,
    };
  }
}

/** The node at `p` (map keys and sequence indexes) in `doc`. */
function nodeAt(doc: Document, p: (string | number)[]): Node | undefined {
  let node: unknown = doc.contents;
  for (const k of p) {
    if (isMap(node)) node = node.items.find((i) => isScalar(i.key) && String(i.key.value) === String(k))?.value;
    else if (isSeq(node) && typeof k === 'number') node = node.items[k];
    else return undefined;
  }
  return (node ?? undefined) as Node | undefined;
}

/** The offset of top-level key `name` in `doc`. */
function keyOffset(doc: Document, name: string): number | undefined {
  const top = doc.contents;
  if (!isMap(top)) return undefined;
  const key = top.items.find((i) => isScalar(i.key) && String(i.key.value) === name)?.key;
  return isScalar(key) ? key.range?.[0] : undefined;
}
