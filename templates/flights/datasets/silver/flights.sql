-- description: One row per flight: typed, renamed and checked
-- expect: not_null(origin)
-- expect: relationships(destination, bronze.airports.iata) quarantine
-- expect delay_in_range (quarantine): delay_min BETWEEN -60 AND 1440
SELECT
  CAST(date AS DATE) AS flight_date,
  date               AS dep_time,
  delay              AS delay_min,
  distance           AS distance_mi,
  origin,
  destination
FROM bronze.flights_raw
