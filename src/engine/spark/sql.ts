import { IngotError } from '../../errors.js';
import type { MatchedClause, InsertClause, MergeClauses } from '../merge-clauses.js';
import type { DataType, StructType } from '../../table/schema.js';

/** Spark SQL text ingot generates: identifiers, literals, types, path tables and MERGE statements. */

/** Quotes an identifier for Spark SQL: `` `a``b` ``. */
export function sparkIdent(name: string): string {
  return `\`${name.replace(/`/g, '``')}\``;
}

/** The Delta table at `location` addressed by path: `` delta.`/lake/silver/flights` ``, at `version` when given. */
export function deltaPath(location: string, version?: number): string {
  return `delta.${sparkIdent(location)}${version === undefined ? '' : ` VERSION AS OF ${version}`}`;
}

/** The Spark SQL type of Delta type `t` (PROTOCOL.md, "Primitive Types"). Error: PROTOCOL_UNSUPPORTED. */
export function sparkTypeOf(t: DataType): string {
  if (typeof t === 'string') {
    if (/^decimal\(\d+,\s*\d+\)$/.test(t)) return t.toUpperCase();
    const map: Record<string, string> = {
      string: 'STRING', long: 'BIGINT', integer: 'INT', short: 'SMALLINT', byte: 'TINYINT', float: 'FLOAT', double: 'DOUBLE',
      boolean: 'BOOLEAN', binary: 'BINARY', date: 'DATE', timestamp: 'TIMESTAMP', timestamp_ntz: 'TIMESTAMP_NTZ', decimal: 'DECIMAL(10,0)',
    };
    const s = map[t];
    if (!s) throw new IngotError('PROTOCOL_UNSUPPORTED', `Delta type ${t} is not supported by the Spark engine`);
    return s;
  }
  switch (t.type) {
    case 'array': return `ARRAY<${sparkTypeOf(t.elementType)}>`;
    case 'map': return `MAP<${sparkTypeOf(t.keyType)}, ${sparkTypeOf(t.valueType)}>`;
    case 'struct': return `STRUCT<${t.fields.map((f) => `${sparkIdent(f.name)}: ${sparkTypeOf(f.type)}`).join(', ')}>`;
  }
}

/** A query with no rows and the columns of `schema` (typed NULLs). */
export function emptyRowsSql(schema: StructType): string {
  const cols = schema.fields.map((f) => `CAST(NULL AS ${sparkTypeOf(f.type)}) AS ${sparkIdent(f.name)}`);
  return `SELECT ${cols.join(', ') || 'NULL AS __ingot_none'} WHERE false`;
}

/**
 * Delta Lake's `MERGE INTO` for `merge` (ingot's MergeOptions; the source is `sourceSql`):
 * clauses in order, `'*'` as `UPDATE SET *` / `INSERT *`, with `WITH SCHEMA EVOLUTION` when
 * `evolve` (new source columns are added to the table).
 */
export function mergeSql(table: string, sourceSql: string, merge: MergeClauses, evolve: boolean): string {
  const cond = (c?: string): string => (c ? ` AND (${c})` : '');
  const matched = (c: MatchedClause): string => 'delete' in c
    ? `DELETE`
    : c.update === '*' ? 'UPDATE SET *' : `UPDATE SET ${Object.entries(c.update).map(([k, v]) => `target.${sparkIdent(k)} = ${v}`).join(', ')}`;
  const insert = (c: InsertClause): string => c.insert === '*'
    ? 'INSERT *'
    : `INSERT (${Object.keys(c.insert).map(sparkIdent).join(', ')}) VALUES (${Object.values(c.insert).join(', ')})`;
  const clauses = [
    ...(merge.whenMatched ?? []).map((c) => `WHEN MATCHED${cond(c.condition)} THEN ${matched(c)}`),
    ...(merge.whenNotMatched ?? []).map((c) => `WHEN NOT MATCHED${cond(c.condition)} THEN ${insert(c)}`),
    ...(merge.whenNotMatchedBySource ?? []).map((c) => `WHEN NOT MATCHED BY SOURCE${cond(c.condition)} THEN ${matched(c)}`),
  ];
  return `MERGE ${evolve ? 'WITH SCHEMA EVOLUTION ' : ''}INTO ${table} AS target USING (${sourceSql}) AS source ON ${merge.on} ${clauses.join(' ')}`;
}

/**
 * Table names (`layer.table`, two-part) a parsed logical plan (`EXPLAIN EXTENDED`'s first section)
 * reads; with `unqualified`, also one-part names, but only in a plan without CTEs (whose
 * references print as unresolved relations too, so they are not told apart: none is reported).
 */
export function relationsOfPlan(parsed: string, options: { unqualified?: boolean } = {}): string[] {
  const names = new Set<string>();
  const bare = options.unqualified === true && !/\b(CTE|UnresolvedWith|WithCTE)\b/.test(parsed);
  for (const m of parsed.matchAll(/'UnresolvedRelation \[([^\]]*)\]/g)) {
    const parts = m[1]!.split(',').map((p) => p.trim());
    if (parts.length === 2) names.add(`${parts[0]}.${parts[1]}`);
    else if (parts.length === 1 && bare) names.add(parts[0]!);
  }
  return [...names].sort();
}

/** A Spark string literal of `value`: Spark's literals take backslash escapes and join adjacent literals, so `'it\'s'`, backslashes doubled. */
export function sparkString(value: string): string {
  return `'${value.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
}

/**
 * A Spark string literal with each doubled quote inside (`'it''s'`, SQL's escape, which DuckDB
 * reads as one quote) written `\'`: Spark would read it as two adjacent literals, joined
 * (`its`). Backslash escapes are kept; raw literals (`r'...'`) and other tokens are returned as is.
 */
export function sparkQuotes(text: string): string {
  if (!text.startsWith("'") || !text.includes("''", 1)) return text;
  let out = "'";
  for (let i = 1; i < text.length; i++) {
    const c = text[i]!;
    if (c === '\\') {
      out += text.slice(i, i + 2);
      i++;
    } else if (c === "'" && text[i + 1] === "'" && i + 1 < text.length - 1) {
      out += "\\'";
      i++;
    } else out += c;
  }
  return out;
}
