/**
 * Delta table schemas as the protocol serializes them in `metaData.schemaString`
 * (PROTOCOL.md, "Schema Serialization Format").
 */

/** A primitive Delta type: `string`, `long`, `integer`, `short`, `byte`, `float`, `double`,
 * `boolean`, `binary`, `date`, `timestamp`, `timestamp_ntz`, or `decimal(p,s)`. */
export type PrimitiveType = string;

export interface StructType {
  type: 'struct';
  fields: StructField[];
}
export interface ArrayType {
  type: 'array';
  elementType: DataType;
  containsNull: boolean;
}
export interface MapType {
  type: 'map';
  keyType: DataType;
  valueType: DataType;
  valueContainsNull: boolean;
}
export type DataType = PrimitiveType | StructType | ArrayType | MapType;

export interface StructField {
  name: string;
  type: DataType;
  nullable: boolean;
  metadata: Record<string, unknown>;
}

/** Parses `metaData.schemaString`. */
export function parseSchema(schemaString: string): StructType {
  const s = JSON.parse(schemaString) as StructType;
  if (s?.type !== 'struct' || !Array.isArray(s.fields)) throw new Error('schemaString is not a struct type');
  return s;
}

/** A field by name (case-sensitive), or undefined. */
export function fieldOf(schema: StructType, name: string): StructField | undefined {
  return schema.fields.find((f) => f.name === name);
}

/** Renders a type the way Delta and Spark print it: `long`, `decimal(10,2)`, `array<string>`, `struct<a:int>`. */
export function typeName(t: DataType): string {
  if (typeof t === 'string') return t;
  switch (t.type) {
    case 'struct':
      return `struct<${t.fields.map((f) => `${f.name}:${typeName(f.type)}`).join(',')}>`;
    case 'array':
      return `array<${typeName(t.elementType)}>`;
    case 'map':
      return `map<${typeName(t.keyType)},${typeName(t.valueType)}>`;
  }
}

/** The name a field has inside data files: its `delta.columnMapping.physicalName` under column mapping ("Column Mapping"). */
export function physicalName(field: StructField, columnMapping: boolean): string {
  const p = field.metadata?.['delta.columnMapping.physicalName'];
  return columnMapping && typeof p === 'string' ? p : field.name;
}

/**
 * The table schema after a write with `mergeSchema` (Delta's schema evolution): the table's
 * fields in order, then the write's new fields (nullable); struct fields merge recursively.
 * `path` names the enclosing column in errors. Errors (thrown as `SchemaConflict`): a column
 * whose type differs between table and write (an incompatible change).
 */
export function mergeSchemas(table: StructType, write: StructType, path = ''): StructType {
  const fields = table.fields.map((t) => {
    const w = fieldOf(write, t.name);
    if (!w) return t;
    return { ...t, type: mergeTypes(t.type, w.type, `${path}${t.name}`) };
  });
  for (const w of write.fields) {
    if (!fieldOf(table, w.name)) fields.push({ ...w, nullable: true });
  }
  return { type: 'struct', fields };
}

function mergeTypes(t: DataType, w: DataType, path: string): DataType {
  if (typeof t !== 'string' && typeof w !== 'string' && t.type === 'struct' && w.type === 'struct') return mergeSchemas(t, w, `${path}.`);
  if (typeName(t) !== typeName(w)) throw new SchemaConflict(path, t, w);
  return t;
}

/** A column whose type in a write differs from the table's. */
export class SchemaConflict extends Error {
  constructor(readonly column: string, readonly tableType: DataType, readonly writeType: DataType) {
    super(`column ${column} is ${typeName(tableType)} in the table but ${typeName(writeType)} in the write`);
  }
}

/** The field metadata key holding a column's description: the key Spark's `COMMENT` and DESCRIBE use, and delta-rs shows in `field.metadata`. */
export const COMMENT_KEY = 'comment';

/** A top-level field's description (its `comment` metadata), or undefined. */
export function commentOf(field: StructField): string | undefined {
  const c = field.metadata?.[COMMENT_KEY];
  return typeof c === 'string' ? c : undefined;
}

/**
 * `schema` with the `comment` metadata of the top-level fields named in `comments` (column →
 * text) set; other fields and other metadata keys kept as they are. Returns undefined when
 * every named field already has that comment (or is absent): nothing to change.
 */
export function withComments(schema: StructType, comments: Record<string, string>): StructType | undefined {
  let changed = false;
  const fields = schema.fields.map((f) => {
    const c = comments[f.name];
    if (c === undefined || commentOf(f) === c) return f;
    changed = true;
    return { ...f, metadata: { ...f.metadata, [COMMENT_KEY]: c } };
  });
  return changed ? { type: 'struct', fields } : undefined;
}
