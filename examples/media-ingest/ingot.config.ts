import { defineConfig, pipeline } from 'ingot';

export default defineConfig({
  name: 'media-ingest',
  lake: './lake',
  datasets: './datasets',
  pipelines: [
    // the day's files, loaded at 01:00 UTC once the day is closed; `ingot backfill media --from --to` loads a range (the monthly DAG)
    pipeline({ name: 'media', schedule: '0 1 * * *', timezone: 'UTC', start: '2024-08-01', interval: 'daily', retries: 2, retryDelay: '1m' }),
  ],
});
