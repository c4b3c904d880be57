#!/usr/bin/env python3
"""The game-sessions stream as the reference system builds it: a Spark Structured Streaming job
(PySpark + delta-spark, local[2]) over the event files landing in a folder. The continuous bench
(`npm run bench -- --continuous`, bench/continuous-spark.ts) lands the same files into it as into
ingot's continuous project, after ingot's part, and times it.

Usage: continuous_spark.py LANDING LAKE LOG STOP

  LANDING  the folder the files land in: date=YYYY-MM-DD/part-NNNNNNNN.jsonl, JSON lines of
           {event, ts, session_id, player_id, country} (examples/game-sessions/stream.ts)
  LAKE     the Delta tables: LAKE/raw/events (every event as delivered, with data_date and
           _source, the file) and LAKE/gold/sessions (one row per session)
  LOG      a JSON-lines file: one line per micro-batch once its merge has committed,
           {"batch", "files": [paths], "rows", "started", "committed"} (epoch ms)
  STOP     a file whose appearance stops the stream (checked every 200 ms)

The stream: a JSON file source with the events' schema over LANDING/date=*/*.jsonl (files are
written under a hidden temporary name and renamed in: Spark skips names starting with a dot),
`trigger(processingTime='1 second')`, and `foreachBatch`, as the reference system upserts its
sessions: each micro-batch is appended to raw.events and its sessions merged into gold.sessions
(Delta MERGE by session_id: a start fills country, player and start time, an end fills the end
time and completes the session; DL_INSERT_TS kept, DL_UPDATE_TS set). Both writes carry the
stream's batch id as Delta's idempotent-write transaction (txnAppId / txnVersion), so a batch
replayed after a failure commits nothing twice.

Prints {"ready": true, "startup_s"} once the stream is running, and at the end
{"batches", "startup_s"}; exits with os._exit after flushing (see bench/bench_process.py).
"""
import json
import os
import sys
import tempfile
import time

from delta.tables import DeltaTable
from pyspark.sql import functions as F
from pyspark.sql.types import DateType, StringType, StructField, StructType, TimestampType
from bench_process import local_spark, run_main  # noqa: E402

EVENTS = StructType([
    StructField("event", StringType()), StructField("ts", TimestampType()), StructField("session_id", StringType()),
    StructField("player_id", StringType()), StructField("country", StringType()),
])
SESSIONS = StructType([
    StructField("country", StringType()), StructField("player_id", StringType()), StructField("session_id", StringType()),
    StructField("start_ts", TimestampType()), StructField("end_ts", TimestampType()), StructField("session_status", StringType()),
    StructField("DL_INSERT_TS", TimestampType()), StructField("DL_UPDATE_TS", TimestampType()),
])
APP_ID = "game-sessions-stream"


def session(scratch):
    return local_spark("game-sessions-stream", scratch)


def upsert(spark, raw_path, sessions_path, log):
    """The foreachBatch function: appends the batch to raw.events, merges its sessions into
    gold.sessions, then logs the batch's files and the time its merge committed."""

    def run(batch, batch_id):
        started = time.time()
        batch.persist()
        try:
            per_file = batch.groupBy("_source").count().collect()
            if not per_file:
                return
            files = [r[0] for r in per_file]
            rows = sum(r[1] for r in per_file)
            (batch.write.format("delta").mode("append")
             .option("txnAppId", APP_ID).option("txnVersion", batch_id).save(raw_path))
            changes = batch.groupBy("session_id").agg(
                F.max(F.when(F.col("event") == "start", F.col("country"))).alias("country"),
                F.max("player_id").alias("player_id"),
                F.min(F.when(F.col("event") == "start", F.col("ts"))).alias("start_ts"),
                F.max(F.when(F.col("event") == "end", F.col("ts"))).alias("end_ts"),
            )
            now = F.current_timestamp()
            # MERGE is idempotent by the session's transaction confs (Delta: SQL and MERGE writes)
            spark.conf.set("spark.databricks.delta.write.txnAppId", APP_ID)
            spark.conf.set("spark.databricks.delta.write.txnVersion", str(batch_id))
            try:
                (DeltaTable.forPath(spark, sessions_path).alias("t")
                 .merge(changes.alias("s"), "t.session_id = s.session_id")
                 .whenMatchedUpdate(set={
                     "country": F.coalesce(F.col("t.country"), F.col("s.country")),
                     "player_id": F.coalesce(F.col("t.player_id"), F.col("s.player_id")),
                     "start_ts": F.least(F.col("t.start_ts"), F.col("s.start_ts")),
                     "end_ts": F.greatest(F.col("t.end_ts"), F.col("s.end_ts")),
                     "session_status": F.when(F.greatest(F.col("t.end_ts"), F.col("s.end_ts")).isNotNull(), F.lit("completed")).otherwise(F.lit("started")),
                     "DL_UPDATE_TS": now,
                 })
                 .whenNotMatchedInsert(values={
                     "country": F.col("s.country"), "player_id": F.col("s.player_id"), "session_id": F.col("s.session_id"),
                     "start_ts": F.col("s.start_ts"), "end_ts": F.col("s.end_ts"),
                     "session_status": F.when(F.col("s.end_ts").isNotNull(), F.lit("completed")).otherwise(F.lit("started")),
                     "DL_INSERT_TS": now, "DL_UPDATE_TS": now,
                 })
                 .execute())
            finally:
                spark.conf.unset("spark.databricks.delta.write.txnAppId")
                spark.conf.unset("spark.databricks.delta.write.txnVersion")
            committed = time.time()
            log.write(json.dumps({"batch": batch_id, "files": files, "rows": rows, "started": round(started * 1000), "committed": round(committed * 1000)}) + "\n")
            log.flush()
        finally:
            batch.unpersist()

    return run


def main():
    if len(sys.argv) != 5:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    landing, lake, log_path, stop = sys.argv[1:]
    scratch = tempfile.mkdtemp(prefix="ingot-stream-")
    t0 = time.perf_counter()
    spark = session(scratch)
    raw_path = os.path.join(lake, "raw", "events")
    sessions_path = os.path.join(lake, "gold", "sessions")
    spark.createDataFrame([], SESSIONS).write.format("delta").mode("overwrite").save(sessions_path)
    os.makedirs(landing, exist_ok=True)
    events = (
        spark.readStream.schema(EVENTS).json(os.path.join(landing, "date=*", "*.jsonl"))
        .withColumn("_source", F.col("_metadata.file_path"))
        .withColumn("data_date", F.regexp_extract(F.col("_source"), r"date=(\d{4}-\d{2}-\d{2})/", 1).cast(DateType()))
    )
    with open(log_path, "a", encoding="utf-8") as log:
        query = (
            events.writeStream.foreachBatch(upsert(spark, raw_path, sessions_path, log))
            .option("checkpointLocation", os.path.join(lake, "_checkpoints", "sessions"))
            .trigger(processingTime="1 second")
            .start()
        )
        # running: its first trigger (no files yet) has reported progress
        while query.lastProgress is None:
            if query.exception() is not None:
                raise RuntimeError(str(query.exception()))
            time.sleep(0.1)
        startup = time.perf_counter() - t0
        print(json.dumps({"ready": True, "startup_s": round(startup, 2)}), flush=True)
        while not os.path.exists(stop):
            if query.awaitTermination(0.2):
                raise RuntimeError(f"the stream stopped: {query.exception()}")
        batches = query.lastProgress.get("batchId") if query.lastProgress else None
        query.stop()
    print(json.dumps({"batches": batches, "startup_s": round(startup, 2)}))


if __name__ == "__main__":
    run_main(main, __file__)
