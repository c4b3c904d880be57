-- The flights pipeline written by hand in DuckDB SQL, as a baseline for `npm run bench`.
-- Same inputs, types, lineage columns, checks and gold queries as examples/flights/datasets,
-- as one full rebuild to plain Parquet (no Delta log, no run history, no staging).
-- Paths are relative to the working directory: the bench's scratch project folder, which holds
-- `landing/` (a link to examples/flights/landing) and receives `handmade/` (its layer folders made beforehand).
-- bench/run.ts runs it under the same engine settings as ingot (1GB, spill dir, UTC).

-- bronze.flights_raw: every landing file with the declared types, flight_date from the path, lineage
COPY (
  SELECT date, delay, distance, origin, destination,
         CAST(regexp_extract(filename, 'date=(\d{4}-\d{2}-\d{2})', 1) AS DATE) AS flight_date,
         filename AS _source, now() AS _ingested_at, 'handmade' AS _run_id
  FROM read_csv('landing/flights/date=*/*.csv', header = true, delim = ',', auto_detect = false, quote = '"', escape = '"',
                columns = {'date': 'TIMESTAMP', 'delay': 'INTEGER', 'distance': 'INTEGER', 'origin': 'VARCHAR', 'destination': 'VARCHAR'},
                filename = true)
) TO 'handmade/bronze/flights_raw' (FORMAT parquet, PARTITION_BY (flight_date));

-- bronze.airports
COPY (
  SELECT *, 'landing/airports/airports.csv' AS _source, now() AS _ingested_at, 'handmade' AS _run_id
  FROM read_csv('landing/airports/airports.csv', header = true, auto_detect = false,
                columns = {'iata': 'VARCHAR', 'name': 'VARCHAR', 'city': 'VARCHAR', 'state': 'VARCHAR', 'country': 'VARCHAR', 'latitude': 'DOUBLE', 'longitude': 'DOUBLE'})
) TO 'handmade/bronze/airports/airports.parquet' (FORMAT parquet);

-- silver.flights: conform, evaluate the three checks once, split kept and quarantined rows
CREATE TEMP TABLE silver_checked AS
WITH conformed AS (
  SELECT flight_date, date AS dep_time, CAST(hour(date) AS INTEGER) AS dep_hour, origin, destination,
         origin || '-' || destination AS route, delay AS delay_min, distance AS distance_mi, delay > 15 AS is_delayed
  FROM read_parquet('handmade/bronze/flights_raw/*/*.parquet', hive_partitioning = true, hive_types = {'flight_date': DATE})
)
SELECT *,
       (delay_min BETWEEN -120 AND 1440) IS NOT TRUE AS fail_delay_in_range,
       (origin IN (SELECT iata FROM 'handmade/bronze/airports/airports.parquet')
        AND destination IN (SELECT iata FROM 'handmade/bronze/airports/airports.parquet')) IS NOT TRUE AS fail_known_airports,
       (distance_mi > 0) IS NOT TRUE AS fail_positive_distance
FROM conformed;

COPY (
  SELECT * EXCLUDE (fail_delay_in_range, fail_known_airports, fail_positive_distance)
  FROM silver_checked
  WHERE NOT (fail_delay_in_range OR fail_known_airports OR fail_positive_distance)
) TO 'handmade/silver/flights' (FORMAT parquet, PARTITION_BY (flight_date));

COPY (
  SELECT * EXCLUDE (fail_delay_in_range, fail_known_airports, fail_positive_distance),
         concat_ws(',', CASE WHEN fail_delay_in_range THEN 'delay_in_range' END,
                        CASE WHEN fail_known_airports THEN 'known_airports' END,
                        CASE WHEN fail_positive_distance THEN 'positive_distance' END) AS _failed_expectations,
         now() AS _quarantined_at, 'handmade' AS _run_id
  FROM silver_checked
  WHERE fail_delay_in_range OR fail_known_airports OR fail_positive_distance
) TO 'handmade/silver/flights_quarantine' (FORMAT parquet, PARTITION_BY (flight_date));

DROP TABLE silver_checked;

CREATE TEMP VIEW silver_flights AS
SELECT * FROM read_parquet('handmade/silver/flights/*/*.parquet', hive_partitioning = true, hive_types = {'flight_date': DATE});

-- gold.airport_daily
COPY (
  SELECT flight_date, origin AS airport, count(*) AS departures, avg(delay_min) AS avg_delay_min,
         avg(CASE WHEN delay_min <= 15 THEN 1.0 ELSE 0.0 END) AS on_time_rate
  FROM silver_flights
  GROUP BY flight_date, origin
) TO 'handmade/gold/airport_daily' (FORMAT parquet, PARTITION_BY (flight_date));

-- gold.route_monthly
COPY (
  SELECT CAST(date_trunc('month', flight_date) AS DATE) AS month, origin, destination, count(*) AS flights,
         avg(delay_min) AS avg_delay_min, avg(distance_mi) AS avg_distance_mi
  FROM silver_flights
  GROUP BY 1, origin, destination
) TO 'handmade/gold/route_monthly' (FORMAT parquet, PARTITION_BY (month));

-- gold.top5_monthly
COPY (
  WITH routes AS (
    SELECT month, origin || '-' || destination AS subject, CAST(flights AS DOUBLE) AS value
    FROM read_parquet('handmade/gold/route_monthly/*/*.parquet', hive_partitioning = true, hive_types = {'month': DATE})
  ),
  airports AS (
    SELECT CAST(date_trunc('month', flight_date) AS DATE) AS month, airport AS subject,
           sum(avg_delay_min * departures) / sum(departures) AS value
    FROM read_parquet('handmade/gold/airport_daily/*/*.parquet', hive_partitioning = true, hive_types = {'flight_date': DATE})
    GROUP BY 1, airport
    HAVING sum(departures) >= 1000
  ),
  ranked AS (
    SELECT month, 'busiest_route' AS ranking, subject, value,
           row_number() OVER (PARTITION BY month ORDER BY value DESC, subject) AS rank
    FROM routes
    UNION ALL
    SELECT month, 'highest_avg_delay_airport' AS ranking, subject, value,
           row_number() OVER (PARTITION BY month ORDER BY value DESC, subject) AS rank
    FROM airports
  )
  SELECT month, ranking, CAST(rank AS INTEGER) AS rank, subject, round(value, 2) AS value
  FROM ranked
  WHERE rank <= 5
) TO 'handmade/gold/top5_monthly' (FORMAT parquet, PARTITION_BY (month));
