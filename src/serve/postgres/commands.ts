import type { Cell, ColumnInfo } from '../../engine/reader.js';
import { VERSION } from '../../version.js';

/**
 * What the PostgreSQL protocol server does with one SQL statement before the lake sees it: the
 * session commands clients send on connect and around their queries (`SET`, `RESET`, `SHOW`,
 * `BEGIN`/`COMMIT`/`ROLLBACK`, `DISCARD`, `DEALLOCATE`, `SELECT version()`,
 * `current_schema()`, `set_config(...)`...) are answered here, harmlessly: nothing they say
 * changes what a query may do, and the lake is read-only whatever the transaction state.
 * `COPY (SELECT ...) TO STDOUT` becomes the SELECT streamed as COPY data. Everything else is a
 * query for the read-only reader, which refuses what is not one SELECT.
 */

/** The server_version the server reports: PostgreSQL 16's protocol and catalog behaviour, as clients see it. */
export const SERVER_VERSION = '16.0';

/** Run-time parameters as `SHOW` prints them and `ParameterStatus` reports them (names lower-case). */
export type SessionSettings = Map<string, string>;

/** The settings a session starts with: the ParameterStatus set of "Message Flow" → "Start-up", and a few clients read with SHOW. */
export function initialSettings(user: string, database: string, applicationName: string): SessionSettings {
  return new Map(Object.entries({
    server_version: SERVER_VERSION,
    server_version_num: '160000',
    server_encoding: 'UTF8',
    client_encoding: 'UTF8',
    datestyle: 'ISO, MDY',
    intervalstyle: 'postgres',
    integer_datetimes: 'on',
    standard_conforming_strings: 'on',
    timezone: 'UTC',
    is_superuser: 'off',
    session_authorization: user,
    application_name: applicationName,
    default_transaction_read_only: 'on',
    transaction_read_only: 'on',
    transaction_isolation: 'read committed',
    default_transaction_isolation: 'read committed',
    search_path: '"$user", public',
    statement_timeout: '0',
    extra_float_digits: '1',
    max_identifier_length: '63',
    max_index_keys: '32',
    lc_collate: 'C',
    lc_ctype: 'C',
    database: database,
  }));
}

/** Names of the parameters ParameterStatus reports at start-up, as PostgreSQL spells them. */
export const REPORTED = ['server_version', 'server_encoding', 'client_encoding', 'DateStyle', 'IntervalStyle', 'integer_datetimes', 'standard_conforming_strings', 'TimeZone', 'is_superuser', 'session_authorization', 'application_name', 'default_transaction_read_only'];

/** A statement answered by the server itself: its command tag, and rows for those that return some. */
export interface CommandAnswer {
  kind: 'command';
  tag: string;
  result?: { columns: ColumnInfo[]; rows: Cell[][] };
  /** The transaction state it moves to: `begin` a block, `end` it (COMMIT, ROLLBACK). */
  transaction?: 'begin' | 'end';
  /** Settings it changes (name lower-case → value; undefined resets to the initial value). */
  set?: [string, string | undefined][];
  /** DISCARD ALL / DEALLOCATE ALL: drop prepared statements (and, for DISCARD, settings). */
  discard?: 'all' | 'statements';
  /** DEALLOCATE name: drop one prepared statement. */
  deallocate?: string;
}

/** `COPY (SELECT ...) TO STDOUT`: the SELECT, streamed as COPY data in text or CSV format. */
export interface CopyOut {
  kind: 'copy';
  sql: string;
  csv: boolean;
  header: boolean;
  delimiter: string;
}

/** `DECLARE name [BINARY] ... CURSOR [WITH HOLD] FOR <SELECT>`: a named portal over the SELECT (server-side cursors). */
export interface DeclareCursor {
  kind: 'declare';
  name: string;
  sql: string;
  binary: boolean;
  hold: boolean;
}

/** `FETCH` / `MOVE [FORWARD] [n | ALL | NEXT] [FROM | IN] name`: the next `count` rows of a cursor (`all`: the rest). */
export interface FetchCursor {
  kind: 'fetch';
  name: string;
  count: number | 'all';
  move: boolean;
}

/** What one statement is (see the module comment). */
export type Statement =
  | { kind: 'empty' }
  | CommandAnswer
  | CopyOut
  | DeclareCursor
  | FetchCursor
  | { kind: 'closeCursor'; name: string | undefined }
  | { kind: 'query'; sql: string };

/** A cursor name as written (`"Big"` keeps its case, `big` is folded to lower case). */
function identifier(name: string): string {
  return /^".*"$/s.test(name) ? name.slice(1, -1).replace(/""/g, '"') : name.toLowerCase();
}

/** `sql` without comments (`-- ...`, `/* ... *\/`), for recognising commands; string literals are kept. */
function withoutComments(sql: string): string {
  return sql.replace(/'(?:[^']|'')*'|"(?:[^"]|"")*"|--[^\n]*|\/\*[\s\S]*?\*\//g, (m) => (m.startsWith('--') || m.startsWith('/*') ? ' ' : m));
}

/**
 * Splits a simple Query's text into statements at top-level semicolons (outside quotes,
 * dollar quotes and comments). Empty statements are dropped.
 */
export function splitStatements(sql: string): string[] {
  const out: string[] = [];
  let start = 0;
  const re = /'(?:[^']|'')*'?|"(?:[^"]|"")*"?|--[^\n]*|\/\*[\s\S]*?(?:\*\/|$)|\$([A-Za-z_]*)\$[\s\S]*?(?:\$\1\$|$)|;/g;
  let m: RegExpExecArray | null;
  while ((m = re.exec(sql))) {
    if (m[0] === ';') {
      out.push(sql.slice(start, m.index));
      start = m.index + 1;
    }
  }
  out.push(sql.slice(start));
  return out.filter((s) => withoutComments(s).trim() !== '');
}

const unquote = (v: string): string => {
  const t = v.trim();
  if (/^'.*'$/s.test(t)) return t.slice(1, -1).replace(/''/g, "'");
  if (/^".*"$/s.test(t)) return t.slice(1, -1).replace(/""/g, '"');
  return t;
};

const text = (name: string): ColumnInfo => ({ name, type: 'VARCHAR' });
const one = (name: string, value: Cell): CommandAnswer['result'] => ({ columns: [typeof value === 'number' ? { name, type: 'INTEGER' } : typeof value === 'boolean' ? { name, type: 'BOOLEAN' } : text(name)], rows: [[value]] });

/**
 * Classifies one statement (see the module comment); `settings` answers SHOW and
 * `current_setting`. Never throws: what it does not recognise is a query.
 */
export function classify(sql: string, settings: SessionSettings): Statement {
  const bare = withoutComments(sql).trim().replace(/;+\s*$/, '').trim();
  if (bare === '') return { kind: 'empty' };
  const lower = bare.toLowerCase().replace(/\s+/g, ' ');
  let m: RegExpExecArray | null;

  if (/^(begin|start transaction)\b/.test(lower)) return { kind: 'command', tag: 'BEGIN', transaction: 'begin' };
  if (/^(commit|end)( work| transaction)?( and no chain)?$/.test(lower)) return { kind: 'command', tag: 'COMMIT', transaction: 'end' };
  if (/^(rollback|abort)( work| transaction)?( and no chain)?$/.test(lower)) return { kind: 'command', tag: 'ROLLBACK', transaction: 'end' };
  if (/^(savepoint|release( savepoint)?|rollback to( savepoint)?) /.test(lower)) {
    return { kind: 'command', tag: lower.startsWith('savepoint') ? 'SAVEPOINT' : lower.startsWith('release') ? 'RELEASE' : 'ROLLBACK' };
  }
  if (/^discard (all|plans|sequences|temp|temporary)$/.test(lower)) return { kind: 'command', tag: `DISCARD ${lower.slice(8).toUpperCase()}`, ...(lower === 'discard all' ? { discard: 'all' as const } : {}) };
  if ((m = /^deallocate( prepare)? (.+)$/.exec(bare.replace(/\s+/g, ' ')))) {
    const name = unquote(m[2]!);
    return name.toLowerCase() === 'all' ? { kind: 'command', tag: 'DEALLOCATE ALL', discard: 'statements' } : { kind: 'command', tag: 'DEALLOCATE', deallocate: name };
  }
  if (/^set (?:session |local )?(?:characteristics as )?transaction\b/.test(lower)) return { kind: 'command', tag: 'SET' };
  if ((m = /^set (?:session |local )?time zone (.+)$/is.exec(bare))) return { kind: 'command', tag: 'SET', set: [['timezone', unquote(m[1]!)]] };
  if ((m = /^set (?:session |local )?([A-Za-z_][\w.]*)\s*(?:=|\bto\b)\s*(.+)$/is.exec(bare))) {
    const value = m[2]!.trim().toLowerCase() === 'default' ? undefined : m[2]!.split(/,(?=(?:[^']*'[^']*')*[^']*$)/).map(unquote).join(', ');
    return { kind: 'command', tag: 'SET', set: [[m[1]!.toLowerCase(), value]] };
  }
  if ((m = /^reset (all|[A-Za-z_][\w.]*)$/i.exec(lower))) {
    return { kind: 'command', tag: 'RESET', set: m[1] === 'all' ? [...settings.keys()].map((k) => [k, undefined] as [string, undefined]) : [[m[1]!, undefined]] };
  }
  if ((m = /^show ([A-Za-z_][\w.]*|all)$/i.exec(lower))) {
    const name = m[1]!;
    if (name === 'all') return { kind: 'command', tag: 'SHOW', result: { columns: [text('name'), text('setting'), text('description')], rows: [...settings].map(([k, v]) => [k, v, '']) } };
    const key = name === 'time zone' ? 'timezone' : name;
    return { kind: 'command', tag: 'SHOW', result: one(key, settings.get(key) ?? '') };
  }
  if (/^show transaction isolation level$/.test(lower)) return { kind: 'command', tag: 'SHOW', result: one('transaction_isolation', 'read committed') };

  // single-function SELECTs whose PostgreSQL answer the lake's engine does not give
  if ((m = /^select (pg_catalog\.)?version\(\)(?: as (\w+))?$/.exec(lower))) return { kind: 'command', tag: 'SELECT 1', result: one(m[2] ?? 'version', `PostgreSQL ${SERVER_VERSION} (ingot ${VERSION}, read-only lake server)`) };
  if ((m = /^select (pg_catalog\.)?current_schema(\(\))?(?: as (\w+))?$/.exec(lower))) return { kind: 'command', tag: 'SELECT 1', result: one(m[3] ?? 'current_schema', 'public') };
  if ((m = /^select (pg_catalog\.)?current_database\(\)(?: as (\w+))?$/.exec(lower))) return { kind: 'command', tag: 'SELECT 1', result: one(m[2] ?? 'current_database', settings.get('database') ?? 'ingot') };
  if ((m = /^select (current_user|session_user|user)(?: as (\w+))?$/.exec(lower))) return { kind: 'command', tag: 'SELECT 1', result: one(m[2] ?? m[1]!, settings.get('session_authorization') ?? '') };
  if ((m = /^select (pg_catalog\.)?pg_backend_pid\(\)(?: as (\w+))?$/.exec(lower))) return { kind: 'command', tag: 'SELECT 1', result: { columns: [{ name: m[2] ?? 'pg_backend_pid', type: 'INTEGER' }], rows: [[Number(settings.get('backend_pid') ?? 0)]] } };
  if ((m = /^select (?:pg_catalog\.)?current_setting\(\s*'([^']+)'\s*(?:,\s*(?:true|false)\s*)?\)(?: as (\w+))?$/i.exec(bare.replace(/\s+/g, ' ')))) {
    return { kind: 'command', tag: 'SELECT 1', result: one(m[2] ?? 'current_setting', settings.get(m[1]!.toLowerCase()) ?? '') };
  }
  if ((m = /^select (?:pg_catalog\.)?set_config\(\s*'([^']+)'\s*,\s*('(?:[^']|'')*'|null)\s*,\s*(?:true|false)\s*\)(?: as (\w+))?$/i.exec(bare.replace(/\s+/g, ' ')))) {
    const value = m[2]!.toLowerCase() === 'null' ? '' : unquote(m[2]!);
    return { kind: 'command', tag: 'SELECT 1', set: [[m[1]!.toLowerCase(), value]], result: one(m[3] ?? 'set_config', value) };
  }

  if ((m = /^declare\s+("(?:[^"]|"")+"|[A-Za-z_][\w$]*)\s+((?:binary\s+|insensitive\s+|asensitive\s+|no\s+scroll\s+|scroll\s+)*)cursor\s+(with(?:out)?\s+hold\s+)?for\s+([\s\S]+)$/i.exec(bare))) {
    return { kind: 'declare', name: identifier(m[1]!), sql: m[4]!, binary: /binary/i.test(m[2]!), hold: /^with\s/i.test(m[3] ?? '') };
  }
  if ((m = /^(fetch|move)\s+(?:(forward|next)\s+)?(?:(\d+|all)\s+)?(?:(?:from|in)\s+)?("(?:[^"]|"")+"|[A-Za-z_][\w$]*)$/i.exec(bare))) {
    const n = m[3]?.toLowerCase();
    return { kind: 'fetch', name: identifier(m[4]!), count: n === 'all' ? 'all' : n !== undefined ? Number(n) : m[2]?.toLowerCase() === 'forward' ? 1 : 1, move: m[1]!.toLowerCase() === 'move' };
  }
  if ((m = /^close\s+(all|"(?:[^"]|"")+"|[A-Za-z_][\w$]*)$/i.exec(bare))) return { kind: 'closeCursor', name: m[1]!.toLowerCase() === 'all' ? undefined : identifier(m[1]!) };
  if ((m = /^copy\s*\(([\s\S]+)\)\s*to\s+stdout\b\s*(.*)$/i.exec(bare))) {
    const options = m[2]!.toLowerCase();
    const delimiter = /delimiter\s+'(.)'/.exec(m[2]!)?.[1];
    const csv = /\bcsv\b/.test(options);
    return { kind: 'copy', sql: m[1]!, csv, header: /\bheader\b(?!\s+false)/.test(options), delimiter: delimiter ?? (csv ? ',' : '\t') };
  }
  return { kind: 'query', sql: bare };
}
