"""The Airflow side of the scheduler bench (bench/schedule.ts → bench/airflow_backfill.py).

DAG `ticks`: daily from 2021-01-01, one task `write` that appends one row (logical date, 1) to the
table `ticks` of the SQLite file named by INGOT_BENCH_TICKS_DB: the counterpart of ingot's trivial
dataset `bronze.ticks` (`SELECT {{logical_date}} AS day, 1 AS x`, appended).
"""
import os
import sqlite3
from datetime import datetime

from airflow import DAG
from airflow.decorators import task

with DAG('ticks', start_date=datetime(2021, 1, 1), schedule='@daily', catchup=False):

    @task
    def write(ds=None):
        """Appends (ds, 1) to ticks; ds is the run's logical date, YYYY-MM-DD."""
        with sqlite3.connect(os.environ['INGOT_BENCH_TICKS_DB'], timeout=60) as db:
            db.execute('CREATE TABLE IF NOT EXISTS ticks (day TEXT, x INTEGER)')
            db.execute('INSERT INTO ticks VALUES (?, 1)', (ds,))

    write()
