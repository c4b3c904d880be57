#!/usr/bin/env python3
"""Runs Spark SQL statements (Delta writes) in one local Spark session with delta-spark.

Usage: write_spark.py < statements.json      a JSON list of SQL statements, run in order

Each statement may address a Delta table by path as delta.`/abs/path`. Prints one JSON line on
stdout: {"pyspark": str, "delta_spark": str, "java": str, "startup_seconds": float}.
The session is read_spark.py's (local[2], UTC, quiet); exit codes too (4: Spark cannot start;
1: a statement failed, named in the message).
"""
import json
import sys
import time

from read_spark import run, spark_session, versions


def main(argv):
    if argv:
        print("usage: write_spark.py < statements.json", file=sys.stderr)
        return 2
    statements = json.load(sys.stdin)
    started = time.monotonic()
    spark = spark_session("ingot-write-spark")
    startup = time.monotonic() - started
    for i, sql in enumerate(statements):
        try:
            spark.sql(sql).collect()
        except Exception as err:
            message = str(err).strip().split("\n")[0]
            raise RuntimeError(f"statement {i + 1} failed: {message}\n  {sql}") from None
    print(json.dumps({**versions(spark), "startup_seconds": round(startup, 1)}))
    return 0


if __name__ == "__main__":
    run("write_spark.py", main)
