import { defineConfig, pipeline } from 'ingot';

export default defineConfig({
  name: 'retail-delivery',
  lake: './lake',
  datasets: './datasets',
  pipelines: [
    // every hour: new rows from the retail database by bookmark, then silver and gold
    pipeline({ name: 'retail', schedule: '5 * * * *', timezone: 'UTC', interval: 'daily', catchup: false, retries: 2, retryDelay: '30s' }),
  ],
});
