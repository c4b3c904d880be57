import { defineConfig } from 'ingot';

export default defineConfig({
  name: 'media-ingest',
  lake: './lake',
  datasets: './datasets',
});
