-- description: Per month, the 5 busiest routes and the 5 airports with the highest average delay (>= 1,000 departures)
-- materialization: replace partition
-- partition_by: month
-- grain: month
-- column ranking: busiest_route or highest_avg_delay_airport
-- column rank: 1-5 within the month and ranking
-- column subject: a route (origin-destination) or an airport code
-- column value: flights of the route, or the airport's average delay in minutes
WITH routes AS (
  SELECT month, origin || '-' || destination AS subject, CAST(flights AS DOUBLE) AS value
  FROM gold.route_monthly
  WHERE month >= {{start}} AND month < {{end}}
),
airports AS (
  SELECT CAST(date_trunc('month', flight_date) AS DATE) AS month, airport AS subject,
         sum(avg_delay_min * departures) / sum(departures) AS value
  FROM gold.airport_daily
  WHERE flight_date >= {{start}} AND flight_date < {{end}}
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
