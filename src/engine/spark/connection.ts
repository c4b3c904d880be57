import { IngotError } from '../../errors.js';

/** A parsed Spark Connect connection string. */
export interface SparkConnection {
  host: string;
  /** Default 15002, Spark Connect's port. */
  port: number;
  /** Bearer token sent as `Authorization: Bearer <token>`; implies TLS. */
  token?: string;
  /** `user_id` of the session's UserContext (default: the OS user, else `ingot`). */
  userId?: string;
  /** TLS on (`use_ssl=true`, or a token). */
  useSsl: boolean;
  /** Session id to use (`session_id`, a UUID); default: a new one per client. */
  sessionId?: string;
  /** Other `key=value` parameters, sent as gRPC metadata (e.g. `x-databricks-cluster-id`). */
  headers: Record<string, string>;
}

const DEFAULT_PORT = 15002;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * Parses `sc://host[:port][/;param=value;...]`, the Spark Connect connection string: parameters
 * `token`, `user_id`, `use_ssl` (`true` | `false`), `session_id` (a UUID), any other becomes a
 * gRPC header. Values are percent-decoded. Error: CONNECTION_INVALID naming the bad part.
 */
export function parseConnection(url: string): SparkConnection {
  const bad = (part: string, why: string): IngotError =>
    new IngotError('CONNECTION_INVALID', `Spark Connect connection string ${redactToken(url)}: ${part} ${why} (expected sc://host:port/;token=...;user_id=...;use_ssl=true)`);
  const m = /^([a-z][a-z0-9+.-]*):\/\/([^/;]*)(?:\/(.*))?$/i.exec(url.trim());
  if (!m) throw bad('the string', 'is not of the form sc://host:port');
  const [, scheme, authority, rest = ''] = m;
  if (scheme!.toLowerCase() !== 'sc') throw bad(`scheme ${scheme}://`, 'is not sc://');
  const hp = /^(\[[0-9a-f:.]+\]|[^:[\]]+)(?::(.*))?$/i.exec(authority!);
  if (!hp) throw bad('the host', 'is missing');
  const host = hp[1]!.replace(/^\[|\]$/g, '');
  let port = DEFAULT_PORT;
  if (hp[2] !== undefined) {
    if (!/^\d{1,5}$/.test(hp[2]) || Number(hp[2]) < 1 || Number(hp[2]) > 65535) throw bad(`port ${JSON.stringify(hp[2])}`, 'is not a number from 1 to 65535');
    port = Number(hp[2]);
  }
  const conn: SparkConnection = { host, port, useSsl: false, headers: {} };
  let ssl: boolean | undefined;
  const params = rest.replace(/^;/, '');
  for (const pair of params === '' ? [] : params.split(';')) {
    if (pair === '') continue;
    const eq = pair.indexOf('=');
    if (eq <= 0) throw bad(`parameter ${JSON.stringify(pair.replace(/^token.*/i, 'token'))}`, 'is not key=value');
    const key = pair.slice(0, eq);
    let value: string;
    try {
      value = decodeURIComponent(pair.slice(eq + 1));
    } catch {
      throw bad(`parameter ${key}`, 'has a malformed percent-encoding');
    }
    switch (key) {
      case 'token': conn.token = value; break;
      case 'user_id': conn.userId = value; break;
      case 'session_id':
        if (!UUID.test(value)) throw bad(`session_id ${JSON.stringify(value)}`, 'is not a UUID');
        conn.sessionId = value.toLowerCase();
        break;
      case 'use_ssl':
        if (value !== 'true' && value !== 'false') throw bad(`use_ssl=${value}`, 'is not true or false');
        ssl = value === 'true';
        break;
      default:
        conn.headers[key] = value;
    }
  }
  if (conn.token !== undefined && ssl === false) throw bad('token with use_ssl=false', 'would send the token in clear text');
  conn.useSsl = ssl ?? conn.token !== undefined;
  return conn;
}

/** `url` with its token value replaced by `***`, for messages and logs. */
export function redactToken(url: string): string {
  return url.replace(/(;token=)[^;]*/gi, '$1***');
}
