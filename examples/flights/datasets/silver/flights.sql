-- description: Typed, conformed flights; rows failing a check go to silver.flights_quarantine
-- materialization: replace partition
-- partition_by: flight_date
-- expect delay_in_range (quarantine): delay_min BETWEEN -120 AND 1440
-- expect known_airports (quarantine): origin IN (SELECT iata FROM bronze.airports) AND destination IN (SELECT iata FROM bronze.airports)
-- expect positive_distance (quarantine): distance_mi > 0
SELECT
  flight_date,
  date AS dep_time,
  CAST(hour(date) AS INTEGER) AS dep_hour,
  origin,
  destination,
  origin || '-' || destination AS route,
  delay AS delay_min,
  distance AS distance_mi,
  delay > 15 AS is_delayed
FROM bronze.flights_raw
WHERE flight_date >= {{start}} AND flight_date < {{end}}
