import { defineConfig, pipeline } from 'ingot';
import { dashboards, endpoints } from '../ingot.config.js';

/**
 * The continuous game-sessions project: event files landing in `landing/events/` (`../stream.ts`
 * drops them) start a run as soon as they arrive; `raw.events` appends them, `gold.sessions`
 * applies the sessions of raw.events's new rows. The endpoints and dashboard are the batch
 * project's.
 */
export default defineConfig({
  name: 'game-sessions-continuous',
  lake: './lake',
  datasets: './datasets',
  pipelines: [
    // file-system events start a run at once; the listing every second is the fallback
    pipeline({ name: 'sessions-stream', trigger: { files: 'landing/events/**/*.jsonl', poll: '1s' } }),
  ],
  endpoints,
  dashboards,
});
