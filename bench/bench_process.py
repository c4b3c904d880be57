"""What the Python sides of the bench share: a local Spark session with Delta as the reference
jobs configure it, and running a job's `main` so that its exit code is its result.

    from bench_process import local_spark, run_main   # the scripts run from bench/, so it is on sys.path
"""
import os
import sys


def local_spark(app_name: str, scratch: str):
    """A SparkSession on `local[2]` (the machine's 2 cores) with delta-spark's extension and
    catalog, 2 shuffle partitions, UTC everywhere, a 2 GB driver, its warehouse and temporary
    files under `scratch`, no UI; the log at ERROR."""
    from delta import configure_spark_with_delta_pip
    from pyspark.sql import SparkSession

    builder = (
        SparkSession.builder.master("local[2]").appName(app_name)
        .config("spark.sql.extensions", "io.delta.sql.DeltaSparkSessionExtension")
        .config("spark.sql.catalog.spark_catalog", "org.apache.spark.sql.delta.catalog.DeltaCatalog")
        .config("spark.sql.shuffle.partitions", "2")
        .config("spark.default.parallelism", "2")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.driver.extraJavaOptions", "-Duser.timezone=UTC")
        .config("spark.driver.memory", "2g")
        .config("spark.sql.warehouse.dir", os.path.join(scratch, "warehouse"))
        .config("spark.local.dir", scratch)
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
    )
    spark = configure_spark_with_delta_pip(builder).getOrCreate()
    spark.sparkContext.setLogLevel("ERROR")
    return spark


def _leave(code: int) -> None:
    """Flushes the output and exits at once: interpreter teardown can abort in native libraries
    (deltalake's runtime, the JVM bridge) after a correct result, making the exit code random."""
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def run_main(main, script: str) -> None:
    """Runs `main()`; any failure prints `<script>: <type>: <message>` on stderr and exits 1, else exits 0."""
    try:
        main()
    except BaseException as err:  # noqa: BLE001 - any failure: its message on stderr, exit code 1
        print(f"{os.path.basename(script)}: {type(err).__name__}: {err}", file=sys.stderr)
        _leave(1)
    _leave(0)
