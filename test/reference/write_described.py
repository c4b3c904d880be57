"""Writes Delta tables whose schemas carry what the PostgreSQL catalog must show, with delta-rs
(python `deltalake`), for test/postgres-catalog.test.ts: non-nullable columns, column
descriptions (field metadata `comment`) and a table description (`metaData.description`).

Usage: python3 write_described.py <lake directory>; prints one JSON object: what was written.

  silver/stations  5 rows:  id long NOT NULL "Station identifier (WMO)", name string "Display name",
                   opened date, elevation_m double "Metres above sea level", active boolean NOT NULL;
                   description "Weather stations"
  gold/readings    200,000 rows: station_id long NOT NULL, day date NOT NULL "Day of the reading (UTC)",
                   reading_no long NOT NULL, temp_c decimal(5,2) "Mean temperature, Celsius", note string
"""
import datetime
import decimal
import json
import os
import sys

import pyarrow as pa
from deltalake import DeltaTable, write_deltalake


def field(name, type_, nullable=True, comment=None):
    return pa.field(name, type_, nullable=nullable, metadata={"comment": comment} if comment else None)


def main():
    lake = sys.argv[1]
    stations_schema = pa.schema([
        field("id", pa.int64(), False, "Station identifier (WMO)"),
        field("name", pa.string(), True, "Display name"),
        field("opened", pa.date32()),
        field("elevation_m", pa.float64(), True, "Metres above sea level"),
        field("active", pa.bool_(), False),
    ])
    stations = pa.table({
        "id": [10001, 10002, 10003, 10004, 10005],
        "name": ["Oslo Blindern", "Bergen Florida", None, "Tromsø", "Kjeller"],
        "opened": [datetime.date(1937, 1, 1), datetime.date(1949, 6, 1), None, datetime.date(1920, 1, 1), datetime.date(1962, 3, 15)],
        "elevation_m": [94.0, 12.5, None, 100.0, 108.25],
        "active": [True, True, False, True, False],
    }, schema=stations_schema)
    path = os.path.join(lake, "silver", "stations")
    DeltaTable.create(path, schema=stations_schema, description="Weather stations")
    write_deltalake(path, stations, mode="append")

    n = 200_000
    readings_schema = pa.schema([
        field("station_id", pa.int64(), False),
        field("day", pa.date32(), False, "Day of the reading (UTC)"),
        field("reading_no", pa.int64(), False),
        field("temp_c", pa.decimal128(5, 2), True, "Mean temperature, Celsius"),
        field("note", pa.string()),
    ])
    start = datetime.date(2020, 1, 1)
    readings = pa.table({
        "station_id": [10001 + i % 5 for i in range(n)],
        "day": [start + datetime.timedelta(days=i // 5) for i in range(n)],
        "reading_no": list(range(n)),
        "temp_c": [None if i % 97 == 0 else decimal.Decimal(((i * 37) % 6000) - 3000).scaleb(-2) for i in range(n)],
        "note": [None if i % 3 else f"note {i}" for i in range(n)],
    }, schema=readings_schema)
    path = os.path.join(lake, "gold", "readings")
    DeltaTable.create(path, schema=readings_schema)
    write_deltalake(path, readings, mode="append")
    print(json.dumps({"stations": stations.num_rows, "readings": readings.num_rows, "sum_reading_no": n * (n - 1) // 2}))


if __name__ == "__main__":
    main()
    sys.stdout.flush()
    os._exit(0)
