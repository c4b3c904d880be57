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
  /** Failed attempts (missing or wrong key) allowed per client IP per window before 429 (default 20). */
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

/**
 * Failed authentication attempts per client address, shared by the HTTP API and the PostgreSQL
 * protocol server: after `maxFailures` in a window of `windowMs`, an address is refused until
 * the window ends, so keys cannot be guessed by brute force on either.
 */
export class AuthFailures {
  readonly maxFailures: number;
  readonly windowMs: number;
  private readonly failures = new Map<string, { count: number; resetAt: number }>();
  private readonly sweep: NodeJS.Timeout;

  constructor(limits: AuthLimits = {}) {
    this.maxFailures = limits.maxFailures ?? 20;
    this.windowMs = limits.windowMs ?? 60_000;
    this.sweep = setInterval(() => {
      const now = Date.now();
      for (const [ip, f] of this.failures) if (f.resetAt <= now) this.failures.delete(ip);
    }, this.windowMs);
    this.sweep.unref();
  }

  /** Ms until `ip` may try again when it is blocked now, else undefined. */
  blockedFor(ip: string, now = Date.now()): number | undefined {
    const f = this.failures.get(ip);
    return f && f.resetAt > now && f.count >= this.maxFailures ? f.resetAt - now : undefined;
  }

  /** Counts one failed attempt of `ip`. */
  fail(ip: string, now = Date.now()): void {
    const f = this.failures.get(ip);
    const entry = f && f.resetAt > now ? f : { count: 0, resetAt: now + this.windowMs };
    entry.count++;
    this.failures.set(ip, entry);
  }

  /** Stops the periodic sweep. */
  close(): void {
    clearInterval(this.sweep);
  }
}

/**
 * Adds authentication to every route: a route's `config.auth` scope (default `read`) must be
 * covered by the presented key's scope (401 `UNAUTHORIZED` without a valid key, 403 `FORBIDDEN`
 * for a key of a lower scope). Failed attempts are counted per client IP (in `failures`, which
 * the PostgreSQL protocol server may share): after `maxFailures` in a window every request from
 * that IP gets 429 `RATE_LIMITED` (with `Retry-After`) until the window ends, so keys cannot be
 * guessed by brute force.
 */
export function addAuth(app: FastifyInstance, verifier: KeyVerifier, limits: AuthLimits | AuthFailures = {}): void {
  const failures = limits instanceof AuthFailures ? limits : new AuthFailures(limits);
  if (!(limits instanceof AuthFailures)) app.addHook('onClose', async () => failures.close());

  const refuse = (reply: FastifyReply, status: number, error: string, message: string): FastifyReply =>
    reply.code(status).header('cache-control', 'no-store').send({ error, message });

  app.addHook('onRequest', async (request, reply) => {
    const needed = request.routeOptions.config.auth ?? (request.routeOptions.url === undefined ? 'public' : 'read');
    if (needed === 'public') return;
    const now = Date.now();
    const ip = request.ip;
    const blocked = failures.blockedFor(ip, now);
    if (blocked !== undefined) {
      reply.header('retry-after', String(Math.ceil(blocked / 1000)));
      return refuse(reply, 429, 'RATE_LIMITED', 'too many failed authentication attempts from this address; try again later');
    }
    const key = presentedKey(request);
    const found = key === undefined ? undefined : await verifier.verify(key, now);
    if (!found) {
      failures.fail(ip, now);
      reply.header('www-authenticate', 'Bearer');
      return refuse(reply, 401, 'UNAUTHORIZED', key === undefined ? 'an API key is required: Authorization: Bearer <key> or x-api-key: <key> (ingot keys create)' : 'the API key is not valid (unknown or revoked)');
    }
    if (!allows(found.scope, needed)) return refuse(reply, 403, 'FORBIDDEN', `this route needs a key with scope ${needed}; the key has scope ${found.scope}`);
    request.apiKey = found;
  });
}
