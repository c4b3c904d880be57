#!/usr/bin/env python3
"""Writes Delta tables with Spark SQL, then reads change data feeds with Spark's readChangeFeed,
all in one local Spark session with delta-spark (read_spark.py's).

Usage: change_feed_spark.py < input.json
  {"statements": [SQL, ...], "reads": [{"path": "/abs/table", "from": 0, "to": 5}, ...]}

Statements run first, in order (address tables as delta.`/abs/path`). Then each read is
spark.read.format("delta").option("readChangeFeed", "true").option("startingVersion", from)
.option("endingVersion", to).load(path) ("to" may be left out: the latest). Prints one JSON line
per read, in order: {"path", "columns": [...], "rows": [[value, ...], ...]} with the table's
columns then _change_type, _commit_version (dates and timestamps as ISO text, integers beyond
2^53 as text), or
{"path", "error"} when Spark refuses it. Exit codes as read_spark.py's.
"""
import datetime
import decimal
import json
import sys

from read_spark import run, spark_session


def plain(v):
    """A JSON-able form of a Spark value."""
    if isinstance(v, (datetime.date, datetime.datetime)):
        return v.isoformat()
    if isinstance(v, decimal.Decimal):
        return str(v)
    if isinstance(v, (bytes, bytearray)):
        return v.hex()
    if isinstance(v, int) and not isinstance(v, bool) and abs(v) > 2**53 - 1:
        return str(v)  # as ingot's JSON gives a 64-bit integer beyond a double's exact range
    return v


def main(argv):
    if argv:
        print("usage: change_feed_spark.py < input.json", file=sys.stderr)
        return 2
    spec = json.load(sys.stdin)
    spark = spark_session("ingot-change-feed")
    for i, sql in enumerate(spec.get("statements", [])):
        try:
            spark.sql(sql).collect()
        except Exception as err:
            message = str(err).strip().split("\n")[0]
            raise RuntimeError(f"statement {i + 1} failed: {message}\n  {sql}") from None
    for r in spec.get("reads", []):
        reader = spark.read.format("delta").option("readChangeFeed", "true").option("startingVersion", r["from"])
        if r.get("to") is not None:
            reader = reader.option("endingVersion", r["to"])
        try:
            df = reader.load(r["path"])
            columns = [c for c in df.columns if c not in ("_change_type", "_commit_version", "_commit_timestamp")] + ["_change_type", "_commit_version"]
            rows = [[plain(row[c]) for c in columns] for row in df.select(*columns).collect()]
            print(json.dumps({"path": r["path"], "columns": columns, "rows": rows}))
        except Exception as err:  # noqa: BLE001 - Spark's refusal is the answer
            print(json.dumps({"path": r["path"], "error": str(err).strip().split("\n")[0][:500]}))
    sys.stdout.flush()
    return 0


if __name__ == "__main__":
    run("change_feed_spark.py", main)
