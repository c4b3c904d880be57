import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { allows, type KeyVerifier, type Scope } from './api-keys.js';

/** What a route needs: a key of at least this scope, or nothing (`public`). Set as the route's `config.auth`. */
export type RouteAuth = Scope | 'public';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Scope a route requires (default `read`); `public` routes need no key. */
    auth?: RouteAuth;
  }
  interface FastifyRequest {
    /** The verified key (absent on public routes). */
    apiKey?: { id: string; scope: Scope };
  }
}

/** Options of the failed-attempt limiter. */
export interface AuthLimits {
  /** Failed attempts (missing or wrong key) allowed per client address and key prefix per window before 429 (default 20). */
  maxFailures?: number;
  /** Window length, ms (default 60000). */
  windowMs?: number;
}

/** The key a request presents: `Authorization: Bearer <key>` or `x-api-key: <key>`. */
export function presentedKey(request: FastifyRequest): string | undefined {
  const auth = request.headers.authorization;
  if (typeof auth === 'string') {
    const m = /^Bearer\s+(\S+)\s*$/i.exec(auth);
    return m?.[1];
  }
  const header = request.headers['x-api-key'];
  return typeof header === 'string' ? header.trim() : undefined;
}

/** Most (address, prefix) pairs whose failures are counted at once. */
const MAX_TRACKED = 100_000;

/**
 * The part of a presented key that names it, which failed attempts are counted by: `ingot_<id>`
 * for a key of ingot's form (`ingot_<12 hex>_<secret>`), `-` for no key or a key of another form.
 */
export function keyPrefix(key: string | undefined): string {
  const m = key === undefined ? null : /^(ingot_[0-9a-f]{12})_/.exec(key);
  return m ? m[1]! : '-';
}

/**
 * Failed authentication attempts, shared by the HTTP API and the PostgreSQL protocol server:
 * counted per client address, and per address and key prefix (`keyPrefix`) where the prefix is
 * known, in windows of `windowMs`. The HTTP API refuses an (address, prefix) pair after
 * `maxFailures` and an address after more than `maxFailures` failures of any prefix; the
 * PostgreSQL server, which cannot see a key's prefix before SCRAM succeeds, refuses an address
 * after `maxFailures` (`blockedFor`).
 */
export class AuthFailures {
  readonly maxFailures: number;
  readonly windowMs: number;
  /** Failed attempts by `address` (all prefixes) and by `address\0prefix`. */
  private readonly failures = new Map<string, { count: number; resetAt: number }>();
  private readonly sweep: NodeJS.Timeout;

  constructor(limits: AuthLimits = {}) {
    this.maxFailures = limits.maxFailures ?? 20;
    this.windowMs = limits.windowMs ?? 60_000;
    this.sweep = setInterval(() => {
      const now = Date.now();
      for (const [k, f] of this.failures) if (f.resetAt <= now) this.failures.delete(k);
    }, this.windowMs);
    this.sweep.unref();
  }

  /** The current window's count of `ip` (with `prefix`: of that pair), if any. */
  current(ip: string, prefix?: string, now = Date.now()): { count: number; resetAt: number } | undefined {
    const f = this.failures.get(prefix === undefined ? ip : `${ip}\0${prefix}`);
    return f && f.resetAt > now ? f : undefined;
  }

  /** Ms until `ip` may try again when its failures (all prefixes) have reached the limit, else undefined. */
  blockedFor(ip: string, now = Date.now()): number | undefined {
    const f = this.current(ip, undefined, now);
    return f && f.count >= this.maxFailures ? f.resetAt - now : undefined;
  }

  /** Counts one failed attempt of `ip` (with the key's `prefix` when known); returns the address's count. */
  fail(ip: string, prefix?: string, now = Date.now()): { count: number; resetAt: number } {
    const all = this.current(ip, undefined, now) ?? { count: 0, resetAt: now + this.windowMs };
    all.count++;
    this.failures.set(ip, all);
    if (prefix !== undefined) {
      // a flood of made-up prefixes does not grow the map without bound (the address's own count still holds)
      const pair = `${ip}\0${prefix}`;
      const entry = this.current(ip, prefix, now) ?? (this.failures.size < MAX_TRACKED ? { count: 0, resetAt: now + this.windowMs } : undefined);
      if (entry) {
        entry.count++;
        this.failures.set(pair, entry);
      }
    }
    return all;
  }

  /** Stops the periodic sweep. */
  close(): void {
    clearInterval(this.sweep);
  }
}


/**
 * Adds authentication to every route: a route's `config.auth` scope (default `read`) must be
 * covered by the presented key's scope (401 `UNAUTHORIZED` without a valid key, 403 `FORBIDDEN`
 * for a key of a lower scope).
 *
 * Failed attempts (no key, a wrong key) are counted per client address (`request.ip`: the
 * socket's peer, or the client a trusted proxy names when `serve.trustProxy` is set) and key
 * prefix (`keyPrefix`), in `failures` (which the PostgreSQL protocol server may share). After
 * `maxFailures` in a window, that address gets 429 `RATE_LIMITED` (with `Retry-After`, until the
 * window ends) for that prefix only, without the key being checked: guessing the secret of one
 * key from an address locks that key from that address, and nothing else. Failed attempts over
 * `maxFailures` from one address, whatever their prefixes, are also answered 429; a valid key of
 * another prefix is always let through.
 */
export function addAuth(app: FastifyInstance, verifier: KeyVerifier, limits: AuthLimits | AuthFailures = {}): void {
  const failures = limits instanceof AuthFailures ? limits : new AuthFailures(limits);
  if (!(limits instanceof AuthFailures)) app.addHook('onClose', async () => failures.close());

  const refuse = (reply: FastifyReply, status: number, error: string, message: string): FastifyReply =>
    reply.code(status).header('cache-control', 'no-store').send({ error, message });
  const limited = (reply: FastifyReply, f: { resetAt: number }, now: number, what: string): FastifyReply => {
    reply.header('retry-after', String(Math.max(1, Math.ceil((f.resetAt - now) / 1000))));
    return refuse(reply, 429, 'RATE_LIMITED', `too many failed authentication attempts from this address${what}; try again later`);
  };

  app.addHook('onRequest', async (request, reply) => {
    const needed = request.routeOptions.config.auth ?? (request.routeOptions.url === undefined ? 'public' : 'read');
    if (needed === 'public') return;
    const now = Date.now();
    const ip = request.ip;
    const key = presentedKey(request);
    const prefix = keyPrefix(key);
    const locked = failures.current(ip, prefix, now);
    if (locked && locked.count >= failures.maxFailures) return limited(reply, locked, now, prefix === '-' ? ' without a valid key' : ` with key ${prefix}`);
    const found = key === undefined ? undefined : await verifier.verify(key, now);
    if (!found) {
      const all = failures.fail(ip, prefix, now);
      if (all.count > failures.maxFailures) return limited(reply, all, now, '');
      reply.header('www-authenticate', 'Bearer');
      return refuse(reply, 401, 'UNAUTHORIZED', key === undefined ? 'an API key is required: Authorization: Bearer <key> or x-api-key: <key> (ingot keys create)' : 'the API key is not valid (unknown or revoked)');
    }
    if (!allows(found.scope, needed)) return refuse(reply, 403, 'FORBIDDEN', `this route needs a key with scope ${needed}; the key has scope ${found.scope}`);
    request.apiKey = found;
  });
}
