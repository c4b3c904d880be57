"""The dlt side of the PostgreSQL bench (bench/postgres.ts): one incremental load of a PostgreSQL
table into a local Delta table, the way dlt's documentation sets it up.

    python3 bench/dlt_load.py <postgresql-url> <schema.table> <cursor column> <work dir>

Source: dlt's `sql_table` with the `pyarrow` backend (dlt's fastest built-in backend for
PostgreSQL: rows come in Arrow batches, not Python dicts) and `dlt.sources.incremental(cursor)`,
whose state (the bookmark) dlt keeps in the pipeline folder and in the destination.
Destination: `filesystem` at `<work dir>/lake`, `table_format="delta"`, write disposition append;
the table lands in `<work dir>/lake/bronze/<table>`. The pipeline's own folder is
`<work dir>/pipelines`. Prints one JSON line: rows loaded and the load's seconds.
"""
import json
import os
import sys
import time

os.environ.setdefault("RUNTIME__DLTHUB_TELEMETRY", "false")

import dlt  # noqa: E402
from dlt.sources.sql_database import sql_table  # noqa: E402
from bench_process import run_main  # noqa: E402


def main() -> None:
    url, qualified, cursor, work = sys.argv[1:5]
    schema, table = qualified.split(".")
    # SQLAlchemy's dialect name, with the psycopg2 driver (test/reference/requirements.txt)
    url = url.replace("postgres://", "postgresql+psycopg2://", 1)
    source = sql_table(
        credentials=url,
        schema=schema,
        table=table,
        backend="pyarrow",
        chunk_size=100_000,
        incremental=dlt.sources.incremental(cursor),
    )
    pipeline = dlt.pipeline(
        pipeline_name="bench_pg",
        pipelines_dir=os.path.join(work, "pipelines"),
        destination=dlt.destinations.filesystem(bucket_url="file://" + os.path.abspath(os.path.join(work, "lake"))),
        dataset_name="bronze",
        progress="log" if os.environ.get("DLT_PROGRESS") else None,
    )
    t0 = time.perf_counter()
    info = pipeline.run(source, table_format="delta", write_disposition="append")
    seconds = time.perf_counter() - t0
    rows = pipeline.last_trace.last_normalize_info.row_counts.get(table, 0)
    info.raise_on_failed_jobs()
    print(json.dumps({"rows": rows, "seconds": seconds}))


if __name__ == "__main__":
    run_main(main, __file__)
