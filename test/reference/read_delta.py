#!/usr/bin/env python3
"""Reads a Delta table with delta-rs (the `deltalake` package) and prints it as JSON.

Usage: read_delta.py TABLE_URI [VERSION] [--reader=datafusion|pyarrow] [--storage-options=JSON]

Output (one JSON object on stdout):
  {"version": int, "schema": [{"name": str, "type": str}], "partition_columns": [str],
   "reader": str, "rows": [{column: value}]}

Types and values are in the JSON form of canonical.py (shared with read_spark.py).

Readers: `datafusion` (default) scans through delta-rs's own DataFusion table provider
(`QueryBuilder`); `pyarrow` through `DeltaTable.to_pyarrow_dataset()`, where delta-rs lists the
files and their partition values and pyarrow reads the Parquet.

`--storage-options` is a JSON object of delta-rs storage options for a table on an object store
(e.g. `{"AWS_ENDPOINT_URL": "http://127.0.0.1:5000", "AWS_ALLOW_HTTP": "true", ...}`).

Exit codes: 0 on success, 2 on bad usage, 3 when deltalake/pyarrow are not installed, 1 on any
other error (message on stderr).
"""
import json
import os
import sys

from canonical import table_json  # the JSON form shared with read_spark.py


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
    out = table_json(schema, table)
    return {"version": dt.version(), "schema": out["schema"], "partition_columns": list(dt.metadata().partition_columns),
            "reader": reader, "rows": out["rows"]}


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
