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
