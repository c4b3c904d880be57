"""psycopg (3) reading a result from a PostgreSQL-protocol server, for bench/pgwire.ts.

Usage: python3 pgwire_client.py <conninfo> <mode> <sql> [itersize]; prints one JSON line.
  read    a client cursor: execute, then every row fetched into Python values (fetchall);
          rows, seconds from execute to the last row, sum of the first column
  stream  a server-side cursor (DECLARE/FETCH, `itersize` rows a page): rows, seconds, sum of the first column
"""
import json
import os
import sys
import time

import psycopg


def main():
    conninfo, mode, sql = sys.argv[1], sys.argv[2], sys.argv[3]
    with psycopg.connect(conninfo) as conn:
        started = time.perf_counter()
        n, total = 0, 0
        if mode == "read":
            cur = conn.cursor()
            cur.execute(sql)
            for row in cur.fetchall():
                n += 1
                total += row[0]
        else:
            with conn.cursor(name="bench") as cur:
                cur.itersize = int(sys.argv[4])
                cur.execute(sql)
                for row in cur:
                    n += 1
                    total += row[0]
        seconds = time.perf_counter() - started
    print(json.dumps({"rows": n, "seconds": seconds, "sum": str(total)}))


if __name__ == "__main__":
    main()
    sys.stdout.flush()
    os._exit(0)
