#!/usr/bin/env python3
"""Reads Delta tables with Apache Spark (pyspark + delta-spark, local mode) and prints them as JSON.

Usage: read_spark.py TABLE_PATH...      reads each table at its latest version
       read_spark.py -                  reads the tables listed on stdin as JSON:
                                        [{"path": str, "version"?: int, "where"?: str}]
       read_spark.py --check            starts Spark and prints its versions (fetches delta-spark's
                                        jars from Maven Central into the Ivy cache the first time)

All tables are read in one Spark session (starting one takes seconds). Output: one JSON line per
table on stdout, in the order given:
  {"path": str, "version": int, "schema": [{"name": str, "type": str}],
   "partition_columns": [str], "comments": {column: str}, "reader": "spark", "rows": [{column: value}], "count": int,
   "where"?: str, "filtered_rows"?: [{column: value}]}
or {"path": str, "version"?: int, "error": str} when Spark cannot read that table. Types and
values are in the JSON form of canonical.py (shared with read_delta.py): Spark's rows come
through Arrow (`DataFrame.toArrow`), as delta-rs's do. `count` is `DataFrame.count()`, which
Delta may answer from the files' statistics (numRecords); `filtered_rows` are the rows matching
the Spark SQL predicate `where`, read with Delta's data skipping (min/max/nullCount statistics).

The session: local[2], 2 shuffle partitions, UTC session time zone, logs at ERROR.

Exit codes: 0 when Spark started (tables it could not read are reported per table), 2 on bad
usage, 3 when pyspark/delta-spark are not installed, 4 when Spark cannot start (no Java, or
delta-spark's jars neither cached nor downloadable), 1 on any other error (message on stderr,
last line prefixed "read_spark.py:").
"""
import json
import os
import shutil
import sys
import tempfile
import time

from canonical import table_json  # the JSON form shared with read_delta.py

# Spark logs errors only, to stderr (shared with test/spark-connect-server.ts)
LOG4J2 = os.path.join(os.path.dirname(os.path.abspath(__file__)), "log4j2.properties")


class NotInstalled(Exception):
    """pyspark, delta-spark or pyarrow is missing (exit code 3)."""


class SparkUnavailable(Exception):
    """Spark could not start (exit code 4)."""


_started = []  # (session, scratch directory) pairs that `run` stops and removes


def spark_session(app):
    """A local Spark session with Delta Lake (see the module docstring). Raises NotInstalled or
    SparkUnavailable."""
    try:
        import pyarrow  # noqa: F401  (DataFrame.toArrow)
        from delta import configure_spark_with_delta_pip
        from pyspark.sql import SparkSession
    except ImportError as err:
        raise NotInstalled(f"{err}: install Spark with `pip install -r test/reference/requirements.txt`") from err

    scratch = tempfile.mkdtemp(prefix="ingot-spark-")
    builder = (
        SparkSession.builder.master("local[2]").appName(app)
        .config("spark.sql.extensions", "io.delta.sql.DeltaSparkSessionExtension")
        .config("spark.sql.catalog.spark_catalog", "org.apache.spark.sql.delta.catalog.DeltaCatalog")
        .config("spark.sql.shuffle.partitions", "2")
        .config("spark.default.parallelism", "2")
        .config("spark.databricks.delta.snapshotPartitions", "2")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.driver.extraJavaOptions", f"-Duser.timezone=UTC -Dlog4j2.configurationFile=file:{LOG4J2}")
        .config("spark.sql.warehouse.dir", os.path.join(scratch, "warehouse"))
        .config("spark.local.dir", scratch)
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
    )
    try:
        spark = configure_spark_with_delta_pip(builder).getOrCreate()
    except Exception as err:  # noqa: BLE001 - pyspark raises PySparkRuntimeError (JAVA_GATEWAY_EXITED)
        shutil.rmtree(scratch, ignore_errors=True)
        raise SparkUnavailable(
            f"Spark could not start ({type(err).__name__}: {err}). It needs Java 17 (java on PATH or JAVA_HOME) "
            "and delta-spark's jars, which Spark fetches from Maven Central into ~/.ivy2* "
            "the first time: see the messages above"
        ) from err
    _started.append((spark, scratch))
    spark.sparkContext.setLogLevel("ERROR")
    return spark


def versions(spark):
    """pyspark, delta-spark and Java versions of a running session."""
    from importlib.metadata import version

    return {
        "pyspark": spark.version,
        "delta_spark": version("delta-spark"),
        "java": spark.sparkContext._jvm.java.lang.System.getProperty("java.version"),
    }


def describe(spark, path, version):
    """The rows of `DESCRIBE TABLE delta.`path@vN`` (latest when version is None) as
    (col_name, data_type, comment) tuples."""
    name = path if version is None else f"{path}@v{int(version)}"
    return [tuple(r) for r in spark.sql(f"DESCRIBE TABLE delta.`{name}`").collect()]


def comments(rows):
    """Column comments as DESCRIBE shows them: {column: comment} for the columns having one."""
    out = {}
    for col, _, comment in rows:
        if not col or col.startswith("#"):
            break
        if comment:
            out[col] = comment
    return out


def partition_columns(rows):
    """Partition columns, from the "# Partition Information" section of DESCRIBE's rows."""
    if ("# Partition Information", "", "") not in rows:
        return []
    out = []
    for col, _, _ in rows[rows.index(("# Partition Information", "", "")) + 2:]:
        if not col or col.startswith("#"):
            break
        out.append(col)
    return out


def read(spark, path, version, where):
    """One table's output record (see the module docstring)."""
    from delta.tables import DeltaTable

    reader = spark.read.format("delta")
    if version is not None:
        reader = reader.option("versionAsOf", int(version))
    df = reader.load(path)
    schema = json.loads(df.schema.json())
    out = table_json(schema, df.toArrow())
    if version is None:
        version = DeltaTable.forPath(spark, path).history(1).first()["version"]
    described = describe(spark, path, version)
    record = {"path": path, "version": version, "schema": out["schema"],
              "partition_columns": partition_columns(described), "comments": comments(described),
              "reader": "spark", "rows": out["rows"], "count": df.count()}
    if where is not None:
        record["where"] = where
        record["filtered_rows"] = table_json(schema, df.where(where).toArrow())["rows"]
    return record


def main(argv):
    if argv == ["--check"]:
        tables = None
    elif argv == ["-"]:
        tables = json.load(sys.stdin)
    elif argv and not any(a.startswith("-") for a in argv):
        tables = [{"path": a} for a in argv]
    else:
        print("usage: read_spark.py TABLE_PATH... | read_spark.py - (JSON list on stdin) | read_spark.py --check", file=sys.stderr)
        return 2
    started = time.monotonic()
    spark = spark_session("ingot-read-spark")
    startup = time.monotonic() - started
    if tables is None:
        print(json.dumps({**versions(spark), "startup_seconds": round(startup, 1)}))
        return 0
    for t in tables:
        try:
            record = read(spark, t["path"], t.get("version"), t.get("where"))
        except Exception as err:  # noqa: BLE001 - one table's failure is that table's record
            message = str(err).strip().split("\n")[0]
            record = {"path": t["path"], **({"version": t["version"]} if "version" in t else {}),
                      "error": f"{type(err).__name__}: {message}"[:2000]}
        sys.stdout.write(json.dumps(record, ensure_ascii=False, allow_nan=False) + "\n")
        sys.stdout.flush()
    return 0


def run(name, main_fn):
    """Runs `main_fn(argv)` with the exit codes of the module docstring, then exits at once."""
    try:
        code = main_fn(sys.argv[1:])
    except (NotInstalled, SparkUnavailable) as err:
        print(f"{name}: {err}", file=sys.stderr)
        code = 3 if isinstance(err, NotInstalled) else 4
    except Exception as err:  # noqa: BLE001 - report any failure as a message and exit code 1
        print(f"{name}: {type(err).__name__}: {err}", file=sys.stderr)
        code = 1
    for spark, scratch in _started:
        try:
            spark.stop()
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


if __name__ == "__main__":
    run("read_spark.py", main)
