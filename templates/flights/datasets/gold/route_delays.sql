-- description: Flights and average departure delay per route
SELECT
  origin,
  destination,
  count(*)                   AS flights,
  round(avg(delay_min), 1)   AS avg_delay_min
FROM silver.flights
GROUP BY origin, destination
