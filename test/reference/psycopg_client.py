"""psycopg (3) as a real client of ingot's PostgreSQL protocol server (test/postgres-wire.test.ts).

Usage: python3 psycopg_client.py <conninfo> <scenario> [json arguments]; prints one JSON object.

Scenarios:
  rows    {sql, params?, binary?, prepare?}  rows of a query through the extended protocol
  cursor  {sql, itersize, pause?}            a server-side cursor (pausing `pause` s after its first row) (DECLARE/FETCH) read to the end: row count and a checksum
  error   {sql}                              the SQLSTATE of a failing statement
  cancel  {sql, after}                       a query cancelled by the client after `after` seconds (CancelRequest)
  connect {}                                 connects; reports TLS use or the SQLSTATE of the failure
  sqlalchemy {sql}                           SQLAlchemy's inspector (schemas, tables, columns) and pandas.read_sql of `sql`
  superset {schema, table}                    what Superset's sync asks of SQLAlchemy's inspector (and the SHOW it sends)
"""
import datetime
import decimal
import json
import os
import sys
import threading
import time

import psycopg


def plain(v):
    if isinstance(v, (datetime.date, datetime.datetime, datetime.time)):
        return v.isoformat()
    if isinstance(v, decimal.Decimal):
        return str(v)
    if isinstance(v, bytes):
        return v.hex()
    return v


def main():
    conninfo, scenario = sys.argv[1], sys.argv[2]
    args = json.loads(sys.argv[3]) if len(sys.argv) > 3 else {}
    out = {}
    if scenario == "connect":
        try:
            with psycopg.connect(conninfo) as conn:
                out = {"ok": True, "ssl": conn.pgconn.ssl_in_use, "server_version": conn.info.server_version,
                       "timezone": str(conn.info.timezone)}
        except psycopg.Error as e:
            out = {"ok": False, "sqlstate": e.sqlstate, "message": str(e)}
    elif scenario == "rows":
        with psycopg.connect(conninfo, autocommit=True) as conn:
            cur = conn.cursor(binary=bool(args.get("binary")))
            for _ in range(2 if args.get("prepare") else 1):
                cur.execute(args["sql"], args.get("params"), prepare=args.get("prepare"))
                rows = cur.fetchall()
            out = {"columns": [[d.name, d.type_code] for d in cur.description],
                   "rows": [[plain(v) for v in r] for r in rows]}
    elif scenario == "cursor":
        conn = psycopg.connect(conninfo)
        n, total = 0, 0
        try:
            with conn.cursor(name="pages") as cur:
                cur.itersize = args["itersize"]
                cur.execute(args["sql"])
                for row in cur:
                    if n == 0 and args.get("pause"):
                        time.sleep(args["pause"])  # the client thinking between fetches
                    n += 1
                    total += row[0]
            out = {"rows": n, "sum": total}
        except psycopg.Error as e:
            out = {"rows": n, "sqlstate": e.sqlstate, "message": str(e)}
        finally:
            try:
                conn.close()
            except psycopg.Error:
                pass
    elif scenario == "error":
        with psycopg.connect(conninfo, autocommit=True) as conn:
            try:
                conn.execute(args["sql"])
                out = {"sqlstate": None}
            except psycopg.Error as e:
                out = {"sqlstate": e.sqlstate, "message": str(e)}
            # the session keeps serving after the error
            out["after"] = conn.execute("SELECT 41 + 1").fetchone()[0]
    elif scenario == "cancel":
        with psycopg.connect(conninfo, autocommit=True) as conn:
            timer = threading.Timer(args["after"], conn.cancel)
            timer.start()
            started = time.time()
            try:
                conn.execute(args["sql"])
                out = {"sqlstate": None}
            except psycopg.Error as e:
                out = {"sqlstate": e.sqlstate, "message": str(e)}
            out["seconds"] = time.time() - started
            out["after"] = conn.execute("SELECT 41 + 1").fetchone()[0]
    elif scenario == "sqlalchemy":
        import pandas
        import sqlalchemy

        params = dict(p.split("=", 1) for p in conninfo.split())
        engine = sqlalchemy.create_engine(
            f"postgresql+psycopg://{params['user']}:{params['password']}@{params['host']}:{params['port']}/{params['dbname']}?sslmode=disable")
        inspector = sqlalchemy.inspect(engine)
        out = {
            "schemas": inspector.get_schema_names(),
            "tables": sorted(inspector.get_table_names(schema="silver")),
            "columns": [[c["name"], str(c["type"]), c["nullable"]] for c in inspector.get_columns("flights", schema="silver")],
        }
        with engine.connect() as conn:
            frame = pandas.read_sql(sqlalchemy.text(args["sql"]), conn)
        out["frame"] = {"columns": list(frame.columns), "rows": [[plain(v) for v in r] for r in frame.itertuples(index=False)]}
        engine.dispose()
    elif scenario == "superset":
        import sqlalchemy

        params = dict(p.split("=", 1) for p in conninfo.split())
        engine = sqlalchemy.create_engine(
            f"postgresql+psycopg://{params['user']}:{params['password']}@{params['host']}:{params['port']}/{params['dbname']}?sslmode=disable")
        schema, table = args["schema"], args["table"]
        with engine.connect() as conn:
            out["standard_conforming_strings"] = conn.exec_driver_sql("SHOW standard_conforming_strings").scalar()
            out["search_path"] = conn.exec_driver_sql("SHOW search_path").scalar()
        inspector = sqlalchemy.inspect(engine)
        out.update({
            "schemas": inspector.get_schema_names(),
            "tables": sorted(inspector.get_table_names(schema=schema)),
            "views": sorted(inspector.get_view_names(schema=schema)),
            "materialized_views": sorted(inspector.get_materialized_view_names(schema=schema)),
            "has_table": inspector.has_table(table, schema=schema),
            "columns": [[c["name"], str(c["type"]), c["nullable"], c.get("comment")] for c in inspector.get_columns(table, schema=schema)],
            "pk": inspector.get_pk_constraint(table, schema=schema),
            "fks": inspector.get_foreign_keys(table, schema=schema),
            "indexes": inspector.get_indexes(table, schema=schema),
            "unique": inspector.get_unique_constraints(table, schema=schema),
            "checks": inspector.get_check_constraints(table, schema=schema),
            "table_comment": inspector.get_table_comment(table, schema=schema),
        })
        engine.dispose()
    print(json.dumps(out, default=str))


if __name__ == "__main__":
    main()
    sys.stdout.flush()
    os._exit(0)
