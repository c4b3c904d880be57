-- description: Flights, average delay and distance per route and month
-- materialization: replace partition
-- partition_by: month
-- grain: month
-- column month: first day of the month
-- column flights: departures on the route in the month
-- column avg_delay_min: average departure delay, minutes
-- column avg_distance_mi: average route distance, miles
SELECT
  CAST(date_trunc('month', flight_date) AS DATE) AS month,
  origin,
  destination,
  count(*) AS flights,
  avg(delay_min) AS avg_delay_min,
  avg(distance_mi) AS avg_distance_mi
FROM silver.flights
WHERE flight_date >= {{start}} AND flight_date < {{end}}
GROUP BY 1, origin, destination
