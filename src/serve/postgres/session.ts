import type { Cell, ColumnInfo, PositionalParam, RowStream } from '../../engine/reader.js';
import { IngotError } from '../../errors.js';
import type { ServedLake } from '../served-lake.js';
import { readsCatalog, rewriteCatalog, type LakeTableFacts } from './catalog.js';
import { classify, initialSettings, splitStatements, type CommandAnswer, type CopyOut, type DeclareCursor, type FetchCursor, type SessionSettings, type Statement } from './commands.js';
import type { Connection } from './connection.js';
import { lookupStream } from './lookups.js';
import { BodyReader, FieldKind, MessageWriter, ProtocolViolation, writeError, type FrontendMessage } from './messages.js';
import { errorFields } from './sqlstate.js';
import { binaryOf, decodeParam, OID, pgTypeOf, resultType, textOf, type PgType } from './types.js';

/** What a session needs of the server: the lake and its limits. */
export interface SessionOptions {
  lake: ServedLake;
  /** Upper bound of every statement's time, ms (0: none); a client's `SET statement_timeout` may lower it. */
  statementTimeoutMs: number;
  /**
   * A session idle this long (ms) while it holds open portals or cursors (each holds one of the
   * lake reader's pooled connections) is ended (FATAL 25P03), so idle clients cannot starve the
   * pool; 0: never. A client's `idle_in_transaction_session_timeout` may lower it.
   */
  idleInTransactionMs: number;
  /** Structured log lines (lookup index builds); default none. */
  log?: (level: 'info' | 'warn' | 'error', message: string, fields?: Record<string, unknown>) => void;
}

/** A prepared statement (Parse): its text, what it is, and for a query the parameter and result types. */
interface Prepared {
  sql: string;
  statement: Statement;
  /** Parameter OIDs the client gave (0: unspecified). */
  paramOids: number[];
  /** The engine's parameter types (queries only). */
  paramTypes: string[];
  /** The result columns as far as known before binding (queries only). */
  columns: ColumnInfo[];
}

/** A portal (Bind): a prepared statement with its parameters and result formats, and once running, its rows. */
interface Portal {
  prepared: Prepared;
  params: PositionalParam[];
  /** Result format codes as Bind gave them (none: all text; one: for all). */
  formats: number[];
  stream?: RowStream;
  /** Rows fetched from the stream but not sent yet. */
  buffer: Cell[][];
  done: boolean;
  /** A cursor (DECLARE ... WITH HOLD) that outlives the transaction. */
  hold?: boolean;
}

/** Transaction status of ReadyForQuery: idle, in a block, in a failed block. */
type TxStatus = 'I' | 'T' | 'E';

/** The client went away while the session was sending: the statement stops, nothing more is sent. */
class ClientGone extends Error {}

/** An error to send as ErrorResponse. */
class SessionError extends Error {
  constructor(readonly code: string, message: string) {
    super(message);
  }
}

/** The catalog facts of each served lake's tables, by table, with the version they were read at. */
const FACTS = new WeakMap<ServedLake, Map<string, { version: number; facts: LakeTableFacts }>>();

/**
 * What the catalog needs of every lake table's Delta snapshot (see `LakeTableFacts`), each table
 * attached at its latest version first; a snapshot is read again only when its version changed.
 * A table that cannot be read now is left out.
 */
async function lakeFacts(lake: ServedLake): Promise<LakeTableFacts[]> {
  let cache = FACTS.get(lake);
  if (!cache) FACTS.set(lake, (cache = new Map()));
  const out: LakeTableFacts[] = [];
  for (const name of await lake.tables()) {
    try {
      const version = await lake.latest(name);
      let entry = cache.get(name);
      if (!entry || entry.version !== version) {
        const snapshot = await lake.snapshot(name, version);
        const [schema, table] = [name.slice(0, name.indexOf('.')), name.slice(name.indexOf('.') + 1)];
        const comment = (m: Record<string, unknown>): string | null => (typeof m['comment'] === 'string' ? m['comment'] : null);
        entry = {
          version,
          facts: {
            schema, table, description: snapshot.metadata.description ?? null, rows: snapshot.numRecords ?? null,
            bytes: [...snapshot.files.values()].reduce((n, f) => n + f.size, 0),
            columns: snapshot.schema.fields.map((f) => ({ name: f.name, nullable: f.nullable !== false, comment: comment(f.metadata ?? {}) })),
          },
        };
        cache.set(name, entry);
      }
      out.push(entry.facts);
    } catch {
      // a table that cannot be attached now is left out of the catalog
    }
  }
  return out;
}

/** Tables each statement text reads, by served lake (a text's tables never change): the most recently used texts. */
const REFERENCES = new WeakMap<ServedLake, Map<string, string[]>>();
const REFERENCES_MAX = 1024;

/** `lake.references(sql)`, remembered for the text (a repeated point query is parsed once here). Errors: as `references`. */
async function references(lake: ServedLake, sql: string): Promise<string[]> {
  let cache = REFERENCES.get(lake);
  if (!cache) REFERENCES.set(lake, (cache = new Map()));
  const hit = cache.get(sql);
  if (hit) {
    cache.delete(sql);
    cache.set(sql, hit);
    return hit;
  }
  const names = await lake.references(sql);
  if (cache.size >= REFERENCES_MAX) cache.delete(cache.keys().next().value!);
  cache.set(sql, names);
  return names;
}

/** Rows sent per socket write while streaming. */
const BATCH_BYTES = 256 * 1024;


/** Milliseconds of a `statement_timeout` value (`5000`, `5s`, `2min`...); 0 for none or unreadable. */
function timeoutMs(value: string | undefined): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|min|h)?\s*$/i.exec(value ?? '');
  if (!m) return 0;
  const unit = { ms: 1, s: 1000, min: 60_000, h: 3_600_000 }[(m[2] ?? 'ms').toLowerCase() as 'ms'] ?? 1;
  return Math.round(Number(m[1]) * unit);
}

/**
 * One authenticated client session of the PostgreSQL protocol ("Message Flow" → "Simple
 * Query", "Extended Query", "COPY Operations", "Canceling Requests in Progress"): reads
 * messages in order and answers them until Terminate or the client leaves. Queries go to the
 * served lake's read-only reader (one SELECT per statement; each reads the latest committed
 * version of every table), their rows streamed chunk by chunk. Session commands are answered
 * by `commands.ts`. After an error in the extended protocol, messages are skipped until Sync;
 * in a transaction block the block is failed (25P02) until COMMIT or ROLLBACK.
 */
export class Session {
  private readonly w = new MessageWriter();
  private readonly statements = new Map<string, Prepared>();
  private readonly portals = new Map<string, Portal>();
  private readonly settings: SessionSettings;
  private readonly initial: SessionSettings;
  private tx: TxStatus = 'I';
  private skipping = false;
  private active: RowStream | undefined;
  /** The text of the statement being handled, for error messages. */
  private current: string | undefined;
  /** Aborts the statement being started (`open`). */
  private starting: AbortController | undefined;

  constructor(
    private readonly conn: Connection,
    private readonly options: SessionOptions,
    startup: { user: string; database: string; applicationName: string; processId: number; settings?: [string, string][] },
  ) {
    this.initial = initialSettings(startup.user, startup.database, startup.applicationName);
    this.initial.set('backend_pid', String(startup.processId));
    for (const [k, v] of startup.settings ?? []) this.initial.set(k, v);
    this.settings = new Map(this.initial);
  }

  /** Interrupts the statement running now, if any (a CancelRequest). */
  cancel(): void {
    this.starting?.abort();
    this.active?.cancel();
  }

  /** Answers messages until Terminate or the end of the connection; closes every open stream. */
  async run(): Promise<void> {
    try {
      for (;;) {
        const m = await this.nextMessage();
        if (m === 'idle') {
          writeError(this.w, { severity: 'FATAL', code: '25P03', message: 'terminating connection due to idle-in-transaction timeout (open cursors hold the lake reader\'s connections)' });
          await this.flush();
          break;
        }
        if (!m || m.type === 'X') break;
        await this.handle(m);
      }
    } catch (err) {
      if (err instanceof ClientGone) {
        // nothing to answer: the streams are closed below
      } else if (err instanceof ProtocolViolation) {
        writeError(this.w, { severity: 'FATAL', code: '08P01', message: err.message });
        await this.flush();
      } else if (!this.conn.closed) {
        writeError(this.w, { severity: 'FATAL', code: 'XX000', message: `internal error: ${(err as Error).message}` });
        await this.flush();
      }
    } finally {
      for (const p of this.portals.values()) p.stream?.close();
      this.portals.clear();
      this.conn.close();
    }
  }

  /** The next message, or `idle` when the session held open streams past the idle limit. */
  private async nextMessage(): Promise<FrontendMessage | null | 'idle'> {
    const server = this.options.idleInTransactionMs;
    const session = timeoutMs(this.settings.get('idle_in_transaction_session_timeout'));
    const limit = session > 0 && (server === 0 || session < server) ? session : server;
    const holding = [...this.portals.values()].some((p) => p.stream && !p.done);
    if (!limit || !holding) return this.conn.read();
    let timer: NodeJS.Timeout | undefined;
    const idle = new Promise<'idle'>((resolve) => (timer = setTimeout(() => resolve('idle'), limit)));
    try {
      return await Promise.race([this.conn.read(), idle]);
    } finally {
      clearTimeout(timer);
    }
  }

  private async flush(): Promise<void> {
    if (this.conn.closed) throw new ClientGone('the client closed the connection');
    if (this.w.size) await this.conn.write(this.w.take());
  }

  private ready(): void {
    this.w.begin('Z').byte(this.tx).end();
  }

  private async handle(m: FrontendMessage): Promise<void> {
    if (this.skipping && m.type !== 'S') return;
    const r = new BodyReader(m.body);
    try {
      switch (m.type) {
        case 'Q': return await this.simpleQuery(r.cstring());
        case 'P': return await this.parse(r);
        case 'B': return this.bind(r);
        case 'D': return await this.timed(() => this.describe(r));
        case 'E': return await this.timed(() => this.execute(r));
        case 'C': return this.close(r);
        case 'S':
          this.skipping = false;
          this.endImplicitTransaction();
          this.ready();
          return await this.flush();
        case 'H': return await this.flush();
        case 'd': case 'c': case 'f': return; // COPY data from the client: no COPY FROM is ever started
        case 'F': throw new SessionError('0A000', 'the function call protocol is not supported');
        default: throw new ProtocolViolation(`unexpected message type ${JSON.stringify(m.type)}`);
      }
    } catch (err) {
      if (err instanceof ProtocolViolation || err instanceof ClientGone || this.conn.closed) throw err instanceof ProtocolViolation ? err : new ClientGone('the client closed the connection');
      this.fail(err);
      if (m.type === 'Q') {
        this.ready();
      } else {
        this.skipping = true;
      }
      await this.flush();
    }
  }

  /** Sends an ErrorResponse for `err`, failing the transaction block if one is open. */
  private fail(err: unknown): void {
    const fields = err instanceof SessionError ? { severity: 'ERROR', code: err.code, message: err.message } : errorFields(err, this.current);
    writeError(this.w, fields);
    if (this.tx === 'T') this.tx = 'E';
  }

  /** Outside a transaction block, portals live until Sync (PostgreSQL's implicit transaction). */
  private endImplicitTransaction(): void {
    if (this.tx !== 'I') return;
    for (const [name, p] of this.portals) {
      if (p.hold) continue;
      p.stream?.close();
      this.portals.delete(name);
    }
  }

  private guardFailedBlock(statement: Statement): void {
    if (this.tx === 'E' && !(statement.kind === 'command' && statement.transaction === 'end')) {
      throw new SessionError('25P02', 'current transaction is aborted, commands ignored until end of transaction block');
    }
  }

  /** Applies what a session command changes (transaction state, settings, prepared statements). */
  private apply(c: CommandAnswer): string {
    let tag = c.tag;
    if (c.transaction === 'begin') {
      if (this.tx === 'I') this.tx = 'T';
    } else if (c.transaction === 'end') {
      if (this.tx === 'E' && tag === 'COMMIT') tag = 'ROLLBACK';
      this.tx = 'I';
      for (const [name, p] of this.portals) {
        if (p.hold && tag === 'COMMIT') continue;
        p.stream?.close();
        this.portals.delete(name);
      }
    }
    for (const [name, value] of c.set ?? []) {
      if (name === 'backend_pid') continue;
      const v = value ?? this.initial.get(name);
      if (v === undefined) this.settings.delete(name);
      else this.settings.set(name, v);
      // parameters clients track (ParameterStatus): report changes, as the server does
      const reported = { application_name: 'application_name', timezone: 'TimeZone', datestyle: 'DateStyle', client_encoding: 'client_encoding', intervalstyle: 'IntervalStyle' }[name];
      if (reported && v !== undefined) this.w.begin('S').cstring(reported).cstring(v).end();
    }
    if (c.discard) {
      this.statements.clear();
      if (c.discard === 'all') {
        for (const p of this.portals.values()) p.stream?.close();
        this.portals.clear();
        this.settings.clear();
        for (const [k, v] of this.initial) this.settings.set(k, v);
      }
    }
    if (c.deallocate !== undefined) {
      if (!this.statements.delete(c.deallocate)) throw new SessionError('26000', `prepared statement ${JSON.stringify(c.deallocate)} does not exist`);
    }
    return tag;
  }

  /**
   * Runs one execution step (a simple-query statement, a Describe or an Execute) under the
   * statement timeout: past it, the statement starting or streaming is interrupted and the step
   * fails with SQL_TIMEOUT (57014). As in PostgreSQL, a cursor's time between fetches does not
   * count; each FETCH or Execute has the whole limit.
   */
  private async timed<T>(step: () => Promise<T>): Promise<T> {
    const ms = this.timeout();
    if (!ms) return step();
    let fired = false;
    const timer = setTimeout(() => {
      fired = true;
      this.starting?.abort();
      this.active?.cancel();
    }, ms);
    try {
      return await step();
    } catch (err) {
      if (fired) throw new IngotError('SQL_TIMEOUT', `the statement ran longer than ${ms} ms and was interrupted`, {}, { cause: err });
      throw err;
    } finally {
      clearTimeout(timer);
    }
  }

  /** The statement time limit now, ms (0: none): the server's, lowered by the session's `statement_timeout`. */
  private timeout(): number {
    const server = this.options.statementTimeoutMs;
    const session = timeoutMs(this.settings.get('statement_timeout'));
    return session > 0 && (server === 0 || session < server) ? session : server;
  }

  /**
   * Makes every table `sql` reads queryable at its latest version (a catalog query sees all of
   * the lake's tables), and returns `sql` with time-travel reads (`layer."table@N"`, see
   * `ServedLake.travel`) retargeted. Errors: SQL_NOT_READ_ONLY, SQL_ERROR, TABLE_NOT_FOUND,
   * VERSION_NOT_FOUND.
   */
  private async prepareTables(sql: string): Promise<string> {
    const lake = this.options.lake;
    sql = await lake.changes(sql); // table_changes('layer.table', from, to): a change data feed
    const names = await references(lake, sql);
    const catalog = readsCatalog(sql) || /\bduckdb_\w+\s*\(/i.test(sql);
    for (const name of names) {
      if (/^(pg_catalog|information_schema|main|temp|system|__ingot)\./i.test(name) || name.includes('@')) continue;
      await lake.latest(name);
    }
    if (catalog) {
      for (const name of await lake.tables()) {
        try {
          await lake.latest(name);
        } catch {
          // a table that cannot be attached now is left out of the catalog
        }
      }
    }
    return names.some((n) => n.includes('@')) ? lake.travel(sql, names) : sql;
  }

  /** What the catalog rewrite needs of the session: its database and settings. */
  private catalogSession(): { database: string; settings: ReadonlyMap<string, string> } {
    return { database: this.settings.get('database') ?? 'ingot', settings: this.settings };
  }

  /** `text` with its catalog reads rewritten (`catalog.ts`), the lake's facts read first; other text as it is. */
  private async catalogSql(text: string): Promise<string> {
    if (!readsCatalog(text)) return text;
    return rewriteCatalog(text, { ...this.catalogSession(), tables: await lakeFacts(this.options.lake) });
  }

  /**
   * Starts `sql` with `params`, tables attached first; a parameterized lookup of one table is
   * answered from its in-memory index once built (`lookupStream`).
   */
  private async open(text: string, params: PositionalParam[]): Promise<RowStream> {
    if (params.length > 0) {
      const lake = this.options.lake;
      const indexed = await lookupStream(lake, text, params, { tablesOf: (sql) => references(lake, sql), ...(this.options.log ? { log: this.options.log } : {}) });
      if (indexed) return indexed;
    }
    const sql = await this.prepareTables(await this.catalogSql(text));
    const starting = new AbortController();
    this.starting = starting;
    try {
      return await this.options.lake.stream(sql, params, { signal: starting.signal });
    } finally {
      if (this.starting === starting) this.starting = undefined;
    }
  }

  private rowDescription(columns: ColumnInfo[], formats: number[]): PgType[] {
    const types = columns.map((c, i) => resultType(pgTypeOf(c.type), formatOf(formats, i)));
    this.w.begin('T').int16(columns.length);
    columns.forEach((c, i) => {
      const t = types[i]!;
      this.w.cstring(c.name).int32(0).int16(0).int32(t.oid).int16(t.typlen).int32(t.typmod).int16(formatOf(formats, i));
    });
    this.w.end();
    return types;
  }

  /**
   * Appends the DataRows of `rows[start..end)` (all by default), columns of PostgreSQL `types`
   * in `formats`: integers, doubles and text in the text format written straight into the
   * output, other cells by `textOf` / `binaryOf` (see `MessageWriter.dataRows`). A value that
   * cannot be encoded fails the statement; its half-built DataRow is dropped.
   */
  private dataRows(rows: readonly Cell[][], types: PgType[], formats: number[], start = 0, end = rows.length): void {
    const fields = new Uint8Array(types.length);
    for (let i = 0; i < types.length; i++) {
      const oid = types[i]!.oid;
      fields[i] = formatOf(formats, i) === 1 ? FieldKind.other
        : oid === OID.int8 || oid === OID.int4 || oid === OID.int2 ? FieldKind.integer
        : oid === OID.float8 ? FieldKind.double
        : oid === OID.float4 ? FieldKind.other
        : FieldKind.text;
    }
    this.w.dataRows(rows, start, end, fields, (c, i) => (formatOf(formats, i) === 1 ? binaryOf(c, types[i]!.oid) : textOf(c, types[i]!.oid)!));
  }

  /** Sends the rows of `stream` (all, or at most `limit` when > 0); returns how many and whether the stream ended. */
  private async sendRows(portal: Pick<Portal, 'buffer' | 'done'> & { stream: RowStream }, types: PgType[], formats: number[], limit: number): Promise<{ sent: number; ended: boolean }> {
    let sent = 0;
    this.active = portal.stream;
    try {
      for (;;) {
        if (limit > 0 && sent >= limit) return { sent, ended: false };
        if (portal.buffer.length === 0) {
          if (portal.done) return { sent, ended: true };
          const rows = await portal.stream.next();
          if (rows === null) {
            portal.done = true;
            return { sent, ended: true };
          }
          portal.buffer = rows;
        }
        const take = limit > 0 ? Math.min(limit - sent, portal.buffer.length) : portal.buffer.length;
        // a chunk is encoded in slices of about BATCH_BYTES, each written before the next
        for (let i = 0; i < take;) {
          const to = Math.min(take, i + 128);
          this.dataRows(portal.buffer, types, formats, i, to);
          i = to;
          if (this.w.size >= BATCH_BYTES) await this.flush();
        }
        portal.buffer = take === portal.buffer.length ? [] : portal.buffer.slice(take);
        sent += take;
        if (this.w.size >= BATCH_BYTES) await this.flush();
      }
    } finally {
      this.active = undefined;
    }
  }

  // ---- simple query ("Message Flow" → "Simple Query")

  private async simpleQuery(text: string): Promise<void> {
    const parts = splitStatements(text);
    if (parts.length === 0) {
      this.w.begin('I').end();
      this.ready();
      return this.flush();
    }
    for (const sql of parts) {
      this.current = sql;
      const statement = classify(sql, this.settings);
      this.guardFailedBlock(statement);
      await this.timed(() => this.runSimple(statement));
    }
    this.ready();
    await this.flush();
  }

  private async runSimple(statement: Statement): Promise<void> {
    switch (statement.kind) {
      case 'empty':
        this.w.begin('I').end();
        return;
      case 'command': {
        const tag = this.apply(statement);
        if (statement.result) {
          const types = this.rowDescription(statement.result.columns, []);
          this.dataRows(statement.result.rows, types, []);
        }
        this.complete(tag);
        return;
      }
      case 'copy':
        return this.copyOut(statement);
      case 'declare':
        return this.declare(statement, []);
      case 'fetch': {
        const cursor = this.cursor(statement.name);
        const formats = cursor.formats;
        const types = statement.move ? [] : this.rowDescription(cursor.stream!.columns, formats);
        return this.fetch(statement, cursor, types, formats);
      }
      case 'closeCursor':
        return this.closeCursor(statement.name);
      case 'query': {
        const stream = await this.open(statement.sql, []);
        try {
          const types = this.rowDescription(stream.columns, []);
          const { sent } = await this.sendRows({ stream, buffer: [], done: false }, types, [], 0);
          this.complete(`SELECT ${sent}`);
        } finally {
          stream.close();
        }
      }
    }
  }

  /** DECLARE: a named portal over the SELECT, its stream started. */
  private async declare(d: DeclareCursor, params: PositionalParam[]): Promise<void> {
    if (this.portals.has(d.name)) throw new SessionError('42P03', `cursor ${JSON.stringify(d.name)} already exists`);
    const stream = await this.open(d.sql, params);
    const prepared: Prepared = { sql: d.sql, statement: { kind: 'query', sql: d.sql }, paramOids: [], paramTypes: [], columns: stream.columns };
    this.portals.set(d.name, { prepared, params, formats: d.binary ? [1] : [], stream, buffer: [], done: false, hold: d.hold });
    this.complete('DECLARE CURSOR');
  }

  /** The open cursor `name`. Errors: 34000. */
  private cursor(name: string): Portal & { stream: RowStream } {
    const c = this.portals.get(name);
    if (!c?.stream) throw new SessionError('34000', `cursor ${JSON.stringify(name)} does not exist`);
    return c as Portal & { stream: RowStream };
  }

  /** FETCH / MOVE: the next rows of a cursor, sent (FETCH) or skipped (MOVE). */
  private async fetch(f: FetchCursor, cursor: Portal & { stream: RowStream }, types: PgType[], formats: number[]): Promise<void> {
    const limit = f.count === 'all' ? 0 : f.count;
    if (f.move) {
      this.active = cursor.stream;
      let moved = 0;
      while (limit === 0 || moved < limit) {
        if (cursor.buffer.length === 0) {
          if (cursor.done) break;
          const rows = await cursor.stream.next();
          if (rows === null) {
            cursor.done = true;
            break;
          }
          cursor.buffer = rows;
        }
        const take = limit === 0 ? cursor.buffer.length : Math.min(limit - moved, cursor.buffer.length);
        cursor.buffer = cursor.buffer.slice(take);
        moved += take;
      }
      this.active = undefined;
      return this.complete(`MOVE ${moved}`);
    }
    if (f.count === 0) return this.complete('FETCH 0');
    const { sent } = await this.sendRows(cursor, types, formats, limit);
    this.complete(`FETCH ${sent}`);
  }

  /** CLOSE name | ALL. Errors: 34000 for an unknown cursor. */
  private closeCursor(name: string | undefined): void {
    if (name === undefined) {
      for (const p of this.portals.values()) p.stream?.close();
      this.portals.clear();
    } else {
      const c = this.portals.get(name);
      if (!c) throw new SessionError('34000', `cursor ${JSON.stringify(name)} does not exist`);
      c.stream?.close();
      this.portals.delete(name);
    }
    this.complete('CLOSE CURSOR');
  }

  private complete(tag: string): void {
    this.w.begin('C').cstring(tag).end();
  }

  /** `COPY (SELECT ...) TO STDOUT` ("COPY Operations"): CopyOutResponse, one CopyData per row (text or CSV), CopyDone. */
  private async copyOut(copy: CopyOut): Promise<void> {
    const stream = await this.open(copy.sql, []);
    let n = 0;
    try {
      const types = stream.columns.map((c) => pgTypeOf(c.type));
      const field = (c: Cell, i: number): string => {
        const t = textOf(c, types[i]!.oid);
        if (copy.csv) return t === null ? '' : /[",\n\r]/.test(t) || t.includes(copy.delimiter) || t === '' ? `"${t.replace(/"/g, '""')}"` : t;
        return t === null ? '\\N' : t.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/\r/g, '\\r').replace(/\t/g, '\\t');
      };
      this.w.begin('H').byte('\0').int16(stream.columns.length);
      for (let i = 0; i < stream.columns.length; i++) this.w.int16(0);
      this.w.end();
      if (copy.header && copy.csv) this.w.begin('d').bytes(Buffer.from(stream.columns.map((c) => c.name).join(copy.delimiter) + '\n')).end();
      this.active = stream;
      try {
        for (let rows = await stream.next(); rows; rows = await stream.next()) {
          for (const row of rows) {
            this.w.begin('d').bytes(Buffer.from(row.map(field).join(copy.delimiter) + '\n')).end();
            n++;
          }
          if (this.w.size >= BATCH_BYTES) await this.flush();
        }
      } finally {
        this.active = undefined;
      }
      this.w.begin('c').end();
      this.complete(`COPY ${n}`);
    } finally {
      stream.close();
    }
  }

  // ---- extended query ("Message Flow" → "Extended Query")

  private async parse(r: BodyReader): Promise<void> {
    const name = r.cstring();
    const sql = r.cstring();
    const n = r.int16();
    const paramOids = Array.from({ length: n }, () => r.int32());
    if (name !== '' && this.statements.has(name)) throw new SessionError('42P05', `prepared statement ${JSON.stringify(name)} already exists`);
    const parts = splitStatements(sql);
    if (parts.length > 1) throw new SessionError('42601', 'cannot insert multiple commands into a prepared statement');
    this.current = parts[0];
    const statement = classify(parts[0] ?? '', this.settings);
    this.guardFailedBlock(statement);
    const prepared: Prepared = { sql, statement, paramOids, paramTypes: [], columns: statement.kind === 'command' ? statement.result?.columns ?? [] : [] };
    if (statement.kind === 'query' || statement.kind === 'copy' || statement.kind === 'declare') {
      const sql = await this.prepareTables(await this.catalogSql(statement.sql));
      const shape = await this.options.lake.describe(sql);
      prepared.paramTypes = shape.parameters;
      prepared.columns = statement.kind === 'declare' ? [] : shape.columns;
    }
    if (statement.kind === 'fetch' && !statement.move) prepared.columns = this.portals.get(statement.name)?.stream?.columns ?? [];
    this.statements.set(name, prepared);
    this.w.begin('1').end();
  }

  private bind(r: BodyReader): void {
    const portalName = r.cstring();
    const name = r.cstring();
    const prepared = this.statements.get(name);
    if (!prepared) throw new SessionError('26000', `prepared statement ${JSON.stringify(name)} does not exist`);
    const paramFormats = Array.from({ length: r.int16() }, () => r.int16());
    const count = r.int16();
    const expected = Math.max(prepared.paramTypes.length, prepared.paramOids.length);
    if (count !== expected) throw new SessionError('08P01', `bind message supplies ${count} parameters, but prepared statement ${JSON.stringify(name)} requires ${expected}`);
    const params: PositionalParam[] = [];
    for (let i = 0; i < count; i++) {
      const len = r.int32();
      const raw = len < 0 ? null : Buffer.from(r.bytes(len));
      params.push(decodeParam(raw, formatOf(paramFormats, i), prepared.paramOids[i] ?? 0, prepared.paramTypes[i] ?? 'UNKNOWN'));
    }
    const formats = Array.from({ length: r.int16() }, () => r.int16());
    const old = this.portals.get(portalName);
    if (old) {
      if (portalName !== '') throw new SessionError('42P03', `portal ${JSON.stringify(portalName)} already exists`);
      old.stream?.close();
    }
    this.portals.set(portalName, { prepared, params, formats, buffer: [], done: false });
    this.w.begin('2').end();
  }

  private async describe(r: BodyReader): Promise<void> {
    const kind = r.byte();
    const name = r.cstring();
    if (kind === 'S') {
      const prepared = this.statements.get(name);
      if (!prepared) throw new SessionError('26000', `prepared statement ${JSON.stringify(name)} does not exist`);
      const oids = prepared.paramTypes.map((t, i) => prepared.paramOids[i] || (t === 'UNKNOWN' ? 25 : pgTypeOf(t).oid));
      this.w.begin('t').int16(oids.length);
      for (const o of oids) this.w.int32(o);
      this.w.end();
      if (prepared.columns.length && prepared.statement.kind !== 'copy') this.rowDescription(prepared.columns, []);
      else this.w.begin('n').end();
      return;
    }
    const portal = this.portals.get(name);
    if (!portal) throw new SessionError('34000', `portal ${JSON.stringify(name)} does not exist`);
    const statement = portal.prepared.statement;
    if (statement.kind === 'query') {
      // the real types are known once the statement runs with its parameters
      portal.stream ??= await this.open(statement.sql, portal.params);
      this.rowDescription(portal.stream.columns, portal.formats);
    } else if (statement.kind === 'command' && statement.result) {
      this.rowDescription(statement.result.columns, portal.formats);
    } else if (statement.kind === 'fetch' && !statement.move) {
      const cursor = this.cursor(statement.name);
      this.rowDescription(cursor.stream.columns, portal.formats.length ? portal.formats : cursor.formats);
    } else if (portal.stream && statement.kind !== 'copy') {
      // a cursor declared by SQL (DECLARE) described as a protocol portal
      this.rowDescription(portal.stream.columns, portal.formats);
    } else {
      this.w.begin('n').end();
    }
  }

  private async execute(r: BodyReader): Promise<void> {
    const name = r.cstring();
    const limit = r.int32();
    const portal = this.portals.get(name);
    if (!portal) throw new SessionError('34000', `portal ${JSON.stringify(name)} does not exist`);
    this.current = portal.prepared.sql;
    const statement = portal.prepared.statement;
    switch (statement.kind) {
      case 'empty':
        this.w.begin('I').end();
        return;
      case 'command': {
        if (portal.done) return this.complete(statement.tag);
        const tag = this.apply(statement);
        if (statement.result) {
          const types = statement.result.columns.map((c, i) => resultType(pgTypeOf(c.type), formatOf(portal.formats, i)));
          this.dataRows(statement.result.rows, types, portal.formats);
        }
        portal.done = true;
        return this.complete(tag);
      }
      case 'copy':
        return this.copyOut(statement);
      case 'declare':
        return this.declare(statement, portal.params);
      case 'fetch': {
        const cursor = this.cursor(statement.name);
        const formats = portal.formats.length ? portal.formats : cursor.formats;
        const types = cursor.stream.columns.map((c, i) => resultType(pgTypeOf(c.type), formatOf(formats, i)));
        return this.fetch(statement, cursor, types, formats);
      }
      case 'closeCursor':
        return this.closeCursor(statement.name);
      case 'query': {
        portal.stream ??= await this.open(statement.sql, portal.params);
        const types = portal.stream.columns.map((c, i) => resultType(pgTypeOf(c.type), formatOf(portal.formats, i)));
        const { sent, ended } = await this.sendRows(portal as Portal & { stream: RowStream }, types, portal.formats, limit);
        if (ended) {
          portal.stream.close();
          this.complete(`SELECT ${sent}`);
        } else {
          this.w.begin('s').end();
        }
      }
    }
  }

  private close(r: BodyReader): void {
    const kind = r.byte();
    const name = r.cstring();
    if (kind === 'S') {
      this.statements.delete(name);
    } else {
      this.portals.get(name)?.stream?.close();
      this.portals.delete(name);
    }
    this.w.begin('3').end();
  }
}

/** The format code of column or parameter `i` given a Bind list of codes (none: text; one: for all). */
function formatOf(formats: number[], i: number): number {
  return formats.length === 0 ? 0 : formats.length === 1 ? formats[0]! : formats[i] ?? 0;
}
