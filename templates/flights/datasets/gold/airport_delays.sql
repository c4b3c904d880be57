-- description: Departures and average delay per airport, with its name
SELECT
  a.iata,
  a.name,
  count(*)                   AS departures,
  round(avg(f.delay_min), 1) AS avg_delay_min
FROM silver.flights AS f
JOIN bronze.airports AS a ON a.iata = f.origin
GROUP BY a.iata, a.name
