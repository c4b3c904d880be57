import { createHash } from 'node:crypto';
import type { Dialect } from '../engine/dialect.js';
import { tokenize } from '../engine/sql-tokens.js';
import { sqlFor, type DatasetDefinition } from '../pipeline/definition.js';

/**
 * The definition fingerprint of a dataset: 16 hex digits of a SHA-256 over what decides the
 * rows of its table: its SQL on the engine that runs it, normalized (comments dropped,
 * whitespace collapsed, so reformatting changes nothing), or its source; the engine; the
 * materialization and its settings (partitioning, grain, key, order, merge update, change feed); the
 * expectations (which drop and quarantine rows); the schema contract. Descriptions, tags,
 * exports and the landing copy do not change the table and are left out.
 */
export function fingerprint(ds: DatasetDefinition, dialect: Dialect): string {
  // definitions are values loaded once: a dataset's fingerprint per dialect is computed once
  let byDialect = computed.get(ds);
  if (!byDialect) computed.set(ds, (byDialect = new Map()));
  let f = byDialect.get(dialect.name);
  if (f === undefined) byDialect.set(dialect.name, (f = compute(ds, dialect)));
  return f;
}

const computed = new WeakMap<DatasetDefinition, Map<string, string>>();

function compute(ds: DatasetDefinition, dialect: Dialect): string {
  const sql = sqlFor(ds, dialect.name);
  const decisive = {
    sql: sql === undefined ? null : normalizeSql(sql, dialect),
    source: ds.source ?? null,
    engine: dialect.name,
    materialization: ds.materialization,
    partitionBy: ds.partitionBy ?? [],
    grain: ds.grain ?? null,
    key: ds.key ?? null,
    orderBy: ds.orderBy ?? null,
    // only when given: the fingerprints of datasets without it stay as they were
    ...(ds.mergeUpdate ? { mergeUpdate: ds.mergeUpdate } : {}),
    changes: ds.changes ?? null,
    expectations: (ds.expectations ?? []).map((e) => [e.name, e.action, e.scope ?? 'row', normalizeSql(e.condition, dialect)]),
    schema: ds.schema ?? null,
    extraColumns: ds.extraColumns ?? null,
    onSchemaChange: ds.onSchemaChange ?? null,
  };
  return createHash('sha256').update(canonicalJson(decisive)).digest('hex').slice(0, 16);
}

/** `sql` with comments removed and every run of whitespace one space (literals and quoted names kept exactly). */
export function normalizeSql(sql: string, dialect: Dialect): string {
  let out = '';
  for (const t of tokenize(sql, dialect.lex)) {
    if (t.kind !== 'space') out += t.text;
    else if (out !== '' && !out.endsWith(' ')) out += ' ';
  }
  return out.trimEnd();
}

/** JSON with object keys sorted, so equal values always serialize alike. */
function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value && typeof value === 'object') {
    return `{${Object.keys(value).sort().map((k) => `${JSON.stringify(k)}:${canonicalJson((value as Record<string, unknown>)[k])}`).join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}
