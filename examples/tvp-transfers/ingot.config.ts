import { defineConfig, pipeline } from 'ingot';

export default defineConfig({
  name: 'tvp-transfers',
  lake: './lake',
  datasets: './datasets',
  pipelines: [
    // at 01:00 UTC, once the query has the day before: that block_date through bronze, silver, gold and the top 5s
    pipeline({ name: 'tvp', schedule: '0 1 * * *', timezone: 'UTC', start: '2024-11-01', interval: 'daily', catchup: true, retries: 3, retryDelay: '5m' }),
  ],
});
