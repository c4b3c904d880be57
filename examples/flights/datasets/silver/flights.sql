-- description: Typed, conformed flights; rows failing a check go to silver.flights_quarantine
-- materialization: replace partition
-- partition_by: flight_date
-- column flight_date: departure day
-- column dep_time: scheduled departure, local time
-- column dep_hour: hour of the scheduled departure, 0-23
-- column origin: origin airport, FAA code
-- column destination: destination airport, FAA code
-- column route: origin-destination, e.g. ORD-LGA
-- column delay_min: departure delay, minutes (negative: early)
-- column distance_mi: route distance, miles
-- column is_delayed: departed more than 15 minutes late
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
