import { defineConfig, pipeline } from 'ingot';

/** The datasets of each source, bronze to gold. */
const MEDIA = ['bronze.media', 'silver.media', 'gold.outlet_daily'];
const TIKTOK = ['bronze.tiktokcomment', 'silver.tiktokcomment', 'gold.video_comments'];

export default defineConfig({
  name: 'media-ingest',
  lake: './lake',
  datasets: './datasets',
  // As the reference's DAGs, every pipeline is deployed paused: `ingot resume <name>` (or the UI) starts it.
  pipelines: [
    // one daily pipeline per source, at 01:00 UTC once the day is closed: a day that fails for one source does not hold the other back
    pipeline({ name: 'media', datasets: MEDIA, schedule: '0 1 * * *', timezone: 'UTC', start: '2024-08-01', interval: 'daily', retries: 2, retryDelay: '1m', paused: true }),
    pipeline({ name: 'tiktokcomment', datasets: TIKTOK, schedule: '0 1 * * *', timezone: 'UTC', start: '2024-08-01', interval: 'daily', retries: 2, retryDelay: '1m', paused: true }),
    // historical loads, a month per run (the reference's monthly DAG): every day of the month in one run
    pipeline({ name: 'media-monthly', datasets: MEDIA, schedule: '0 2 1 * *', timezone: 'UTC', start: '2024-08-01', interval: 'monthly', retries: 2, retryDelay: '1m', paused: true }),
  ],
});
