/**
 * The REST API of `ingot serve` (same origin), authenticated by the API key the user entered
 * once, kept in localStorage. Errors are ApiError with the HTTP status and the server's
 * `{ error, message }`.
 */

const KEY = 'ingot.apiKey';

/** The stored API key, or null before the user entered one. */
export function apiKey(): string | null {
  return localStorage.getItem(KEY);
}

/** Stores the key (trimmed) for every later request; an empty key forgets it. */
export function setApiKey(key: string): void {
  if (key.trim()) localStorage.setItem(KEY, key.trim());
  else localStorage.removeItem(KEY);
}

/** A refused or failed request: `status` is the HTTP status (0 when the server is unreachable), `code` the server's error code. */
export class ApiError extends Error {
  constructor(readonly status: number, readonly code: string, message: string) {
    super(message);
  }

  /** True when the key is missing, wrong, revoked or lacks the scope (401, 403). */
  get isAuth(): boolean {
    return this.status === 401 || this.status === 403;
  }
}

async function request(path: string, init: RequestInit = {}): Promise<Response> {
  const headers = new Headers(init.headers);
  const key = apiKey();
  if (key) headers.set('Authorization', `Bearer ${key}`);
  let res: Response;
  try {
    res = await fetch(path, { ...init, headers });
  } catch (err) {
    throw new ApiError(0, 'UNREACHABLE', `${path}: ${(err as Error).message}`);
  }
  if (!res.ok) {
    const text = await res.text();
    let code = `HTTP_${res.status}`;
    let message = text || res.statusText;
    try {
      const body = JSON.parse(text) as { error?: string; message?: string };
      code = body.error ?? code;
      message = body.message ?? message;
    } catch {
      // not JSON: keep the text
    }
    throw new ApiError(res.status, code, message);
  }
  return res;
}

/** GET `path` (e.g. `/api/tables`) as JSON. */
export async function getJson<T>(path: string): Promise<T> {
  return (await request(path)).json() as Promise<T>;
}

/** POST `body` as JSON to `path`; the answer as JSON. */
export async function postJson<T>(path: string, body: unknown = {}): Promise<T> {
  return (await request(path, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) })).json() as Promise<T>;
}

let scope: Promise<string | null> | undefined;

/** The scope of the stored key (`read`, `write`, `admin`), asked once per key. */
export function keyScope(): Promise<string | null> {
  scope ??= getJson<{ scope: string | null }>('/api/keys/current').then((k) => k.scope, () => null);
  return scope;
}

/** Why the stored key cannot run actions, or null when it can (a write or admin key). */
export async function writeRefusal(): Promise<string | null> {
  const s = await keyScope();
  return s === 'write' || s === 'admin' ? null : `your key has the ${s ?? 'unknown'} scope: actions need a write key (ingot keys create --scope write)`;
}

type Listener = (e: RunsEvent) => void;
const listeners = new Set<Listener>();
let streaming: AbortController | undefined;

/** A `runs` event of `GET /api/events` (server-sent events). */
export interface RunsEvent {
  runs: { id: string; pipeline: string | null; logicalDate: string | null; status: string; endedAt: string | null; rows: number | null; error: string | null; current?: string | null; rowsSoFar?: number }[];
  paused: string[];
}

/**
 * Calls `fn` with each `runs` event of the server's event stream until the returned function is
 * called. The stream is read with fetch (EventSource cannot send the key) and opened again after
 * a break.
 */
export function onRuns(fn: Listener): () => void {
  listeners.add(fn);
  if (!streaming) void stream();
  return () => {
    listeners.delete(fn);
    if (listeners.size === 0) {
      streaming?.abort();
      streaming = undefined;
    }
  };
}

async function stream(): Promise<void> {
  const abort = new AbortController();
  streaming = abort;
  while (!abort.signal.aborted) {
    try {
      const res = await request('/api/events', { signal: abort.signal });
      const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
      let buffer = '';
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buffer += value;
        let end: number;
        while ((end = buffer.indexOf('\n\n')) >= 0) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const event = /^event: (.*)$/m.exec(block)?.[1];
          const data = block.split('\n').filter((l) => l.startsWith('data: ')).map((l) => l.slice(6)).join('\n');
          if (event === 'runs' && data) {
            const e = JSON.parse(data) as RunsEvent;
            for (const l of listeners) l(e);
          }
        }
      }
    } catch {
      // aborted, or the server went away: try again below
    }
    if (!abort.signal.aborted) await new Promise((r) => setTimeout(r, 2000));
  }
}

/** GET `path` as text (logs, CSV). */
export async function getText(path: string): Promise<string> {
  return (await request(path)).text();
}

/** `/api/...` with query parameters (undefined ones left out). */
export function withQuery(path: string, query: Record<string, string | number | undefined | null>): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) if (v !== undefined && v !== null && v !== '') q.set(k, String(v));
  const s = q.toString();
  return s ? `${path}?${s}` : path;
}

/** Path segment of a table or pipeline name. */
export function seg(name: string): string {
  return encodeURIComponent(name);
}

/** `{ items, count?, next? }`: a list answer of the API. */
export interface Page<T> {
  items: T[];
  count?: number;
  next?: string | null;
}

/** A dataset's latest state, as the graph colours it. */
export type DatasetState = 'succeeded' | 'failed' | 'running' | 'stale' | 'never run';

export interface PipelineDataset {
  name: string;
  dependsOn: string[];
  state?: DatasetState;
  stateReason?: string | null;
}

export interface PipelineInfo {
  name: string;
  schedule?: string | null;
  timezone?: string;
  interval?: string;
  start?: string | null;
  paused: boolean;
  datasets: PipelineDataset[];
}

export interface RunInfo {
  id: string;
  pipeline: string | null;
  /** The pipeline was derived from the datasets a run of `ingot run` ran. */
  attributed?: boolean;
  trigger?: string | null;
  logicalDate: string | null;
  status: string;
  attempt: number;
  startedAt: string;
  endedAt: string | null;
  durationMs: number | null;
  rows: number | null;
  error: string | null;
}

export interface ExpectationResult {
  name: string;
  passed: boolean;
  failedRows: number;
  rowsChecked: number;
  passRate: number | null;
  action: string;
}

export interface TaskInfo {
  dataset: string;
  /** succeeded, failed, skipped, not run, staged, not committed; running, staged, waiting in a run in flight. */
  state: string;
  reason: string | null;
  status: string | null;
  version: number | null;
  attempts: number;
  startedAt: string | null;
  endedAt: string | null;
  rows: number | null;
  error: string | null;
  expectations: ExpectationResult[];
  quarantined: number | null;
  hasLog: boolean;
}

export interface TableInfo {
  name: string;
  /** Null (with the figures below) for a table whose log cannot be read: see `unreadable`. */
  version: number | null;
  numFiles: number | null;
  sizeBytes: number | null;
  numRecords: number | null;
  partitionColumns: string[];
  lastModified: string | number | null;
  /** Why the table cannot be read (its error code and message). */
  unreadable?: { error: string; message: string };
}

export interface TableDetail {
  name: string;
  version: number;
  schema: { fields: { name: string; type: unknown; nullable: boolean; description?: string | null }[] };
  partitionColumns: string[];
  properties: Record<string, string>;
}

export interface HistoryEntry {
  version: number;
  timestamp: string | number;
  operation: string;
  operationParameters?: Record<string, unknown>;
  operationMetrics?: Record<string, unknown>;
}

export interface ExpectationStat {
  dataset: string;
  name: string;
  action: string;
  runs: number;
  failingRuns: number;
  rowsChecked: number;
  failedRows: number;
  /** Rows passed ÷ rows checked over the period, 0..1; null before any run. */
  passRate: number | null;
  lastFailure: string | null;
}

/** One expectation in one run (`/api/expectations/runs`). */
export interface ExpectationRun {
  runId: string;
  logicalDate: string | null;
  startedAt: string | null;
  runStatus: string | null;
  dataset: string;
  name: string;
  failedRows: number;
  rowsChecked: number;
  passRate: number | null;
}

export interface DashboardPanelData {
  title: string;
  type: 'bar' | 'line' | 'table';
  x?: string | null;
  y?: string | null;
  color?: string | null;
  columns: ({ name: string; type: string } | string)[];
  rows: Record<string, unknown>[];
}
