import { randomUUID } from 'node:crypto';
import * as os from 'node:os';
import * as grpc from '@grpc/grpc-js';
import { Table, tableFromIPC, type Schema } from 'apache-arrow';
import type protobuf from 'protobufjs';
import { IngotError } from '../../errors.js';
import type { Row } from '../engine.js';
import { rowsOf } from './arrow.js';
import { parseConnection, redactToken, type SparkConnection } from './connection.js';
import { messageType } from './proto/spark-connect.js';

/** The result of a statement: its Arrow table (schema and batches), decoded rows on demand. */
export interface SparkResult {
  schema: Schema;
  table: Table;
  rows(): Row[];
}

const SERVICE = '/spark.connect.SparkConnectService';
const CLIENT_TYPE = 'ingot';
/** gRPC codes after which a reattachable execution is resumed with ReattachExecute. */
const RETRYABLE = new Set([grpc.status.UNAVAILABLE, grpc.status.INTERNAL, grpc.status.UNKNOWN]);
/** Reattaches in a row without a response before giving up. */
const MAX_IDLE_REATTACHES = 5;

type Message = Record<string, unknown>;

interface ResponseMessage {
  operation_id?: string;
  response_id?: string;
  arrow_batch?: { row_count: unknown; data: Uint8Array };
  sql_command_result?: { relation?: { sql?: { query: string }; local_relation?: { data?: Uint8Array } } };
  result_complete?: Message;
}

/**
 * A Spark Connect client (protocol: Apache Spark's connect module, service `SparkConnectService`)
 * over @grpc/grpc-js: one session (a UUID) per client, `ExecutePlan` of SQL commands and
 * relations with results as Arrow IPC batches, reattachable execution (a stream that breaks or
 * ends without `ResultComplete` is resumed with `ReattachExecute` after the last response seen;
 * the finished operation is released with `ReleaseExecute`), `Interrupt` of running operations,
 * session confs (`Config`). Failed calls become IngotError: SQL_ERROR with Spark's message and
 * `context.errorClass` / `sqlState` (from the status details' ErrorInfo, the full message from
 * `FetchErrorDetails`), QUERY_CANCELLED for an interrupted operation, ENGINE_UNAVAILABLE when
 * the server cannot be reached.
 */
export class SparkConnectClient {
  readonly sessionId: string;
  private readonly userContext: Message;
  private readonly grpc: grpc.Client;
  private readonly metadata: grpc.Metadata;
  /** Operation ids of executions in flight. */
  private readonly running = new Set<string>();
  /** Operations interrupted by `interrupt`: their failure is QUERY_CANCELLED. */
  private readonly interrupted = new Set<string>();
  private closed = false;
  /** ReattachExecute calls made so far (streams resumed). */
  reattaches = 0;

  private constructor(readonly connection: SparkConnection, private readonly url: string) {
    this.sessionId = connection.sessionId ?? randomUUID();
    this.userContext = { user_id: connection.userId ?? safeUser(), user_name: connection.userId ?? safeUser() };
    const creds = connection.useSsl ? grpc.credentials.createSsl() : grpc.credentials.createInsecure();
    this.grpc = new grpc.Client(`${connection.host.includes(':') ? `[${connection.host}]` : connection.host}:${connection.port}`, creds, {
      'grpc.max_receive_message_length': 256 * 1024 * 1024,
      'grpc.keepalive_time_ms': 30_000,
    });
    this.metadata = new grpc.Metadata();
    if (connection.token) this.metadata.set('authorization', `Bearer ${connection.token}`);
    for (const [k, v] of Object.entries(connection.headers)) this.metadata.set(k.toLowerCase(), v);
  }

  /** A client of the server at `url` (`sc://host:port/;...`, see `parseConnection`); connects lazily. Error: CONNECTION_INVALID. */
  static connect(url: string): SparkConnectClient {
    return new SparkConnectClient(parseConnection(url), redactToken(url));
  }

  /**
   * Runs one SQL statement as a `SqlCommand`: commands (DDL, INSERT, MERGE, SET...) run eagerly
   * and return their output; a query comes back as a relation, which is then executed.
   */
  async sql(statement: string): Promise<SparkResult> {
    const out = await this.execute({ command: { sql_command: { sql: statement } } });
    const relation = out.commandResult?.relation;
    if (relation?.local_relation) return resultOf(relation.local_relation.data ? [relation.local_relation.data] : []);
    if (relation?.sql) return this.query(relation.sql.query);
    return resultOf(out.batches);
  }

  /** Runs a query (a SQL relation) and returns its rows as Arrow. */
  async query(sql: string): Promise<SparkResult> {
    return resultOf((await this.execute({ root: { sql: { query: sql } } })).batches);
  }

  /** Sets session confs (e.g. `spark.databricks.delta.write.txnAppId`); `null` unsets a conf. */
  async setConf(pairs: Record<string, string | null>): Promise<void> {
    const set = Object.entries(pairs).filter(([, v]) => v !== null).map(([key, value]) => ({ key, value }));
    const unset = Object.entries(pairs).filter(([, v]) => v === null).map(([k]) => k);
    if (set.length) await this.unary('Config', 'ConfigRequest', 'ConfigResponse', { operation: { set: { pairs: set } } });
    if (unset.length) await this.unary('Config', 'ConfigRequest', 'ConfigResponse', { operation: { unset: { keys: unset } } });
  }

  /** Session conf values (undefined when unset). */
  async getConf(keys: string[]): Promise<Record<string, string | undefined>> {
    const res = await this.unary('Config', 'ConfigRequest', 'ConfigResponse', { operation: { get: { keys } } }) as { pairs?: { key: string; value?: string }[] };
    return Object.fromEntries((res.pairs ?? []).map((p) => [p.key, p.value]));
  }

  /** Interrupts the operations this client is running (they fail with QUERY_CANCELLED); returns the ids the server interrupted. */
  async interrupt(): Promise<string[]> {
    const ids: string[] = [];
    for (const id of [...this.running]) {
      this.interrupted.add(id);
      const res = await this.unary('Interrupt', 'InterruptRequest', 'InterruptResponse', { interrupt_type: 3, operation_id: id }) as { interrupted_ids?: string[] };
      ids.push(...(res.interrupted_ids ?? []));
    }
    return ids;
  }

  /** Releases the session on the server (its temp views and confs go) and closes the channel. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.unary('ReleaseSession', 'ReleaseSessionRequest', 'ReleaseSessionResponse', {}).catch(() => undefined);
    this.grpc.close();
  }

  /**
   * Executes `plan` reattachably and collects its responses: Arrow batches in order, and the SQL
   * command result if any. A broken stream is resumed from the last response received.
   */
  private async execute(plan: Message): Promise<{ batches: Uint8Array[]; commandResult?: NonNullable<ResponseMessage['sql_command_result']> }> {
    if (this.closed) throw new IngotError('ENGINE_UNAVAILABLE', `Spark Connect client of ${this.url} is closed`);
    const operationId = randomUUID();
    const batches: Uint8Array[] = [];
    let commandResult: NonNullable<ResponseMessage['sql_command_result']> | undefined;
    let lastResponseId: string | undefined;
    let complete = false;
    /** Reattaches in a row that received nothing new. */
    let idle = 0;
    this.running.add(operationId);
    try {
      let stream = this.stream('ExecutePlan', 'ExecutePlanRequest', {
        operation_id: operationId, plan, request_options: [{ reattach_options: { reattachable: true } }],
      });
      for (;;) {
        try {
          for await (const r of stream) {
            const res = r as ResponseMessage;
            idle = 0;
            if (res.response_id) lastResponseId = res.response_id;
            if (res.arrow_batch) batches.push(res.arrow_batch.data);
            else if (res.sql_command_result) commandResult = res.sql_command_result;
            else if (res.result_complete) complete = true;
          }
        } catch (err) {
          const code = (err as grpc.ServiceError).code;
          if (this.interrupted.has(operationId) || !RETRYABLE.has(code) || sparkErrorInfo(err as grpc.ServiceError) || idle >= MAX_IDLE_REATTACHES) {
            throw await this.errorOf(err as grpc.ServiceError, operationId);
          }
        }
        if (complete) break;
        // the stream ended without ResultComplete (the server closes long streams) or broke: resume
        if (++idle > MAX_IDLE_REATTACHES) throw new IngotError('ENGINE_UNAVAILABLE', `Spark Connect ${this.url}: operation ${operationId} made no progress over ${MAX_IDLE_REATTACHES} reattaches`);
        this.reattaches++;
        if (idle > 1) await new Promise((r) => setTimeout(r, 200 * idle));
        stream = this.stream('ReattachExecute', 'ReattachExecuteRequest', { operation_id: operationId, ...(lastResponseId ? { last_response_id: lastResponseId } : {}) });
      }
      await this.unary('ReleaseExecute', 'ReleaseExecuteRequest', 'ReleaseExecuteResponse', { operation_id: operationId, release_all: {} }).catch(() => undefined);
      return { batches, ...(commandResult ? { commandResult } : {}) };
    } finally {
      this.running.delete(operationId);
      this.interrupted.delete(operationId);
    }
  }

  /** A server-streaming call of `ExecutePlan` or `ReattachExecute`, decoded as ExecutePlanResponse objects. */
  private stream(method: string, requestType: string, body: Message): AsyncIterable<unknown> {
    const req = messageType(requestType);
    const res = messageType('ExecutePlanResponse');
    return this.grpc.makeServerStreamRequest(
      `${SERVICE}/${method}`,
      (m: Message) => Buffer.from(req.encode(req.fromObject(m)).finish()),
      (b: Buffer) => toObject(res, res.decode(b)),
      this.envelope(body),
      this.metadata,
    );
  }

  private unary(method: string, requestType: string, responseType: string, body: Message): Promise<unknown> {
    const req = messageType(requestType);
    const res = messageType(responseType);
    return new Promise((resolve, reject) => {
      this.grpc.makeUnaryRequest(
        `${SERVICE}/${method}`,
        (m: Message) => Buffer.from(req.encode(req.fromObject(m)).finish()),
        (b: Buffer) => toObject(res, res.decode(b)),
        this.envelope(body),
        this.metadata,
        (err, value) => {
          if (err) this.errorOf(err).then(reject, reject);
          else resolve(value);
        },
      );
    });
  }

  private envelope(body: Message): Message {
    return { session_id: this.sessionId, user_context: this.userContext, client_type: CLIENT_TYPE, ...body };
  }

  /** The IngotError for a failed call (see the class comment). */
  private async errorOf(err: grpc.ServiceError, operationId?: string): Promise<IngotError> {
    if (operationId && this.interrupted.has(operationId)) {
      return new IngotError('QUERY_CANCELLED', `Spark Connect ${this.url}: operation ${operationId} was interrupted`, {}, { cause: err });
    }
    const info = sparkErrorInfo(err);
    if (!info) {
      if (err.code === grpc.status.UNAVAILABLE || err.code === grpc.status.DEADLINE_EXCEEDED) {
        return new IngotError('ENGINE_UNAVAILABLE', `Spark Connect server ${this.url} is unavailable: ${err.details}`, {}, { cause: err });
      }
      return new IngotError('SQL_ERROR', `Spark Connect ${this.url}: ${err.details || err.message}`, {}, { cause: err });
    }
    let message = err.details;
    const errorClass = info['errorClass'];
    let sqlState = info['sqlState'];
    if (info['errorId']) {
      // the status message may be truncated; the full one is kept on the server under errorId
      const details = await new Promise<unknown>((resolve) => {
        const req = messageType('FetchErrorDetailsRequest');
        const res = messageType('FetchErrorDetailsResponse');
        this.grpc.makeUnaryRequest(`${SERVICE}/FetchErrorDetails`, (m: Message) => Buffer.from(req.encode(req.fromObject(m)).finish()),
          (b: Buffer) => toObject(res, res.decode(b)), this.envelope({ error_id: info['errorId'] }), this.metadata, (e, v) => resolve(e ? undefined : v));
      }) as { root_error_idx?: number; errors?: { message: string; spark_throwable?: { sql_state?: string } }[] } | undefined;
      const root = details?.errors?.[details.root_error_idx ?? 0];
      if (root?.message) message = root.message;
      sqlState ??= root?.spark_throwable?.sql_state;
    }
    if (/OPERATION_CANCELED|cancelled|interrupted/i.test(errorClass ?? '') && operationId) {
      return new IngotError('QUERY_CANCELLED', `Spark Connect ${this.url}: ${message}`, { ...(errorClass ? { errorClass } : {}) }, { cause: err });
    }
    return new IngotError('SQL_ERROR', message, { ...(errorClass ? { errorClass } : {}), ...(sqlState ? { sqlState } : {}) }, { cause: err });
  }
}

/** The ErrorInfo metadata (`errorClass`, `sqlState`, `errorId`, `classes`) of a Spark error status; undefined for other failures. */
function sparkErrorInfo(err: grpc.ServiceError): Record<string, string> | undefined {
  const bin = err.metadata?.get('grpc-status-details-bin')[0];
  if (!(bin instanceof Buffer)) return undefined;
  const status = toObject(messageType('RpcStatus'), messageType('RpcStatus').decode(bin)) as { details?: { type_url: string; value: Uint8Array }[] };
  const detail = status.details?.find((d) => d.type_url.endsWith('google.rpc.ErrorInfo'));
  if (!detail) return undefined;
  const info = toObject(messageType('ErrorInfo'), messageType('ErrorInfo').decode(detail.value)) as { reason: string; metadata?: Record<string, string> };
  return { reason: info.reason, ...(info.metadata ?? {}) };
}

function toObject(type: protobuf.Type, m: protobuf.Message): Message {
  return type.toObject(m, { longs: String, bytes: Uint8Array as unknown as typeof String, defaults: false, oneofs: false }) as Message;
}

/** Arrow IPC streams (one per batch, each with its schema) as one table; an empty result still has a schema. */
function resultOf(batches: Uint8Array[]): SparkResult {
  const tables = batches.map((b) => tableFromIPC(b));
  const table = tables.length === 0 ? new Table() : tables.length === 1 ? tables[0]! : new Table(tables.flatMap((t) => t.batches));
  return { schema: table.schema, table, rows: () => rowsOf(table) };
}

function safeUser(): string {
  try {
    return os.userInfo().username || 'ingot';
  } catch {
    return 'ingot';
  }
}
