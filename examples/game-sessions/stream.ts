/**
 * The continuous mode's generator: the game's session events as a stream of JSON-lines files
 * landing in a folder at a set rate, for `continuous/` (a pipeline triggered by their arrival).
 *
 *   npx tsx stream.ts [--rate 2] [--rows 100] [--seconds 60 | --files 500] [--sessions-per-day 273] [--out continuous/landing/events]
 *
 * The events are made as `generate.ts` makes the batch data (same players, countries, evening
 * peak, session lengths, 7% never ending, 4% of the ends delivered one to three data dates late,
 * 0.3% of the events delivered twice in the same file), but day after day without end (from
 * `firstDay`, into 2017 and on), so that a stream can run as long as wanted. Each data date's
 * delivered events, sorted by `ts`, are cut into files of at most `rowsPerFile` rows, named
 * `date=YYYY-MM-DD/part-NNNNNNNN.jsonl` with one sequence number over the whole stream; so the
 * events of one data date spread over several files, and real seconds. A file is written under a
 * hidden temporary name (`.part-….jsonl.tmp`) in its folder and renamed into place, so a reader
 * listing the folder never sees half a file. Run again, it goes on after the last file in the folder.
 */
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { dayOf, jsonLines, playSession, simulation, weighted, type DataFile, type SessionEvent } from './generate.js';

/** Stream settings; the defaults make as many sessions a day as the batch data (100,000 over 2016). */
export interface StreamOptions {
  seed?: number;
  /** Sessions started per data date (default 273). */
  sessionsPerDay?: number;
  /** Players (default 8,000). */
  players?: number;
  /** The first data date, `YYYY-MM-DD` (default 2016-01-01). */
  firstDay?: string;
  /** Events per file, at most (default 100); a data date's last file holds what is left. */
  rowsPerFile?: number;
}

/** One file of the stream. */
export interface StreamFile {
  /** 1, 2, 3... over the stream. */
  seq: number;
  /** The data date of its events, `YYYY-MM-DD`. */
  date: string;
  /** Its path below the landing folder, e.g. `date=2016-01-01/part-00000001.jsonl`. */
  name: string;
  events: SessionEvent[];
}

const DAY_MS = 86_400_000;

/** The delivered events of each data date from `firstDay` on, one date after the other, without end. */
export function* streamDays(options: StreamOptions = {}): Generator<DataFile> {
  const { seed = 2016, sessionsPerDay = 273, players = 8_000, firstDay = '2016-01-01' } = options;
  const sim = simulation(seed, players);
  const { rand } = sim;
  // events waiting for their delivery date (ends crossing midnight, late ends)
  const pending = new Map<string, SessionEvent[]>();
  const deliver = (date: string, e: SessionEvent): void => {
    const list = pending.get(date) ?? [];
    list.push(e);
    if (rand() < 0.003) list.push({ ...e });
    pending.set(date, list);
  };
  for (let day = Date.parse(`${firstDay}T00:00:00Z`); ; day += DAY_MS) {
    for (let i = 0; i < sessionsPerDay; i++) {
      const player = sim.players[weighted(rand, sim.playerTotals)]!;
      playSession(sim, player, day + weighted(rand, sim.hourTotals) * 3_600_000 + Math.floor(rand() * 3_600_000), deliver);
    }
    const date = dayOf(day);
    const events = (pending.get(date) ?? []).sort((a, b) => (a.ts < b.ts ? -1 : a.ts > b.ts ? 1 : 0));
    pending.delete(date);
    yield { date, events };
  }
}

/** The stream's files: each data date's events cut into files of at most `rowsPerFile` rows, in order. */
export function* streamFiles(options: StreamOptions = {}): Generator<StreamFile> {
  const rows = options.rowsPerFile ?? 100;
  if (!Number.isInteger(rows) || rows < 1) throw new Error(`rowsPerFile: ${rows} is not a positive integer`);
  let seq = 0;
  for (const day of streamDays(options)) {
    for (let i = 0; i < day.events.length; i += rows) {
      seq++;
      yield { seq, date: day.date, name: `date=${day.date}/part-${String(seq).padStart(8, '0')}.jsonl`, events: day.events.slice(i, i + rows) };
    }
  }
}

/** A file's text: one JSON object per line. */
export const jsonLinesOf = jsonLines;

/**
 * Writes `file` into `folder` as a writer should: under a hidden temporary name in its own
 * folder, then renamed into place (atomic on one file system). Resolves when the rename is done.
 */
export async function landFile(folder: string, file: StreamFile): Promise<void> {
  const target = path.join(folder, ...file.name.split('/'));
  await fs.mkdir(path.dirname(target), { recursive: true });
  const tmp = path.join(path.dirname(target), `.${path.basename(target)}.tmp`);
  await fs.writeFile(tmp, jsonLinesOf(file.events));
  await fs.rename(tmp, target);
}

/** How long and how fast `landStream` lands files. */
export interface LandOptions extends StreamOptions {
  /** Files landed per second (default 2): file i (from 0) is due at start + i / rate. */
  filesPerSecond?: number;
  /** Files of the stream already landed (an earlier run of the generator): lands from the next one on (default 0). */
  skipFiles?: number;
  /** Stop after this many files (not counting the skipped ones). */
  files?: number;
  /** Stop after this many seconds. Without `files` or `seconds`, lands until `signal` aborts. */
  seconds?: number;
  signal?: AbortSignal;
  /** Called after each file is renamed into place, with the time of the rename (epoch ms). */
  onLanded?: (file: StreamFile, landedAt: number) => void;
}

/**
 * Lands the stream's files into `folder` at `filesPerSecond` until `files`, `seconds` or
 * `signal` says stop (when the machine falls behind, files land as fast as they can be
 * written). Resolves with the number of files landed.
 */
export async function landStream(folder: string, options: LandOptions = {}): Promise<number> {
  const rate = options.filesPerSecond ?? 2;
  if (!(rate > 0)) throw new Error(`filesPerSecond: ${rate} is not a positive number`);
  const start = Date.now();
  let landed = 0;
  for (const file of streamFiles(options)) {
    if (file.seq <= (options.skipFiles ?? 0)) continue;
    if (options.signal?.aborted || (options.files !== undefined && landed >= options.files)) break;
    const due = start + (landed * 1000) / rate;
    if (options.seconds !== undefined && due - start >= options.seconds * 1000) break;
    const wait = due - Date.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    if (options.signal?.aborted) break;
    await landFile(folder, file);
    options.onLanded?.(file, Date.now());
    landed++;
  }
  return landed;
}

/** Where `continuous/`'s pipeline watches for files. */
export const DEFAULT_LANDING = path.join(path.dirname(fileURLToPath(import.meta.url)), 'continuous', 'landing', 'events');

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const args = process.argv.slice(2);
  const opt = (name: string): string | undefined => {
    const i = args.indexOf(`--${name}`);
    return i >= 0 ? args[i + 1] : undefined;
  };
  const num = (name: string): number | undefined => {
    const v = opt(name);
    if (v === undefined) return undefined;
    const n = Number(v);
    if (!Number.isFinite(n) || n <= 0) throw new Error(`--${name} ${v}: expected a positive number`);
    return n;
  };
  const folder = path.resolve(opt('out') ?? DEFAULT_LANDING);
  // a second run of the generator goes on after the files the first one landed
  const names = await fs.readdir(folder, { recursive: true }).catch(() => [] as string[]);
  const skipFiles = Math.max(0, ...names.map((n) => Number(/part-(\d+)\.jsonl$/.exec(String(n))?.[1] ?? 0)));
  const stop = new AbortController();
  process.once('SIGINT', () => stop.abort());
  let rows = 0;
  const n = await landStream(folder, {
    ...(num('rate') !== undefined ? { filesPerSecond: num('rate')! } : {}),
    ...(num('rows') !== undefined ? { rowsPerFile: num('rows')! } : {}),
    ...(num('seconds') !== undefined ? { seconds: num('seconds')! } : {}),
    ...(num('files') !== undefined ? { files: num('files')! } : {}),
    ...(num('sessions-per-day') !== undefined ? { sessionsPerDay: num('sessions-per-day')! } : {}),
    ...(opt('first-day') ? { firstDay: opt('first-day')! } : {}),
    skipFiles,
    signal: stop.signal,
    onLanded: (f) => { rows += f.events.length; if (f.seq % 20 === 0) console.log(`${f.name}: ${f.seq} files, ${rows} events landed`); },
  });
  console.log(`${folder}: ${n} files, ${rows} events landed`);
}
