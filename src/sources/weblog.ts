import { randomUUID } from 'node:crypto';
import { createReadStream, promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { createInterface } from 'node:readline';
import { createGunzip } from 'node:zlib';
import { quoteIdent, quoteString, type Engine, type FileScan } from '../engine/engine.js';
import { IngotError, messageOf } from '../errors.js';
import type { Expectation } from '../pipeline/definition.js';
import type { SourceBatch } from './source.js';

/**
 * Web-server access logs: Apache/Nginx `combined` and `common` log formats.
 *
 * `common`: `host ident user [time] "request" status bytes`;
 * `combined`: the same plus `"referrer" "user_agent"`, e.g.
 * `127.0.0.1 - frank [10/Oct/2000:13:55:36 -0700] "GET /a.gif HTTP/1.0" 200 2326 "http://x/" "Mozilla/4.08"`.
 */
export type WebLogFormat = 'combined' | 'common';

/** Column → SQL type of the rows of a `format` log (in order), before `_line` and the lineage columns. */
export function webLogColumns(format: WebLogFormat): Record<string, string> {
  return {
    host: 'VARCHAR', ident: 'VARCHAR', user: 'VARCHAR', time: 'TIMESTAMPTZ',
    method: 'VARCHAR', path: 'VARCHAR', protocol: 'VARCHAR', status: 'INTEGER', bytes: 'BIGINT',
    ...(format === 'combined' ? { referrer: 'VARCHAR', user_agent: 'VARCHAR' } : {}),
  };
}

/** Lines parsed and written to the temp file per write. */
const BATCH_LINES = 20_000;

/** Name of the automatic expectation that quarantines malformed lines. */
export const PARSE_EXPECTATION = 'log_line_parsed';

/**
 * Parses access-log files into relation `relation` (a DuckDB temp table), streaming each file
 * line by line (gzip-decompressed when its name ends in `.gz`) into a temporary NDJSON file in
 * `os.tmpdir()`, so memory stays flat; DuckDB then reads and types it and the file is deleted.
 *
 * Columns: those of `webLogColumns(format)`, then `_line` (BIGINT, 1-based line number in its
 * file), `_raw` and `_parse_error`, then each file's `values` (`_source`, path placeholders)
 * typed by `scan.valueTypes`. `-` in ident, user, referrer and user_agent is NULL, as is `-` for
 * bytes (nothing sent); `time` keeps its instant (`[10/Oct/2000:13:55:36 -0700]` is
 * 2000-10-10 20:55:36 UTC). A request `-` has NULL method, path and protocol; `METHOD PATH`
 * (HTTP/0.9) has a NULL protocol; a path may hold spaces (`GET /a b HTTP/1.1`). Quoted fields unescape `\"` and `\\`. Blank lines are skipped.
 *
 * A malformed line (fields missing or extra, a bad timestamp, a status that is not three
 * digits, a request that is not `METHOD PATH [PROTOCOL]`) becomes a row with every parsed
 * column NULL, `_raw` = the line and `_parse_error` = what is wrong; the returned batch declares
 * expectation `log_line_parsed` (`_parse_error IS NULL`, action quarantine), so those rows land in
 * the dataset's quarantine table with their `_line`, and `_raw` and `_parse_error` as
 * quarantine-only columns (always NULL in kept rows, so the dataset's table does not get them).
 *
 * Errors: INPUT_MALFORMED naming the file when it cannot be read or decompressed.
 */
export async function readWebLogs(dataset: string, engine: Engine, relation: string, format: WebLogFormat, scan: Pick<FileScan, 'files' | 'valueTypes'>): Promise<SourceBatch> {
  const tmp = path.join(os.tmpdir(), `ingot-weblog-${randomUUID()}.ndjson`);
  const columns = Object.entries(webLogColumns(format));
  const parse = format === 'combined' ? parseCombined : parseCommon;
  let rows = 0;
  const out = await fs.open(tmp, 'w');
  try {
    try {
      for (let f = 0; f < scan.files.length; f++) rows += await convertFile(scan.files[f]!.path, f, parse, columns.length, out);
    } finally {
      await out.close();
    }
    // each temp line is a JSON array: the columns' values, then _line, the file's index, _raw, _parse_error
    const item = (i: number, type: string): string => {
      const v = `__l.j[${i + 1}]`;
      return type === 'VARCHAR' ? v : type === 'TIMESTAMPTZ' ? `to_timestamp(CAST(${v} AS BIGINT))` : `CAST(${v} AS ${type})`;
    };
    const k = columns.length;
    const select = [
      ...columns.map(([c, t], i) => `${item(i, t)} AS ${quoteIdent(c)}`),
      `${item(k, 'BIGINT')} AS "_line"`, `${item(k + 2, 'VARCHAR')} AS "_raw"`, `${item(k + 3, 'VARCHAR')} AS "_parse_error"`,
    ];
    const valueCols = Object.keys(scan.files[0]?.values ?? {});
    const fileValues = scan.files.map((f, i) => `(${[String(i), ...valueCols.map((c) => quoteString(f.values[c]!))].join(', ')})`).join(', ');
    select.push(...valueCols.map((c) => `CAST(__f.${quoteIdent(c)} AS ${scan.valueTypes?.[c] ?? 'VARCHAR'}) AS ${quoteIdent(c)}`));
    const from = rows === 0 ? '(SELECT CAST([] AS VARCHAR[]) AS j WHERE false)' : `read_json(${quoteString(tmp)}, format = 'newline_delimited', records = 'false', columns = {'j': 'VARCHAR[]'})`;
    const sql = `SELECT ${select.join(', ')} FROM ${from} AS __l JOIN (VALUES ${fileValues}) AS __f(${['__file', ...valueCols].map(quoteIdent).join(', ')}) ON ${item(k + 1, 'INTEGER')} = __f.__file`;
    try {
      await engine.stage(relation, sql);
    } catch (err) {
      throw new IngotError('INPUT_MALFORMED', `${dataset}: cannot load parsed log lines: ${messageOf(err)}`, { dataset }, { cause: err });
    }
  } finally {
    await fs.rm(tmp, { force: true });
  }
  const expectations: Expectation[] = [{ name: PARSE_EXPECTATION, condition: '"_parse_error" IS NULL', action: 'quarantine' }];
  return { relation, inputs: scan.files.map((f) => f.values['_source'] ?? f.path), expectations, quarantineColumns: ['_raw', '_parse_error'] };
}

/** A parsed line: its columns' values in `webLogColumns` order (time in seconds since the epoch), or why it is malformed. */
export type ParsedLine = (string | number | null)[] | string;

/**
 * Streams `file` into `out`, one JSON array a line: the `k` column values, the line number, the
 * file's `index`, and for a malformed line (values all null) the line and the parse error.
 * Returns the number of rows written.
 */
async function convertFile(file: string, index: number, parse: (line: string) => ParsedLine, k: number, out: fs.FileHandle): Promise<number> {
  const raw = createReadStream(file);
  const input = file.endsWith('.gz') ? raw.pipe(createGunzip()) : raw;
  let failure: unknown;
  const fail = (err: unknown): void => {
    failure ??= err;
    input.destroy();
  };
  raw.on('error', fail);
  input.on('error', fail);
  const lines = createInterface({ input, crlfDelay: Infinity });
  const nulls = '['.padEnd(1 + 5 * k, 'null,');
  let n = 0;
  let rows = 0;
  let batch: string[] = [];
  try {
    for await (const line of lines) {
      n++;
      if (line.trim() === '') continue;
      const p = parse(line);
      batch.push(typeof p === 'string'
        ? `${nulls}${n},${index},${JSON.stringify(line)},${JSON.stringify(p)}]`
        : `${JSON.stringify(p).slice(0, -1)},${n},${index}]`);
      if (batch.length >= BATCH_LINES) {
        await out.write(batch.join('\n') + '\n');
        rows += batch.length;
        batch = [];
      }
    }
  } catch (err) {
    failure ??= err;
  }
  if (failure) throw new IngotError('INPUT_MALFORMED', `${file}: cannot read (${messageOf(failure)}) after line ${n}`, { file, row: n }, { cause: failure });
  if (batch.length > 0) await out.write(batch.join('\n') + '\n');
  return rows + batch.length;
}

// host ident user [time] "request" status bytes — then, for combined, "referrer" "user_agent"
// the unrolled form of "(?:[^"\\]|\\.)*": a character class run at a time, far faster in V8
const QUOTED = String.raw`"([^"\\]*(?:\\.[^"\\]*)*)"`;
const COMMON = String.raw`^(\S+) (\S+) (\S+) \[([^\]]+)\] ${QUOTED} (\S+) (\S+)`;
const COMMON_LINE = new RegExp(`${COMMON}\\s*$`);
const COMBINED_LINE = new RegExp(`${COMMON} ${QUOTED} ${QUOTED}\\s*$`);

const MONTHS: Record<string, number> = { Jan: 0, Feb: 1, Mar: 2, Apr: 3, May: 4, Jun: 5, Jul: 6, Aug: 7, Sep: 8, Oct: 9, Nov: 10, Dec: 11 };
const TIME = /^(\d{2})\/([A-Z][a-z]{2})\/(\d{4}):(\d{2}):(\d{2}):(\d{2}) ([+-])(\d{2})(\d{2})$/;
const REQUEST = /^([A-Z][A-Z_-]*) (.+?)(?: ([A-Z]+\/\d+(?:\.\d+)?))?$/;

/** Parses one `common` line. */
export function parseCommon(line: string): ParsedLine {
  const m = COMMON_LINE.exec(line);
  return m ? fields(m) : `not a common log line (host ident user [time] "request" status bytes)`;
}

/** Parses one `combined` line. */
export function parseCombined(line: string): ParsedLine {
  const m = COMBINED_LINE.exec(line);
  if (!m) return `not a combined log line (host ident user [time] "request" status bytes "referrer" "user_agent")`;
  const row = fields(m);
  if (typeof row === 'string') return row;
  row.push(dash(unescape(m[8]!)), dash(unescape(m[9]!)));
  return row;
}

function fields(m: RegExpExecArray): ParsedLine {
  const time = seconds(m[4]!);
  if (time === undefined) return `time [${m[4]}] is not dd/Mon/yyyy:HH:MM:SS ±hhmm`;
  const request = unescape(m[5]!);
  let r: RegExpExecArray | null = null;
  if (request !== '-') {
    r = REQUEST.exec(request);
    if (!r) return `request "${request.slice(0, 100)}" is not METHOD PATH [PROTOCOL/VERSION]`;
  }
  if (!/^\d{3}$/.test(m[6]!)) return `status ${m[6]} is not a three-digit code`;
  if (m[7] !== '-' && !/^\d{1,18}$/.test(m[7]!)) return `bytes ${m[7]} is not a number or -`;
  // host, ident, user, time, method, path, protocol, status, bytes
  return [m[1]!, dash(m[2]!), dash(m[3]!), time, r?.[1] ?? null, r?.[2] ?? null, r?.[3] ?? null, Number(m[6]), m[7] === '-' ? null : m[7]!];
}

let lastTime = '';
let lastSeconds: number | undefined;

/** `10/Oct/2000:13:55:36 -0700` → 971211336 (seconds since the epoch), undefined when invalid. Consecutive lines mostly share it: the last one is remembered. */
function seconds(text: string): number | undefined {
  if (text === lastTime) return lastSeconds;
  lastTime = text;
  lastSeconds = undefined;
  const t = TIME.exec(text);
  const month = t ? MONTHS[t[2]!] : undefined;
  if (!t || month === undefined) return undefined;
  const [day, year, h, min, s, oh, om] = [t[1], t[3], t[4], t[5], t[6], t[8], t[9]].map(Number) as number[];
  if (h! > 23 || min! > 59 || s! > 60 || oh! > 23 || om! > 59) return undefined;
  const local = Date.UTC(year!, month, day!, h!, min!, s!);
  if (new Date(local).getUTCDate() !== day) return undefined; // 31/Feb, 00/Jan
  lastSeconds = local / 1000 - (t[7] === '-' ? -1 : 1) * (oh! * 60 + om!) * 60;
  return lastSeconds;
}

function dash(v: string): string | null {
  return v === '-' ? null : v;
}

function unescape(v: string): string {
  return v.includes('\\') ? v.replace(/\\(["\\])/g, '$1') : v;
}
