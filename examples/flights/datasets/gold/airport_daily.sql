-- description: Departures, average delay and on-time rate per origin airport and day
-- materialization: replace partition
-- partition_by: flight_date
-- column airport: origin airport, FAA code
-- column departures: departures from the airport that day
-- column avg_delay_min: average departure delay, minutes
-- column on_time_rate: share of departures at most 15 minutes late, 0-1
SELECT
  flight_date,
  origin AS airport,
  count(*) AS departures,
  avg(delay_min) AS avg_delay_min,
  avg(CASE WHEN delay_min <= 15 THEN 1 ELSE 0 END) AS on_time_rate
FROM silver.flights
WHERE flight_date >= {{start}} AND flight_date < {{end}}
GROUP BY flight_date, origin
