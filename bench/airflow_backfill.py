"""Backfills bench/airflow_dag.py (DAG `ticks`) in a fresh, standalone Airflow and times it.

Usage: <venv>/bin/python bench/airflow_backfill.py WORK_DIR FROM TO   (dates YYYY-MM-DD, inclusive)

WORK_DIR is emptied and becomes AIRFLOW_HOME: SQLite metadata database, SequentialExecutor, no
examples, the DAG copied into WORK_DIR/dags. `airflow db migrate` runs first (setup, timed apart),
then `airflow dags backfill -s FROM -e TO ticks` (timed: the figure). Afterwards the ticks table
must hold one row per date and the metadata database one successful run per date, else exit 1.
Prints one JSON line: {"airflow", "intervals", "setupS", "backfillS", "msPerInterval"}.
The backfill's output goes to WORK_DIR/backfill.log.
"""
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import time
from datetime import date

work, start, end = sys.argv[1], sys.argv[2], sys.argv[3]
intervals = (date.fromisoformat(end) - date.fromisoformat(start)).days + 1
bench = os.path.dirname(os.path.abspath(__file__))
airflow = os.path.join(os.path.dirname(sys.executable), 'airflow')

shutil.rmtree(work, ignore_errors=True)
os.makedirs(os.path.join(work, 'dags'))
shutil.copy(os.path.join(bench, 'airflow_dag.py'), os.path.join(work, 'dags'))
ticks = os.path.join(work, 'ticks.sqlite')
env = {
    **os.environ,
    'PATH': os.path.dirname(airflow) + os.pathsep + os.environ.get('PATH', ''),  # the executor runs `airflow tasks run`
    'AIRFLOW_HOME': work,
    'AIRFLOW__CORE__DAGS_FOLDER': os.path.join(work, 'dags'),
    'AIRFLOW__CORE__EXECUTOR': 'SequentialExecutor',
    'AIRFLOW__CORE__LOAD_EXAMPLES': 'False',
    'AIRFLOW__DATABASE__SQL_ALCHEMY_CONN': f'sqlite:///{os.path.join(work, "airflow.db")}',
    'INGOT_BENCH_TICKS_DB': ticks,
}


def run(args, log):
    """Runs airflow ARGS with its output in LOG; returns the wall time in seconds; exits on failure."""
    t0 = time.perf_counter()
    with open(os.path.join(work, log), 'w') as out:
        code = subprocess.call([airflow, *args], env=env, stdout=out, stderr=subprocess.STDOUT)
    took = time.perf_counter() - t0
    if code != 0:
        with open(os.path.join(work, log)) as f:
            sys.exit(f'airflow {" ".join(args)} exited with {code}:\n' + ''.join(f.readlines()[-20:]))
    return took


setup = run(['db', 'migrate'], 'migrate.log')
took = run(['dags', 'backfill', '-s', start, '-e', end, 'ticks'], 'backfill.log')

with sqlite3.connect(ticks) as db:
    rows, days = db.execute('SELECT count(*), count(DISTINCT day) FROM ticks').fetchone()
with sqlite3.connect(os.path.join(work, 'airflow.db')) as db:
    runs = db.execute("SELECT count(*) FROM dag_run WHERE dag_id = 'ticks' AND state = 'success'").fetchone()[0]
if rows != intervals or days != intervals or runs != intervals:
    sys.exit(f'expected {intervals} rows, days and successful runs; got {rows} rows, {days} days, {runs} runs')

from airflow.version import version  # noqa: E402  (after the run: the import is not timed)

print(json.dumps({
    'airflow': version, 'intervals': intervals, 'setupS': round(setup, 2),
    'backfillS': round(took, 2), 'msPerInterval': round(took * 1000 / intervals, 1),
}))
