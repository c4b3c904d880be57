"""The JSON form the reference readers (read_delta.py: delta-rs, read_spark.py: Spark) print a
Delta table in, so that their output compares exactly with each other's and, after
`canonicalRows` of test/helpers.ts, with ingot's.

Types are rendered the way Delta/Spark print them: `long`, `decimal(10,2)`, `array<integer>`,
`struct<x:integer,y:string>`, `map<string,long>`. Values: integers as JSON numbers (as strings
when beyond +-2^53-1, which JSON numbers cannot hold exactly), floats and doubles as numbers
(NaN and infinities as the strings "NaN", "Infinity", "-Infinity"), decimals as strings
("12.30"), dates as "YYYY-MM-DD", timestamps as ISO-8601 in UTC with microseconds
("2001-01-01T10:00:00.500000Z"; timestamp_ntz without the "Z"), binary as hex, structs as
objects, arrays as lists, maps as lists of [key, value] pairs. Rows are sorted by their JSON text.
"""
import datetime
import decimal
import json
import math

MAX_SAFE_INTEGER = 2**53 - 1


def type_name(t):
    """Renders a Delta schema JSON type (string or dict) as Delta/Spark print it."""
    if isinstance(t, str):
        return t
    kind = t["type"]
    if kind == "struct":
        return "struct<" + ",".join(f"{f['name']}:{type_name(f['type'])}" for f in t["fields"]) + ">"
    if kind == "array":
        return f"array<{type_name(t['elementType'])}>"
    if kind == "map":
        return f"map<{type_name(t['keyType'])},{type_name(t['valueType'])}>"
    raise ValueError(f"unknown Delta type {t!r}")


def to_json_value(v):
    """The JSON value of a Python value as pyarrow's `to_pylist` returns it (see the module docstring)."""
    if v is None or isinstance(v, (bool, str)):
        return v
    if isinstance(v, int):
        return v if -MAX_SAFE_INTEGER <= v <= MAX_SAFE_INTEGER else str(v)
    if isinstance(v, float):
        if math.isnan(v):
            return "NaN"
        if math.isinf(v):
            return "Infinity" if v > 0 else "-Infinity"
        return v
    if isinstance(v, decimal.Decimal):
        return format(v, "f")  # fixed point: str() gives "1E-10" for 0.0000000001
    if isinstance(v, datetime.datetime):
        if v.tzinfo is None:
            return v.strftime("%Y-%m-%dT%H:%M:%S.%f")
        return v.astimezone(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    if isinstance(v, datetime.date):
        return v.isoformat()
    if isinstance(v, (bytes, bytearray, memoryview)):
        return bytes(v).hex()
    if isinstance(v, dict):
        return {k: to_json_value(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [to_json_value(x) for x in v]
    raise TypeError(f"cannot serialize {type(v).__name__} value {v!r}")


def table_json(schema, table):
    """`schema` (Delta schema JSON, a dict) and the rows of `table` (a pyarrow Table holding its
    columns) as {"schema": [{"name", "type"}], "rows": [{column: value}]}, rows sorted."""
    names = [f["name"] for f in schema["fields"]]
    if sorted(table.column_names) != sorted(names):
        raise RuntimeError(f"the reader returned columns {table.column_names}, the schema has {names}")
    rows = [{n: to_json_value(r[n]) for n in names} for r in table.to_pylist()]
    rows.sort(key=lambda r: json.dumps(r, sort_keys=True, ensure_ascii=False, allow_nan=False))
    return {"schema": [{"name": f["name"], "type": type_name(f["type"])} for f in schema["fields"]], "rows": rows}
