import type { IngotError } from './errors.js';

/**
 * A configured secret or URL: `value` itself, or for `env:NAME` the value of environment variable
 * NAME. `fail(message)` builds the error thrown when that variable is unset or empty; `what`
 * (e.g. 'the connection URL') says in that message what the variable holds.
 */
export function resolveEnv(value: string, fail: (message: string) => IngotError, what?: string): string {
  if (!value.startsWith('env:')) return value;
  const name = value.slice(4);
  const resolved = process.env[name];
  if (!resolved) throw fail(`environment variable ${name}${what ? ` (${what})` : ''} is not set`);
  return resolved;
}
