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

export interface PipelineInfo {
  name: string;
  schedule?: string | null;
  timezone?: string;
  interval?: string;
  paused: boolean;
  datasets: { name: string; dependsOn: string[] }[];
}

export interface RunInfo {
  id: string;
  pipeline: string | null;
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
  action: string;
}

export interface TaskInfo {
  dataset: string;
  status: string;
  attempts: number;
  startedAt: string | null;
  endedAt: string | null;
  rows: number | null;
  error: string | null;
  expectations: ExpectationResult[];
  quarantined: number | null;
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
  schema: { fields: { name: string; type: unknown; nullable: boolean }[] };
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
  runs: number;
  passed: number;
  /** passed / runs, 0..1; null before any run. */
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
