import { randomInt } from 'node:crypto';
import { readFileSync } from 'node:fs';
import * as net from 'node:net';
import * as tls from 'node:tls';
import * as path from 'node:path';
import { IngotError, messageOf } from '../../errors.js';
import type { MetadataStore } from '../../metadata/store.js';
import { Lake } from '../../table/lake.js';
import { KeyVerifier } from '../api-keys.js';
import { AuthFailures } from '../auth.js';
import type { ServeProject } from '../context.js';
import { ServedLake } from '../served-lake.js';
import { authenticate, type KeyAuthority } from './authenticate.js';
import { REPORTED, initialSettings } from './commands.js';
import { Connection } from './connection.js';
import { BodyReader, CANCEL_REQUEST, GSSENC_REQUEST, MessageWriter, PROTOCOL_3, ProtocolViolation, SSL_REQUEST, writeError } from './messages.js';
import { Session } from './session.js';

/** Options of `PgServer`. */
export interface PgServerOptions {
  /** The lake the server reads (shared with the HTTP server when both run). */
  lake: ServedLake;
  /** API keys and the failed-attempt counter (shared with HTTP). */
  keys: KeyAuthority;
  /** PEM certificate chain and private key: with them, SSLRequest is accepted (TLS) and cleartext passwords are asked over it; without, SSLRequest is refused (`N`). */
  tls?: { cert: string | Buffer; key: string | Buffer };
  /** Upper bound of every statement's time, seconds (default 300; 0: none). */
  statementTimeoutSeconds?: number;
  /** Connections at once (default 100); one more is refused with FATAL 53300. */
  maxConnections?: number;
  /** A session idle this long (seconds) while holding open cursors or portals is ended (default 60; 0: never). */
  idleInTransactionSeconds?: number;
  /** Structured log lines (`listening`, connection failures); default none. */
  log?: (level: 'info' | 'warn' | 'error', message: string, fields?: Record<string, unknown>) => void;
}

/** A session's cancel key (BackendKeyData) and the session. */
interface Backend {
  secret: number;
  session: Session;
}

/**
 * The PostgreSQL frontend/backend protocol server of `ingot serve` (protocol version 3.0;
 * PostgreSQL documentation, "Frontend/Backend Protocol"): psql, pgjdbc, psycopg and any client
 * of the protocol read the lake's tables as `layer.table`, read-only. Per connection: the
 * start-up packet (SSLRequest → TLS when a certificate is configured, else `N`; GSSENCRequest
 * → `N`; CancelRequest → the matching session's statement is interrupted), authentication with
 * an API key (see `authenticate.ts`), ParameterStatus, BackendKeyData, then a `Session`.
 */
export class PgServer {
  private readonly server: net.Server;
  private readonly backends = new Map<number, Backend>();
  private readonly connections = new Set<Connection>();
  private readonly secure?: tls.SecureContext;

  constructor(private readonly options: PgServerOptions) {
    if (options.tls) this.secure = tls.createSecureContext({ cert: options.tls.cert, key: options.tls.key });
    this.server = net.createServer((socket) => {
      socket.setNoDelay(true);
      const conn = new Connection(socket);
      if (this.connections.size >= (this.options.maxConnections ?? 100)) {
        const w = new MessageWriter();
        writeError(w, { severity: 'FATAL', code: '53300', message: 'sorry, too many clients already' });
        void conn.write(w.take()).finally(() => conn.close());
        return;
      }
      this.connections.add(conn);
      this.serve(conn)
        .catch((err: unknown) => this.options.log?.('warn', 'postgres connection failed', { error: messageOf(err) }))
        .finally(() => {
          this.connections.delete(conn);
          conn.close();
        });
    });
  }

  /**
   * Reads TLS files of `serve.postgres.tls` (paths to PEM files). Errors: CONFIG_INVALID naming
   * the file that cannot be read.
   */
  static readTls(paths: { cert: string; key: string }): { cert: Buffer; key: Buffer } {
    const read = (file: string, what: string): Buffer => {
      try {
        return readFileSync(file);
      } catch (err) {
        throw new IngotError('CONFIG_INVALID', `serve.postgres.tls.${what}: cannot read ${file}: ${messageOf(err)}`, { file });
      }
    };
    return { cert: read(paths.cert, 'cert'), key: read(paths.key, 'key') };
  }

  /** Listens on `port` (0: a free one) of `host`; resolves with the address bound. */
  listen(port: number, host = '127.0.0.1'): Promise<{ host: string; port: number }> {
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(port, host, () => {
        this.server.off('error', reject);
        const a = this.server.address() as net.AddressInfo;
        resolve({ host: a.address, port: a.port });
      });
    });
  }

  /** Stops accepting connections, ends the open ones and resolves when all are gone. */
  async close(): Promise<void> {
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    for (const b of this.backends.values()) b.session.cancel();
    for (const c of this.connections) c.destroy();
    await closed;
  }

  private async serve(conn: Connection): Promise<void> {
    const w = new MessageWriter();
    let sslAsked = false;
    for (;;) {
      const packet = await conn.readStartup();
      if (!packet) return;
      if (packet.code === SSL_REQUEST) {
        if (sslAsked || conn.encrypted) throw new ProtocolViolation('SSLRequest sent twice');
        sslAsked = true;
        if (this.secure) {
          await conn.write(Buffer.from('S'));
          await conn.startTls(this.secure);
        } else {
          await conn.write(Buffer.from('N'));
        }
        continue;
      }
      if (packet.code === GSSENC_REQUEST) {
        await conn.write(Buffer.from('N'));
        continue;
      }
      if (packet.code === CANCEL_REQUEST) {
        const r = new BodyReader(packet.body);
        const pid = r.int32();
        const secret = r.int32();
        const b = this.backends.get(pid);
        if (b && b.secret === secret) b.session.cancel();
        return;
      }
      if (packet.code >> 16 !== 3) {
        writeError(w, { severity: 'FATAL', code: '0A000', message: `unsupported frontend protocol ${packet.code >> 16}.${packet.code & 0xffff}: server supports 3.0` });
        await conn.write(w.take());
        return;
      }
      if (packet.code !== PROTOCOL_3) {
        // a minor version above 0: NegotiateProtocolVersion, then carry on with 3.0
        w.begin('v').int32(PROTOCOL_3).int32(0).end();
      }
      const params = startupParams(packet.body);
      const user = params.get('user') ?? '';
      if (!user) {
        writeError(w, { severity: 'FATAL', code: '28000', message: 'no PostgreSQL user name specified in startup packet' });
        await conn.write(w.take());
        return;
      }
      await conn.write(w.take());
      const key = await authenticate(conn, user, this.options.keys);
      if (!key) return;
      const database = params.get('database') ?? user;
      const settings = initialSettings(user, database, params.get('application_name') ?? '');
      const startupSettings = sessionParams(params);
      let processId = randomInt(1, 0x7fffffff);
      while (this.backends.has(processId)) processId = randomInt(1, 0x7fffffff);
      const secret = randomInt(0, 0x7fffffff);
      for (const name of REPORTED) w.begin('S').cstring(name).cstring(settings.get(name.toLowerCase()) ?? '').end();
      w.begin('K').int32(processId).int32(secret).end();
      w.begin('Z').byte('I').end();
      await conn.write(w.take());
      const timeout = this.options.statementTimeoutSeconds ?? 300;
      const idle = this.options.idleInTransactionSeconds ?? 60;
      const session = new Session(conn, { lake: this.options.lake, statementTimeoutMs: Math.round(timeout * 1000), idleInTransactionMs: Math.round(idle * 1000), ...(this.options.log ? { log: this.options.log } : {}) }, {
        user, database, applicationName: params.get('application_name') ?? '', processId, settings: startupSettings,
      });
      this.backends.set(processId, { secret, session });
      try {
        await session.run();
      } finally {
        this.backends.delete(processId);
      }
      return;
    }
  }
}

/**
 * Run-time parameters a StartupMessage sets ("Message Formats" → StartupMessage): every pair but
 * `user`, `database`, `replication` and `options`, and the `-c name=value` (or `--name=value`)
 * switches of `options` (libpq's `options='-c statement_timeout=5000'`). Names lower-case.
 */
function sessionParams(params: Map<string, string>): [string, string][] {
  const out: [string, string][] = [];
  for (const [k, v] of params) if (!['user', 'database', 'replication', 'options', 'application_name'].includes(k)) out.push([k.toLowerCase(), v]);
  const options = params.get('options') ?? '';
  for (const m of options.matchAll(/(?:-c\s*|--)([A-Za-z_][\w.]*)=((?:\\\s|\S)*)/g)) out.push([m[1]!.toLowerCase(), m[2]!.replace(/\\(.)/g, '$1')]);
  return out;
}

/** The name/value pairs of a StartupMessage body. */
function startupParams(body: Buffer): Map<string, string> {
  const r = new BodyReader(body);
  const params = new Map<string, string>();
  for (;;) {
    const name = r.cstring();
    if (name === '') break;
    params.set(name, r.cstring());
  }
  return params;
}

/** Options of `startPgServer`. */
export interface StartPgOptions {
  /** The lake reader to share (the HTTP server's); without it one is opened, and closed with the server. */
  lake?: ServedLake;
  /** The key verifier to share (the HTTP server's). */
  verifier?: KeyVerifier;
  /** The failed-attempt counter to share (the HTTP server's). */
  failures?: AuthFailures;
  /** Port (overrides `serve.postgres.port`; 0: a free one). */
  port?: number;
  /** Interface (overrides `serve.postgres.host`, then `serve.host`; default 127.0.0.1). */
  host?: string;
  log?: PgServerOptions['log'];
}

/**
 * Starts the PostgreSQL protocol server of a project (`serve.postgres` in ingot.config.ts, TLS
 * files relative to the project folder) and returns it listening, with its address and a
 * `close` that also closes what it opened. Errors: CONFIG_INVALID (TLS files), the listen error
 * (EADDRINUSE...).
 */
export async function startPgServer(project: ServeProject, store: MetadataStore, options: StartPgOptions = {}): Promise<{ server: PgServer; address: { host: string; port: number }; close(): Promise<void> }> {
  const settings = project.config.serve?.postgres ?? {};
  const engine = typeof project.config.engine === 'object' ? project.config.engine : {};
  const lake = options.lake ?? await ServedLake.open(new Lake(project.lake), { threads: engine.threads, memoryLimit: engine.memoryLimit });
  const failures = options.failures ?? new AuthFailures();
  try {
    const server = new PgServer({
      lake,
      keys: { store, verifier: options.verifier ?? new KeyVerifier(store), failures },
      ...(settings.tls ? { tls: PgServer.readTls({ cert: path.resolve(project.dir, settings.tls.cert), key: path.resolve(project.dir, settings.tls.key) }) } : {}),
      ...(settings.statementTimeoutSeconds !== undefined ? { statementTimeoutSeconds: settings.statementTimeoutSeconds } : {}),
      ...(settings.idleInTransactionSeconds !== undefined ? { idleInTransactionSeconds: settings.idleInTransactionSeconds } : {}),
      ...(settings.maxConnections !== undefined ? { maxConnections: settings.maxConnections } : {}),
      ...(options.log ? { log: options.log } : {}),
    });
    const address = await server.listen(options.port ?? settings.port ?? 5433, options.host ?? settings.host ?? project.config.serve?.host ?? '127.0.0.1');
    return {
      server, address,
      close: async () => {
        await server.close();
        if (!options.failures) failures.close();
        if (!options.lake) await lake.close();
      },
    };
  } catch (err) {
    if (!options.failures) failures.close();
    if (!options.lake) await lake.close();
    throw err;
  }
}
