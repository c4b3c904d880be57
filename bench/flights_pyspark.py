#!/usr/bin/env python3
"""The flights pipeline as the reference systems build it: a PySpark + delta-spark script, one
SparkSession (local[2]), bronze -> silver (+ quarantine) -> gold as Delta tables, the same steps
and results as examples/flights on ingot. The race in `npm run bench -- --race` times it next to
ingot on DuckDB and ingot on Spark Connect.

Usage: flights_pyspark.py LANDING_DIR LAKE_DIR FIRST_DAY LAST_DAY
  LANDING_DIR holds flights/date=YYYY-MM-DD/*.csv and airports/airports.csv (examples/flights
  after prepare.ts). Runs every day from FIRST_DAY to LAST_DAY (inclusive) the way a daily
  scheduler would -- each day replaces its partition in every layer (`replaceWhere`), the
  monthly gold tables their month -- then a full refresh of every table from all landing files.

Prints one JSON line: {"startup_s", "daily_s", "days", "full_refresh_s", "rows": {table: count}}.
"""
import datetime as dt
import json
import os
import shutil
import sys
import tempfile
import time

from pyspark.sql import functions as F
from pyspark.sql.window import Window
from pyspark.sql.types import DoubleType, IntegerType, StringType, StructField, StructType, TimestampType
from bench_process import local_spark, run_main  # noqa: E402

FLIGHTS = StructType([
    StructField("date", TimestampType()), StructField("delay", IntegerType()), StructField("distance", IntegerType()),
    StructField("origin", StringType()), StructField("destination", StringType()),
])
AIRPORTS = StructType([
    StructField("iata", StringType()), StructField("name", StringType()), StructField("city", StringType()),
    StructField("state", StringType()), StructField("country", StringType()),
    StructField("latitude", DoubleType()), StructField("longitude", DoubleType()),
])


def session(scratch):
    return local_spark("flights-reference", scratch)


class Pipeline:
    def __init__(self, spark, landing, lake):
        self.spark, self.landing, self.lake = spark, landing, lake

    def path(self, table):
        return os.path.join(self.lake, *table.split("."))

    def write(self, df, table, partition, where=None):
        """Overwrites the table, or with `where` only the rows matching it (Delta replaceWhere)."""
        w = df.write.format("delta").mode("overwrite").partitionBy(partition)
        if where is not None and os.path.isdir(os.path.join(self.path(table), "_delta_log")):
            w = w.option("replaceWhere", where)
        w.save(self.path(table))

    def read(self, table):
        return self.spark.read.format("delta").load(self.path(table))

    def airports(self):
        df = self.spark.read.csv(os.path.join(self.landing, "airports", "airports.csv"), header=True, schema=AIRPORTS)
        df.write.format("delta").mode("overwrite").save(self.path("bronze.airports"))

    def bronze(self, day=None):
        pattern = os.path.join(self.landing, "flights", f"date={day}" if day else "date=*", "*.csv")
        df = (self.spark.read.csv(pattern, header=True, schema=FLIGHTS)
              .withColumn("_source", F.input_file_name())
              .withColumn("flight_date", F.to_date(F.regexp_extract("_source", r"date=(\d{4}-\d{2}-\d{2})", 1)))
              .withColumn("_ingested_at", F.current_timestamp()))
        self.write(df, "bronze.flights_raw", "flight_date", f"flight_date = '{day}'" if day else None)

    def silver(self, day=None):
        b = self.read("bronze.flights_raw")
        if day:
            b = b.where(F.col("flight_date") == F.lit(day).cast("date"))
        iata = self.read("bronze.airports").select("iata")
        known = [r.iata for r in iata.collect()]
        df = b.select(
            "flight_date", F.col("date").alias("dep_time"), F.hour("date").alias("dep_hour"), "origin", "destination",
            F.concat_ws("-", "origin", "destination").alias("route"), F.col("delay").alias("delay_min"),
            F.col("distance").alias("distance_mi"), (F.col("delay") > 15).alias("is_delayed"),
        )
        ok = (F.col("delay_min").between(-120, 1440) & F.col("origin").isin(known) & F.col("destination").isin(known)
              & (F.col("distance_mi") > 0))
        checked = df.withColumn("_ok", F.coalesce(ok, F.lit(False))).cache()
        where = f"flight_date = '{day}'" if day else None
        self.write(checked.where("_ok").drop("_ok"), "silver.flights", "flight_date", where)
        self.write(checked.where("NOT _ok").drop("_ok"), "silver.flights_quarantine", "flight_date", where)
        checked.unpersist()

    def gold(self, day=None):
        s = self.read("silver.flights")
        month = (dt.date.fromisoformat(day).replace(day=1)) if day else None
        if day:
            daily = s.where(F.col("flight_date") == F.lit(day).cast("date"))
            nxt = (month.replace(day=28) + dt.timedelta(days=4)).replace(day=1)
            monthly = s.where((F.col("flight_date") >= F.lit(str(month)).cast("date")) & (F.col("flight_date") < F.lit(str(nxt)).cast("date")))
        else:
            daily = monthly = s
        airport_daily = daily.groupBy("flight_date", F.col("origin").alias("airport")).agg(
            F.count("*").alias("departures"), F.avg("delay_min").alias("avg_delay_min"),
            F.avg(F.when(F.col("delay_min") <= 15, 1.0).otherwise(0.0)).alias("on_time_rate"))
        self.write(airport_daily, "gold.airport_daily", "flight_date", f"flight_date = '{day}'" if day else None)
        route_monthly = monthly.groupBy(F.trunc("flight_date", "month").alias("month"), "origin", "destination").agg(
            F.count("*").alias("flights"), F.avg("delay_min").alias("avg_delay_min"), F.avg("distance_mi").alias("avg_distance_mi"))
        month_where = f"month = '{month}'" if day else None
        self.write(route_monthly, "gold.route_monthly", "month", month_where)
        # top 5 routes by flights and airports by average delay (>= 1,000 departures) per month
        routes = self.read("gold.route_monthly")
        airports = self.read("gold.airport_daily").withColumn("month", F.trunc("flight_date", "month"))
        if day:
            routes = routes.where(F.col("month") == F.lit(str(month)).cast("date"))
            airports = airports.where(F.col("month") == F.lit(str(month)).cast("date"))
        r = routes.select("month", F.lit("busiest_route").alias("ranking"), F.concat_ws("-", "origin", "destination").alias("subject"),
                          F.col("flights").cast("double").alias("value"))
        a = (airports.groupBy("month", F.col("airport").alias("subject"))
             .agg((F.sum(F.col("avg_delay_min") * F.col("departures")) / F.sum("departures")).alias("value"), F.sum("departures").alias("n"))
             .where("n >= 1000").select("month", F.lit("highest_avg_delay_airport").alias("ranking"), "subject", "value"))
        by_value = Window.partitionBy("month", "ranking").orderBy(F.desc("value"), "subject")
        ranked = r.unionByName(a).withColumn("rank", F.row_number().over(by_value))
        top5 = ranked.where("rank <= 5").select("month", "ranking", F.col("rank").cast("int"), "subject", F.round("value", 2).alias("value"))
        self.write(top5, "gold.top5_monthly", "month", month_where)


def main():
    if len(sys.argv) != 5:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    landing, lake, first, last = sys.argv[1:]
    scratch = tempfile.mkdtemp(prefix="ingot-race-")
    t0 = time.perf_counter()
    spark = session(scratch)
    spark.range(1).count()
    startup = time.perf_counter() - t0
    try:
        p = Pipeline(spark, landing, lake)
        days = []
        d = dt.date.fromisoformat(first)
        while d <= dt.date.fromisoformat(last):
            days.append(str(d))
            d += dt.timedelta(days=1)
        t1 = time.perf_counter()
        p.airports()
        for day in days:
            p.bronze(day)
            p.silver(day)
            p.gold(day)
        daily = time.perf_counter() - t1
        t2 = time.perf_counter()
        p.airports()
        p.bronze()
        p.silver()
        p.gold()
        full = time.perf_counter() - t2
        rows = {t: p.read(t).count() for t in ["bronze.flights_raw", "silver.flights", "silver.flights_quarantine", "gold.airport_daily", "gold.route_monthly", "gold.top5_monthly"]}
        print(json.dumps({"startup_s": round(startup, 2), "daily_s": round(daily, 2), "days": len(days), "full_refresh_s": round(full, 2), "rows": rows}))
    finally:
        spark.stop()
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    run_main(main, __file__)
