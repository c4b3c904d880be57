import type { DuckDBType } from '@duckdb/node-api';
import { duckdb } from './native.js';
import { IngotError } from '../../errors.js';
import type { DataType, StructType } from '../../table/schema.js';

/**
 * DuckDB ⇄ Delta type mapping (PROTOCOL.md, "Primitive Types"). DuckDB types without a Delta
 * equivalent are widened (unsigned integers, HUGEINT → decimal) or rejected with the column name.
 * TIMESTAMP (no time zone) is stored as Delta `timestamp` (UTC-adjusted, sessions run in UTC),
 * so tables stay at reader version 1 without the `timestampNtz` feature.
 */
export function deltaTypeOf(t: DuckDBType, column: string): DataType {
  const DuckDBTypeId = duckdb().DuckDBTypeId;
  switch (t.typeId) {
    case DuckDBTypeId.BOOLEAN: return 'boolean';
    case DuckDBTypeId.TINYINT: return 'byte';
    case DuckDBTypeId.SMALLINT:
    case DuckDBTypeId.UTINYINT: return 'short';
    case DuckDBTypeId.INTEGER:
    case DuckDBTypeId.USMALLINT: return 'integer';
    case DuckDBTypeId.BIGINT:
    case DuckDBTypeId.UINTEGER: return 'long';
    case DuckDBTypeId.UBIGINT: return 'decimal(20,0)';
    case DuckDBTypeId.HUGEINT:
    case DuckDBTypeId.UHUGEINT: return 'decimal(38,0)';
    case DuckDBTypeId.FLOAT: return 'float';
    case DuckDBTypeId.DOUBLE: return 'double';
    case DuckDBTypeId.DECIMAL: return `decimal(${t.width},${t.scale})`;
    case DuckDBTypeId.VARCHAR:
    case DuckDBTypeId.ENUM:
    case DuckDBTypeId.UUID: return 'string';
    case DuckDBTypeId.BLOB: return 'binary';
    case DuckDBTypeId.DATE: return 'date';
    case DuckDBTypeId.TIMESTAMP:
    case DuckDBTypeId.TIMESTAMP_S:
    case DuckDBTypeId.TIMESTAMP_MS:
    case DuckDBTypeId.TIMESTAMP_NS:
    case DuckDBTypeId.TIMESTAMP_TZ: return 'timestamp';
    case DuckDBTypeId.LIST:
    case DuckDBTypeId.ARRAY:
      return { type: 'array', elementType: deltaTypeOf(t.valueType, `${column}[]`), containsNull: true };
    case DuckDBTypeId.MAP:
      return { type: 'map', keyType: deltaTypeOf(t.keyType, `${column}.key`), valueType: deltaTypeOf(t.valueType, `${column}.value`), valueContainsNull: true };
    case DuckDBTypeId.STRUCT:
      return {
        type: 'struct',
        fields: t.entryNames.map((n, i) => ({ name: n, type: deltaTypeOf(t.entryTypes[i]!, `${column}.${n}`), nullable: true, metadata: {} })),
      };
    case DuckDBTypeId.SQLNULL:
      throw new IngotError('SCHEMA_MISMATCH', `column ${column} has no type (a bare NULL): cast it, e.g. CAST(NULL AS VARCHAR)`, { column });
    default:
      throw new IngotError('SCHEMA_MISMATCH', `column ${column} has type ${t.toString()}, which Delta tables cannot store: cast it to a supported type`, { column });
  }
}

/** Delta schema of a result with these column names and DuckDB types. */
export function deltaSchemaOf(names: string[], types: DuckDBType[]): StructType {
  return { type: 'struct', fields: names.map((n, i) => ({ name: n, type: deltaTypeOf(types[i]!, n), nullable: true, metadata: {} })) };
}
