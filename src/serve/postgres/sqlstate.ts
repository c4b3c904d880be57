import { IngotError, messageOf } from '../../errors.js';
import type { ErrorFields } from './messages.js';
import { ParameterInvalid } from './types.js';

/**
 * The command a statement starts with, as PostgreSQL's read-only error names it (`CREATE TABLE`,
 * `INSERT`, `COPY`...); `this statement` when unknown.
 */
function verbOf(sql: string | undefined): string {
  const words = (sql ?? '').replace(/--[^\n]*|\/\*[\s\S]*?\*\//g, ' ').trim().split(/\s+/).map((w) => w.toUpperCase());
  if (!words[0] || !/^[A-Z]+$/.test(words[0])) return 'this statement';
  const two = ['CREATE', 'DROP', 'ALTER', 'TRUNCATE'].includes(words[0]) && words[1] && /^[A-Z]+$/.test(words[1]) && words[1] !== 'OR' ? `${words[0]} ${words[1]}` : words[0];
  return two;
}

/**
 * ingot's errors as PostgreSQL ErrorResponse fields, with the SQLSTATE codes of PostgreSQL's
 * "Appendix A. PostgreSQL Error Codes": a write, DDL or setting → 25006
 * (read_only_sql_transaction); reading a file outside the lake → 42501 (insufficient_privilege);
 * an unknown table → 42P01, a version that does not exist → 22023; a syntax error → 42601 with its position; an unknown column → 42703;
 * an unknown function → 42883; a value that does not convert → 22P02; the statement timeout or
 * a cancel request → 57014; anything else the engine refuses → 42000, and an internal failure →
 * XX000.
 */
export function errorFields(err: unknown, sql?: string): ErrorFields {
  const e = (code: string, message: string, extra: Partial<ErrorFields> = {}): ErrorFields => ({ severity: 'ERROR', code, message, ...extra });
  if (err instanceof ParameterInvalid) return e('22P02', err.message);
  // a value the binary format cannot carry (see types.ts binaryOf)
  if (err instanceof TypeError && /^not a /.test(err.message)) return e('22000', `cannot send a value in binary format: ${err.message}`, { hint: 'ask for this column in text format' });
  if (!(err instanceof IngotError)) return e('XX000', `internal error: ${messageOf(err)}`);
  const first = err.message.split('\n')[0]!.trim();
  const detail = err.message.includes('\n') ? err.message.slice(err.message.indexOf('\n') + 1).trim() : undefined;
  const withDetail = detail ? { detail } : {};
  switch (err.code) {
    case 'TABLE_NOT_FOUND':
      return e('42P01', `relation ${JSON.stringify(err.context.table ?? '')} does not exist (${first})`, { hint: 'tables are named layer.table, e.g. silver.flights; list them with \\dt *.* or information_schema.tables' });
    case 'SQL_NOT_READ_ONLY':
      return /only the lake's tables can be read/.test(first)
        ? e('42501', first, { hint: 'only the tables of the lake can be read: address them as layer.table' })
        : e('25006', `cannot execute ${verbOf(sql)} in a read-only transaction`, { detail: first, hint: 'the lake is read-only here: one SELECT per statement; writes, DDL, settings, COPY to files, ATTACH, INSTALL, LOAD and PRAGMA are refused' });
    case 'VERSION_NOT_FOUND':
      // the message without the table's location on disk
      return e('22023', first.slice(first.lastIndexOf(': ') + 2), { hint: 'time travel: layer."table@N" reads version N, layer."table@2024-03-01T00:00:00Z" the version current at that time' });
    case 'SQL_TIMEOUT':
      return e('57014', `canceling statement due to statement timeout (${first})`);
    case 'QUERY_CANCELLED':
      return e('57014', 'canceling statement due to user request');
    case 'SQL_ERROR': {
      const msg = first.replace(/^(Parser|Binder|Catalog|Conversion|Invalid Input|Out of Range|Not implemented) Error:\s*/i, '');
      if (/^Parser Error|syntax error/i.test(first)) return e('42601', msg, { ...(err.context.position !== undefined ? { position: err.context.position + 1 } : {}), ...withDetail });
      if (/^Catalog Error: Table (with name|Function)|does not exist because schema/i.test(first)) return e('42P01', msg, withDetail);
      if (/^Catalog Error: (Scalar|Aggregate|Table) Function|^Catalog Error: Function/i.test(first)) return e('42883', msg, withDetail);
      if (/Referenced column .* not found|column .* (not found|does not exist)/i.test(first)) return e('42703', msg, withDetail);
      if (/^(Conversion|Invalid Input) Error/i.test(first)) return e('22P02', msg, withDetail);
      if (/^Out of Range Error/i.test(first)) return e('22003', msg, withDetail);
      if (/^Not implemented Error/i.test(first)) return e('0A000', msg, withDetail);
      return e('42000', msg, withDetail);
    }
    default:
      return e('XX000', first, withDetail);
  }
}
