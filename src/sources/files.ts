import { createReadStream } from 'node:fs';
import { createGunzip } from 'node:zlib';
import * as path from 'node:path';
import { glob } from 'tinyglobby';
import type { Engine, FileScan } from '../engine/engine.js';
import { IngotError } from '../errors.js';
import type { FilesSource } from '../pipeline/definition.js';
import { contains } from '../pipeline/interval.js';
import type { SourceBatch, SourceConnector, SourceContext } from './source.js';
import { readWebLogs } from './weblog.js';

/**
 * Local files (csv, tsv, json, ndjson, parquet; `combined`/`common` web-server logs, see `readWebLogs`) matched by a glob with `{column}` placeholders:
 * `landing/flights/date={flight_date}/*.csv` reads the files whose `flight_date` segment lies in
 * the run's interval and adds `flight_date` to their rows. Declared columns are checked against
 * each CSV header before reading, so a missing column names the file.
 */
export class FilesConnector implements SourceConnector {
  constructor(private readonly source: FilesSource) {}

  async read(ctx: SourceContext, engine: Engine, relation: string): Promise<SourceBatch> {
    const { source } = this;
    const placeholders = [...source.path.matchAll(/\{([a-z_][a-z0-9_]*)\}/g)].map((m) => m[1]!);
    const pattern = source.path.replace(/\{[a-z_][a-z0-9_]*\}/g, '*');
    const matcher = patternRegex(source.path);
    const found = (await glob(pattern, { cwd: ctx.projectDir, onlyFiles: true })).sort();
    const files: FileScan['files'] = [];
    for (const rel of found) {
      const m = matcher.exec(rel);
      if (!m) continue;
      const values: Record<string, string> = {};
      for (const p of placeholders) values[p] = decodeURIComponent(m.groups![p]!);
      const pv = ctx.partitionColumn ? values[ctx.partitionColumn] : undefined;
      if (pv !== undefined && !contains(ctx.interval, pv)) continue;
      files.push({ path: path.join(ctx.projectDir, rel), values: { ...values, _source: rel } });
    }
    if (files.length === 0) {
      const shown = ctx.partitionColumn && ctx.interval.start !== '-infinity' && ctx.interval.end !== 'infinity'
        ? `${ctx.partitionColumn} in [${ctx.interval.start}, ${ctx.interval.end})`
        : 'any';
      throw new IngotError('INPUT_MISSING', `${ctx.dataset}: no input files: nothing under ${ctx.projectDir} matches ${source.path} (${shown})`, { dataset: ctx.dataset, file: source.path });
    }
    let columns = source.columns;
    if (columns && (source.format === 'csv' || source.format === 'tsv')) {
      columns = await checkHeaders(files.map((f) => f.path), columns, source.format === 'tsv' ? '\t' : ',', ctx.dataset);
    }
    const valueTypes: Record<string, string> = {};
    for (const p of placeholders) {
      valueTypes[p] = source.columns?.[p] ?? (files.every((f) => /^\d{4}-\d{2}-\d{2}$/.test(f.values[p]!)) ? 'DATE' : 'VARCHAR');
    }
    if (source.format === 'combined' || source.format === 'common') return readWebLogs(ctx.dataset, engine, relation, source.format, { files, valueTypes });
    const scan: FileScan = { format: source.format, files, valueTypes, ...(columns ? { columns } : {}) };
    try {
      await engine.attachFiles(relation, scan);
    } catch (err) {
      throw inputError(err, ctx.dataset);
    }
    return { relation, inputs: files.map((f) => f.values['_source']!) };
  }
}

/** Wraps an engine's read error as INPUT_MALFORMED with the file and line it names. */
export function inputError(err: unknown, dataset: string): IngotError {
  const msg = (err as Error).message ?? String(err);
  const file = /file\s*=\s*(\S+)/.exec(msg)?.[1];
  const line = /on Line:\s*(\d+)/i.exec(msg)?.[1];
  const first = msg.split('\n').filter((l) => l.trim() && !/^Possible fixes|^\*/.test(l.trim())).slice(0, 3).join(' ');
  return new IngotError(
    'INPUT_MALFORMED',
    `${dataset}: cannot read ${file ?? 'input'}${line ? ` (line ${line})` : ''}: ${first}`,
    { dataset, ...(file ? { file } : {}), ...(line ? { row: Number(line) } : {}) },
    { cause: err },
  );
}

function patternRegex(pattern: string): RegExp {
  let re = '';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!;
    if (c === '{') {
      const end = pattern.indexOf('}', i);
      re += `(?<${pattern.slice(i + 1, end)}>[^/]+)`;
      i = end;
    } else if (c === '*') {
      if (pattern[i + 1] === '*') {
        re += '.*';
        i++;
      } else re += '[^/]*';
    } else if (c === '?') re += '[^/]';
    else re += c.replace(/[.+^$()|[\]\\]/g, '\\$&');
  }
  return new RegExp(`^${re}$`);
}

/**
 * Reads the header of each file and returns the declared columns in the files' own order
 * (undeclared columns as VARCHAR). Errors: INPUT_SCHEMA naming the file and the missing column,
 * or the file whose header differs from the first file's.
 */
async function checkHeaders(files: string[], declared: Record<string, string>, delimiter: string, dataset: string): Promise<Record<string, string>> {
  let first: string[] | undefined;
  for (const file of files) {
    const header = await readHeader(file, delimiter);
    const missing = Object.keys(declared).filter((c) => !header.includes(c));
    if (missing.length > 0) {
      throw new IngotError('INPUT_SCHEMA', `${dataset}: ${file}: column ${missing.join(', ')} missing (header: ${header.join(delimiter)})`, { dataset, file, column: missing[0]! });
    }
    if (first && first.join('\u0000') !== header.join('\u0000')) {
      throw new IngotError('INPUT_SCHEMA', `${dataset}: ${file}: header ${header.join(delimiter)} differs from ${files[0]}'s ${first.join(delimiter)}`, { dataset, file });
    }
    first ??= header;
  }
  return Object.fromEntries(first!.map((c) => [c, declared[c] ?? 'VARCHAR']));
}

async function readHeader(file: string, delimiter: string): Promise<string[]> {
  const text = (await readStart(file)).toString('utf8').replace(/^\uFEFF/, '');
  const line = text.split(/\r?\n/)[0] ?? '';
  if (line.trim() === '') throw new IngotError('INPUT_MALFORMED', `${file}: empty file or no header line`, { file, row: 1 });
  return splitCsvLine(line, delimiter);
}

/** The first 64 KiB of `file`, decompressed when it ends in `.gz`. */
async function readStart(file: string): Promise<Buffer> {
  const LIMIT = 65536;
  const stream = file.endsWith('.gz') ? createReadStream(file).pipe(createGunzip()) : createReadStream(file, { end: LIMIT - 1 });
  const chunks: Buffer[] = [];
  let size = 0;
  try {
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      chunks.push(chunk);
      size += chunk.length;
      if (size >= LIMIT) break;
    }
  } catch (err) {
    throw new IngotError('INPUT_MALFORMED', `${file}: cannot read (${(err as Error).message})`, { file }, { cause: err });
  } finally {
    stream.destroy();
  }
  return Buffer.concat(chunks).subarray(0, LIMIT);
}

function splitCsvLine(line: string, delimiter: string): string[] {
  const out: string[] = [];
  let cur = '';
  let quoted = false;
  for (let i = 0; i < line.length; i++) {
    const c = line[i]!;
    if (quoted) {
      if (c === '"' && line[i + 1] === '"') {
        cur += '"';
        i++;
      } else if (c === '"') quoted = false;
      else cur += c;
    } else if (c === '"') quoted = true;
    else if (c === delimiter) {
      out.push(cur.trim());
      cur = '';
    } else cur += c;
  }
  out.push(cur.trim());
  return out;
}
