/**
 * Fixed-seed generator of the game-sessions reference system's data: session `start` and `end`
 * events of a game's players over 2016, delivered as one JSON-lines file per data date inside
 * one zip archive:
 *
 *   events/date=2016-01-01/events.jsonl
 *   {"event":"start","ts":"2016-01-01T19:02:11.348Z","session_id":"…","player_id":"…","country":"DE"}
 *   {"event":"end","ts":"2016-01-01T19:41:37.090Z","session_id":"…","player_id":"…"}
 *
 * A start event carries the player's country; an end event does not. About 7% of the sessions
 * never end; a session's end lands in the file of the day it happened (the next day when the
 * session crosses midnight) except for about 4% of them, delivered one to three data dates late;
 * an end whose data date would fall after 2016 is never delivered. About 0.3% of the events are
 * delivered twice in the same file. Players are skewed (a few play a lot) and keep one country.
 *
 * `generate()` returns the files so that tests can compute the expected tables independently;
 * `zipOf()` packs them; `npx tsx generate.ts [out.zip]` writes `data/game-sessions.zip`.
 */
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ZipFile } from 'yazl';
import { seeded } from '../seeded.js';

/** One event as delivered (a JSON line). */
export interface SessionEvent {
  event: 'start' | 'end';
  /** ISO 8601 UTC with milliseconds, e.g. `2016-11-06T03:18:25.196Z`. */
  ts: string;
  session_id: string;
  player_id: string;
  /** ISO 3166 alpha-2 code; start events only. */
  country?: string;
}

/** The events delivered for one data date, in file order. */
export interface DataFile {
  /** `YYYY-MM-DD`. */
  date: string;
  events: SessionEvent[];
}

/** Generator settings; the defaults make the example's data. */
export interface GenerateOptions {
  seed?: number;
  /** Sessions started over the year (default 100 000). */
  sessions?: number;
  /** Players (default 8 000). */
  players?: number;
}

export const FIRST_DAY = '2016-01-01';
export const LAST_DAY = '2016-12-31';
const YEAR_MS = Date.parse('2017-01-01T00:00:00Z') - Date.parse(`${FIRST_DAY}T00:00:00Z`);
const DAY_MS = 86_400_000;

/** Countries with their weights (players per country). */
export const COUNTRIES: [string, number][] = [
  ['US', 18], ['DE', 9], ['GB', 8], ['FR', 7], ['BR', 7], ['IT', 6], ['ES', 5], ['JP', 5], ['RU', 4], ['CA', 4],
  ['MX', 3], ['PL', 3], ['NL', 3], ['SE', 2], ['TR', 2], ['KR', 2], ['AU', 2], ['IN', 2], ['AR', 1], ['FI', 1],
  ['NO', 1], ['DK', 1], ['PT', 1], ['BE', 1], ['CH', 1], ['AT', 1], ['IE', 1], ['CZ', 1], ['GR', 1], ['NZ', 1],
];
/** Relative weight of each hour of the day (UTC) for session starts: an evening peak. */
export const HOURS = [3, 2, 1, 1, 1, 1, 2, 3, 4, 5, 5, 6, 7, 7, 7, 8, 9, 11, 13, 14, 14, 12, 8, 5];

/** Picks an index with probability proportional to `weights` (given their running totals). */
export function weighted(rand: () => number, totals: number[]): number {
  const x = rand() * totals[totals.length - 1]!;
  let lo = 0;
  let hi = totals.length - 1;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (totals[mid]! > x) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}

/** Running totals of `weights`. */
export function running(weights: number[]): number[] {
  let sum = 0;
  return weights.map((w) => (sum += w));
}

/** The data date (`YYYY-MM-DD`) of a time in ms. */
export const dayOf = (ms: number): string => new Date(ms).toISOString().slice(0, 10);

/** The players of a simulation and the random draws it shares with the generators. */
export interface Simulation {
  rand: () => number;
  /** `n` random lowercase hex digits. */
  hex: (n: number) => string;
  players: { id: string; country: string }[];
  /** Running totals of the players' activity (the busiest ~100 times the quietest). */
  playerTotals: number[];
  /** Running totals of HOURS. */
  hourTotals: number[];
}

/** A simulation of `players` players from `seed` (the generators' common start). */
export function simulation(seed: number, players: number): Simulation {
  const rand = seeded(seed);
  const hex = (n: number): string => Array.from({ length: n }, () => Math.floor(rand() * 16).toString(16)).join('');
  const countryTotals = running(COUNTRIES.map(([, w]) => w));
  const list = Array.from({ length: players }, () => ({ id: hex(32), country: COUNTRIES[weighted(rand, countryTotals)]![0] }));
  // activity falls with rank: the busiest players have ~100 times the sessions of the quietest
  return { rand, hex, players: list, playerTotals: running(list.map((_p, i) => 1 / (1 + i) ** 0.6)), hourTotals: running(HOURS) };
}

/**
 * One session of `player` begun at `began` (ms): its start event delivered on its own date, and
 * (for 93% of sessions) its end event after a log-normal duration (median ~20 minutes, 30 s to
 * 6 h), 4% of ends delivered 1 to 3 days late. `deliver(date, event)` receives each.
 */
export function playSession(sim: Simulation, player: { id: string; country: string }, began: number, deliver: (date: string, e: SessionEvent) => void): void {
  const { rand } = sim;
  const session = sim.hex(32);
  deliver(dayOf(began), { event: 'start', ts: new Date(began).toISOString(), session_id: session, player_id: player.id, country: player.country });
  if (rand() < 0.07) return; // never ends
  const normal = Math.sqrt(-2 * Math.log(1 - rand())) * Math.cos(2 * Math.PI * rand());
  const duration = Math.round(Math.min(6 * 3_600_000, Math.max(30_000, 1_200_000 * Math.exp(0.9 * normal))));
  const ended = began + duration;
  const late = rand() < 0.04 ? 1 + Math.floor(rand() * 3) : 0;
  deliver(dayOf(ended + late * DAY_MS), { event: 'end', ts: new Date(ended).toISOString(), session_id: session, player_id: player.id });
}

/**
 * The data files of every data date of 2016 (366, in date order), each holding the events
 * delivered that day sorted by `ts` (a late end event sorts among the day's own events by its
 * older time).
 */
export function generate(options: GenerateOptions = {}): DataFile[] {
  const { seed = 2016, sessions = 100_000, players = 8_000 } = options;
  const sim = simulation(seed, players);
  const { rand } = sim;
  const start = Date.parse(`${FIRST_DAY}T00:00:00Z`);
  const byDay = new Map<string, SessionEvent[]>();
  const deliver = (date: string, e: SessionEvent): void => {
    if (date > LAST_DAY) return;
    const list = byDay.get(date) ?? [];
    list.push(e);
    if (rand() < 0.003) list.push({ ...e });
    byDay.set(date, list);
  };
  for (let i = 0; i < sessions; i++) {
    const player = sim.players[weighted(rand, sim.playerTotals)]!;
    const day = Math.floor(rand() * (YEAR_MS / DAY_MS));
    playSession(sim, player, start + day * DAY_MS + weighted(rand, sim.hourTotals) * 3_600_000 + Math.floor(rand() * 3_600_000), deliver);
  }
  const files: DataFile[] = [];
  for (let t = start; dayOf(t) <= LAST_DAY; t += DAY_MS) {
    const date = dayOf(t);
    files.push({ date, events: (byDay.get(date) ?? []).sort((a, b) => (a.ts < b.ts ? -1 : a.ts > b.ts ? 1 : 0)) });
  }
  return files;
}

/** The zip member holding a data date's events. */
export const memberOf = (date: string): string => `events/date=${date}/events.jsonl`;

/** A JSON-lines file's text. */
export const jsonLines = (events: SessionEvent[]): string => events.map((e) => JSON.stringify(e)).join('\n') + '\n';

/**
 * A zip archive (yazl, deflated) holding each file as `memberOf(date)`. Entries carry a fixed
 * modification time (2017-01-01 00:00 UTC), so the same files always give the same bytes.
 */
export async function zipOf(files: DataFile[]): Promise<Buffer> {
  const zip = new ZipFile();
  for (const f of files) zip.addBuffer(Buffer.from(jsonLines(f.events), 'utf8'), memberOf(f.date), { mtime: new Date('2017-01-01T00:00:00Z') });
  zip.end();
  const chunks: Buffer[] = [];
  for await (const chunk of zip.outputStream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/** Generates the data and writes the zip to `file`; returns the files. */
export async function writeZip(file: string, options: GenerateOptions = {}): Promise<DataFile[]> {
  const files = generate(options);
  await fs.mkdir(path.dirname(file), { recursive: true });
  await fs.writeFile(file, await zipOf(files));
  return files;
}

/** Where `serve.ts` and the README expect the archive. */
export const DEFAULT_ZIP = path.join(path.dirname(fileURLToPath(import.meta.url)), 'data', 'game-sessions.zip');

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const target = path.resolve(process.argv[2] ?? DEFAULT_ZIP);
  const files = await writeZip(target);
  const events = files.reduce((n, f) => n + f.events.length, 0);
  console.log(`${target}: ${files.length} data dates, ${events} events`);
}
