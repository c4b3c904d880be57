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
 * Adds authentication to every route: a route's `config.auth` scope (default `read`) must be
 * covered by the presented key's scope (401 `UNAUTHORIZED` without a valid key, 403 `FORBIDDEN`
 * for a key of a lower scope). Failed attempts are counted per client IP: after `maxFailures` in
 * a window every request from that IP gets 429 `RATE_LIMITED` (with `Retry-After`) until the
 * window ends, so keys cannot be guessed by brute force.
 */
export function addAuth(app: FastifyInstance, verifier: KeyVerifier, limits: AuthLimits = {}): void {
  const maxFailures = limits.maxFailures ?? 20;
  const windowMs = limits.windowMs ?? 60_000;
  const failures = new Map<string, { count: number; resetAt: number }>();
  const sweep = setInterval(() => {
    const now = Date.now();
    for (const [ip, f] of failures) if (f.resetAt <= now) failures.delete(ip);
  }, windowMs);
  sweep.unref();
  app.addHook('onClose', async () => clearInterval(sweep));

  const refuse = (reply: FastifyReply, status: number, error: string, message: string): FastifyReply =>
    reply.code(status).header('cache-control', 'no-store').send({ error, message });

  app.addHook('onRequest', async (request, reply) => {
    const needed = request.routeOptions.config.auth ?? (request.routeOptions.url === undefined ? 'public' : 'read');
    if (needed === 'public') return;
    const now = Date.now();
    const ip = request.ip;
    const f = failures.get(ip);
    if (f && f.resetAt > now && f.count >= maxFailures) {
      reply.header('retry-after', String(Math.ceil((f.resetAt - now) / 1000)));
      return refuse(reply, 429, 'RATE_LIMITED', 'too many failed authentication attempts from this address; try again later');
    }
    const key = presentedKey(request);
    const found = key === undefined ? undefined : await verifier.verify(key, now);
    if (!found) {
      const entry = f && f.resetAt > now ? f : { count: 0, resetAt: now + windowMs };
      entry.count++;
      failures.set(ip, entry);
      reply.header('www-authenticate', 'Bearer');
      return refuse(reply, 401, 'UNAUTHORIZED', key === undefined ? 'an API key is required: Authorization: Bearer <key> or x-api-key: <key> (ingot keys create)' : 'the API key is not valid (unknown or revoked)');
    }
    if (!allows(found.scope, needed)) return refuse(reply, 403, 'FORBIDDEN', `this route needs a key with scope ${needed}; the key has scope ${found.scope}`);
    request.apiKey = found;
  });
}
