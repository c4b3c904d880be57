-- The flights pipeline written by hand in DuckDB SQL as a daily loop, the baseline of the backfill
-- in `npm run bench`: handmade.sql's transformations (same inputs, types, lineage columns, checks
-- and gold queries), run by bench/run.ts once per day in one process for the backfill's 182 days,
-- each day replacing its partitions with plain Parquet files (no Delta log, no run history, no
-- staging), as ingot's daily runs do:
--   bronze, silver and gold.airport_daily: the day's partition;
--   gold.route_monthly and gold.top5_monthly: the day's month, rebuilt from the month so far.
-- bronze.airports is loaded once, before the loop (ingot's plan skips it after the first day).
-- Placeholders, filled in by bench/run.ts: {day} (2001-01-31), {month} (2001-01-01), {month_glob} (2001-01-*).
-- Paths are relative to the working directory (the bench's scratch project); the day's and
-- month's folders exist beforehand.

-- bronze.flights_raw: the day's landing file with the declared types, lineage
COPY (
  SELECT date, delay, distance, origin, destination,
         filename AS _source, now() AS _ingested_at, 'handmade' AS _run_id
  FROM read_csv('landing/flights/date={day}/*.csv', header = true, delim = ',', auto_detect = false, quote = '"', escape = '"',
                columns = {'date': 'TIMESTAMP', 'delay': 'INTEGER', 'distance': 'INTEGER', 'origin': 'VARCHAR', 'destination': 'VARCHAR'},
                filename = true)
) TO 'handmade/bronze/flights_raw/flight_date={day}/data.parquet' (FORMAT parquet);

-- silver.flights: conform, evaluate the three checks once, split kept and quarantined rows
CREATE OR REPLACE TEMP TABLE silver_checked AS
WITH conformed AS (
  SELECT DATE '{day}' AS flight_date, date AS dep_time, CAST(hour(date) AS INTEGER) AS dep_hour, origin, destination,
         origin || '-' || destination AS route, delay AS delay_min, distance AS distance_mi, delay > 15 AS is_delayed
  FROM read_parquet('handmade/bronze/flights_raw/flight_date={day}/data.parquet')
)
SELECT *,
       (delay_min BETWEEN -120 AND 1440) IS NOT TRUE AS fail_delay_in_range,
       (origin IN (SELECT iata FROM 'handmade/bronze/airports/airports.parquet')
        AND destination IN (SELECT iata FROM 'handmade/bronze/airports/airports.parquet')) IS NOT TRUE AS fail_known_airports,
       (distance_mi > 0) IS NOT TRUE AS fail_positive_distance
FROM conformed;

COPY (
  SELECT * EXCLUDE (flight_date, fail_delay_in_range, fail_known_airports, fail_positive_distance)
  FROM silver_checked
  WHERE NOT (fail_delay_in_range OR fail_known_airports OR fail_positive_distance)
) TO 'handmade/silver/flights/flight_date={day}/data.parquet' (FORMAT parquet);

COPY (
  SELECT * EXCLUDE (flight_date, fail_delay_in_range, fail_known_airports, fail_positive_distance),
         concat_ws(',', CASE WHEN fail_delay_in_range THEN 'delay_in_range' END,
                        CASE WHEN fail_known_airports THEN 'known_airports' END,
                        CASE WHEN fail_positive_distance THEN 'positive_distance' END) AS _failed_expectations,
         now() AS _quarantined_at, 'handmade' AS _run_id
  FROM silver_checked
  WHERE fail_delay_in_range OR fail_known_airports OR fail_positive_distance
) TO 'handmade/silver/flights_quarantine/flight_date={day}/data.parquet' (FORMAT parquet);

DROP TABLE silver_checked;

-- gold.airport_daily: the day
COPY (
  SELECT origin AS airport, count(*) AS departures, avg(delay_min) AS avg_delay_min,
         avg(CASE WHEN delay_min <= 15 THEN 1.0 ELSE 0.0 END) AS on_time_rate
  FROM read_parquet('handmade/silver/flights/flight_date={day}/data.parquet')
  GROUP BY origin
) TO 'handmade/gold/airport_daily/flight_date={day}/data.parquet' (FORMAT parquet);

-- gold.route_monthly: the month so far
COPY (
  SELECT origin, destination, count(*) AS flights, avg(delay_min) AS avg_delay_min, avg(distance_mi) AS avg_distance_mi
  FROM read_parquet('handmade/silver/flights/flight_date={month_glob}/*.parquet')
  GROUP BY origin, destination
) TO 'handmade/gold/route_monthly/month={month}/data.parquet' (FORMAT parquet);

-- gold.top5_monthly: the month so far
COPY (
  WITH routes AS (
    SELECT origin || '-' || destination AS subject, CAST(flights AS DOUBLE) AS value
    FROM read_parquet('handmade/gold/route_monthly/month={month}/data.parquet')
  ),
  airports AS (
    SELECT airport AS subject, sum(avg_delay_min * departures) / sum(departures) AS value
    FROM read_parquet('handmade/gold/airport_daily/flight_date={month_glob}/*.parquet')
    GROUP BY airport
    HAVING sum(departures) >= 1000
  ),
  ranked AS (
    SELECT 'busiest_route' AS ranking, subject, value, row_number() OVER (ORDER BY value DESC, subject) AS rank
    FROM routes
    UNION ALL
    SELECT 'highest_avg_delay_airport' AS ranking, subject, value, row_number() OVER (ORDER BY value DESC, subject) AS rank
    FROM airports
  )
  SELECT ranking, CAST(rank AS INTEGER) AS rank, subject, round(value, 2) AS value
  FROM ranked
  WHERE rank <= 5
) TO 'handmade/gold/top5_monthly/month={month}/data.parquet' (FORMAT parquet);
