#!/usr/bin/env python3
"""Reads a Delta table with delta-rs (the `deltalake` package) and prints it as JSON.

Usage: read_delta.py TABLE_URI [VERSION] [--reader=datafusion|pyarrow] [--storage-options=JSON]

Output (one JSON object on stdout):
  {"version": int, "schema": [{"name": str, "type": str}], "partition_columns": [str],
   "reader": str, "rows": [{column: value}]}

Types are rendered the way Delta/Spark print them: `long`, `decimal(10,2)`, `array<integer>`,
`struct<x:integer,y:string>`, `map<string,long>`. Values: integers as JSON numbers (as strings
when beyond +-2^53-1, which JSON numbers cannot hold exactly), doubles as numbers (NaN and
infinities as the strings "NaN", "Infinity", "-Infinity"), decimals as strings ("12.30"), dates
as "YYYY-MM-DD", timestamps as ISO-8601 in UTC with microseconds ("2001-01-01T10:00:00.500000Z";
timestamp_ntz without the "Z"), binary as hex, structs as objects, arrays as lists, maps as
lists of [key, value] pairs. Rows are sorted by their canonical JSON text.

Readers: `datafusion` (default) scans through delta-rs's own DataFusion table provider
(`QueryBuilder`); `pyarrow` through `DeltaTable.to_pyarrow_dataset()`, where delta-rs lists the
files and their partition values and pyarrow reads the Parquet.

`--storage-options` is a JSON object of delta-rs storage options for a table on an object store
(e.g. `{"AWS_ENDPOINT_URL": "http://127.0.0.1:5000", "AWS_ALLOW_HTTP": "true", ...}`).

Exit codes: 0 on success, 2 on bad usage, 3 when deltalake/pyarrow are not installed, 1 on any
other error (message on stderr).
"""
import datetime
import decimal
import json
import math
import os
import sys

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
        return str(v)
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


def read(path, version, reader, storage_options=None):
    from deltalake import DeltaTable

    dt = DeltaTable(path, version=version, storage_options=storage_options)
    schema = json.loads(dt.schema().to_json())
    if reader == "datafusion":
        import pyarrow as pa
        from deltalake import QueryBuilder

        result = QueryBuilder().register("tbl", dt).execute("SELECT * FROM tbl")
        table = result if isinstance(result, pa.Table) else pa.table(result)
    elif reader == "pyarrow":
        table = dt.to_pyarrow_dataset().to_table()
    else:
        raise ValueError(f"unknown reader {reader!r}")
    names = [f["name"] for f in schema["fields"]]
    if sorted(table.column_names) != sorted(names):
        raise RuntimeError(f"delta-rs returned columns {table.column_names}, the schema has {names}")
    rows = [{n: to_json_value(r[n]) for n in names} for r in table.to_pylist()]
    rows.sort(key=lambda r: json.dumps(r, sort_keys=True, ensure_ascii=False, allow_nan=False))
    return {
        "version": dt.version(),
        "schema": [{"name": f["name"], "type": type_name(f["type"])} for f in schema["fields"]],
        "partition_columns": list(dt.metadata().partition_columns),
        "reader": reader,
        "rows": rows,
    }


def main(argv):
    args = [a for a in argv if not a.startswith("--")]
    reader = "datafusion"
    storage_options = None
    for a in argv:
        if a.startswith("--reader="):
            reader = a.split("=", 1)[1]
        elif a.startswith("--storage-options="):
            storage_options = json.loads(a.split("=", 1)[1])
        elif a.startswith("--"):
            print(f"read_delta.py: unknown option {a}", file=sys.stderr)
            return 2
    if len(args) not in (1, 2):
        print("usage: read_delta.py TABLE_URI [VERSION] [--reader=datafusion|pyarrow] [--storage-options=JSON]", file=sys.stderr)
        return 2
    try:
        import deltalake  # noqa: F401
        import pyarrow  # noqa: F401
    except ImportError as err:
        print(f"read_delta.py: {err}: install the reference reader with `pip install deltalake pyarrow`", file=sys.stderr)
        return 3
    version = int(args[1]) if len(args) == 2 else None
    out = read(args[0], version, reader, storage_options)
    sys.stdout.write(json.dumps(out, ensure_ascii=False, allow_nan=False) + "\n")
    return 0


if __name__ == "__main__":
    try:
        code = main(sys.argv[1:])
    except Exception as err:  # noqa: BLE001 - report any failure as a message and exit code 1
        print(f"read_delta.py: {type(err).__name__}: {err}", file=sys.stderr)
        code = 1
    sys.stdout.flush()
    sys.stderr.flush()
    # deltalake's native runtime can abort ("terminate called without an active exception") while
    # the interpreter shuts down, after all output is written; skip interpreter teardown.
    os._exit(code)
