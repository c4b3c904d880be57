import { setTimeout as sleep } from 'node:timers/promises';
import { IngotError, messageOf } from '../errors.js';
import type { HttpRetry } from '../pipeline/sources/http-source.js';

/** Spaces request starts at least `1000 / perSecond` ms apart. */
export class RateLimiter {
  private next = 0;
  private readonly gap: number;

  constructor(perSecond: number | undefined) {
    this.gap = perSecond ? 1000 / perSecond : 0;
  }

  /** Resolves when the next request may start. */
  async wait(): Promise<void> {
    if (this.gap === 0) return;
    const now = performance.now();
    const at = Math.max(now, this.next);
    this.next = at + this.gap;
    if (at > now) await sleep(at - now);
  }
}

/** A successful response with its body read as text. */
export interface Fetched {
  url: string;
  status: number;
  headers: Headers;
  body: string;
}

/** What a request needs besides its URL. */
export interface RequestOptions {
  dataset: string;
  headers: Record<string, string>;
  retry: HttpRetry;
  timeoutMs: number;
  limiter: RateLimiter;
}

/**
 * GETs `url` (or sends `init`'s method and JSON body). A 429 or 5xx answer, a network error or a timeout is retried after
 * `baseDelayMs * 2^(attempt-1)` ms (at most `maxDelayMs`), or after `Retry-After` (seconds or an
 * HTTP date) when the server sends one. Errors (SOURCE_ERROR, naming the dataset and URL): any
 * other non-2xx answer (with status and body excerpt) at once, a retryable failure when
 * `maxAttempts` are used up, a `Retry-After` longer than `maxDelayMs`.
 */
export async function getWithRetry(url: string, o: RequestOptions, init?: { method: 'POST'; body: string }): Promise<Fetched> {
  const maxAttempts = o.retry.maxAttempts ?? 5;
  const base = o.retry.baseDelayMs ?? 500;
  const maxDelay = o.retry.maxDelayMs ?? 60_000;
  const fail = (message: string, cause?: unknown): IngotError =>
    new IngotError('SOURCE_ERROR', `${o.dataset}: ${init?.method ?? 'GET'} ${url}: ${message}`, { dataset: o.dataset, file: url }, { cause });
  for (let attempt = 1; ; attempt++) {
    await o.limiter.wait();
    let failure: string;
    let cause: unknown;
    let wait = Math.min(base * 2 ** (attempt - 1), maxDelay);
    try {
      const res = await fetch(url, { headers: o.headers, signal: AbortSignal.timeout(o.timeoutMs), ...(init ? { method: init.method, body: init.body } : {}) });
      const body = await res.text();
      if (res.ok) return { url, status: res.status, headers: res.headers, body };
      failure = `HTTP ${res.status}${res.statusText ? ` ${res.statusText}` : ''}: ${excerpt(body)}`;
      if (res.status !== 429 && res.status < 500) throw fail(failure);
      const after = retryAfterMs(res.headers.get('retry-after'));
      if (after !== undefined) {
        if (after > maxDelay) throw fail(`${failure} (server asks to retry after ${Math.round(after / 1000)} s, more than retry.maxDelayMs ${maxDelay} ms)`);
        wait = after;
      }
    } catch (err) {
      if (err instanceof IngotError) throw err;
      const reason = (err as { cause?: unknown }).cause;
      failure = `network error: ${messageOf(err)}${reason ? ` (${messageOf(reason)})` : ''}`;
      cause = err;
    }
    if (attempt >= maxAttempts) throw fail(`failed after ${attempt} attempts, last: ${failure}`, cause);
    await sleep(wait);
  }
}

/** `Retry-After` in ms: delay-seconds or an HTTP date (RFC 9110 §10.2.3); undefined if absent or unreadable. */
export function retryAfterMs(value: string | null): number | undefined {
  if (value === null || value.trim() === '') return undefined;
  if (/^\d+$/.test(value.trim())) return Number(value.trim()) * 1000;
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : Math.max(0, at - Date.now());
}

/** The `rel="next"` target of an RFC 8288 `Link` header, resolved against `base`. */
export function nextLink(header: string | null, base: string): string | undefined {
  if (!header) return undefined;
  for (const m of header.matchAll(/<([^>]*)>((?:\s*;\s*[^;,]+)*)/g)) {
    const rel = /;\s*rel\s*=\s*(?:"([^"]*)"|([^\s;,]+))/i.exec(m[2]!);
    const rels = (rel?.[1] ?? rel?.[2] ?? '').toLowerCase().split(/\s+/);
    if (rels.includes('next')) return new URL(m[1]!, base).href;
  }
  return undefined;
}

/** The first 300 characters of a body on one line. */
export function excerpt(body: string): string {
  const flat = body.replace(/\s+/g, ' ').trim();
  return flat.length > 300 ? `${flat.slice(0, 300)}…` : flat || '(empty body)';
}
