import { dashboard, defineConfig } from 'ingot';

export default defineConfig({
  name: 'flights',
  lake: './lake',
  datasets: './datasets',
  engine: { memoryLimit: '1GB', spillDirectory: './.ingot/spill' },
  dashboards: [
    dashboard({
      name: 'delays',
      title: 'Flight delays',
      panels: [
        {
          title: 'Average delay by airport (the 15 busiest, minutes)',
          type: 'bar',
          x: 'airport',
          y: 'avg_delay_min',
          sql: `WITH busiest AS (
                  SELECT airport, sum(departures) AS departures, sum(avg_delay_min * departures) / sum(departures) AS avg_delay_min
                  FROM gold.airport_daily GROUP BY airport ORDER BY departures DESC, airport LIMIT 15)
                SELECT airport, round(avg_delay_min, 2) AS avg_delay_min, departures FROM busiest ORDER BY avg_delay_min DESC, airport`,
        },
        {
          title: 'Busiest routes (flights)',
          type: 'bar',
          x: 'route',
          y: 'flights',
          sql: `SELECT origin || '-' || destination AS route, sum(flights) AS flights, round(sum(avg_delay_min * flights) / sum(flights), 2) AS avg_delay_min
                FROM gold.route_monthly GROUP BY origin, destination ORDER BY flights DESC, route LIMIT 10`,
        },
        {
          title: 'Average delay by hour of day (minutes)',
          type: 'line',
          x: 'dep_hour',
          y: 'avg_delay_min',
          sql: 'SELECT dep_hour, round(avg(delay_min), 2) AS avg_delay_min, count(*) AS flights FROM silver.flights GROUP BY dep_hour ORDER BY dep_hour',
        },
        {
          title: 'Airports: departures, delay and on-time rate',
          type: 'table',
          sql: `SELECT d.airport, a.name, a.city, a.state, sum(d.departures) AS departures,
                       round(sum(d.avg_delay_min * d.departures) / sum(d.departures), 2) AS avg_delay_min,
                       round(sum(d.on_time_rate * d.departures) / sum(d.departures), 3) AS on_time_rate
                FROM gold.airport_daily AS d LEFT JOIN bronze.airports AS a ON a.iata = d.airport
                GROUP BY ALL ORDER BY departures DESC, d.airport LIMIT 25`,
        },
      ],
    }),
  ],
});
