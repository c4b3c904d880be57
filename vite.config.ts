import { defineConfig } from 'vite';

/** The web UI of `ingot serve`: `ui/` built to `dist/ui`, served at `/` with relative asset paths. */
export default defineConfig({
  root: 'ui',
  base: './',
  build: {
    outDir: '../dist/ui',
    emptyOutDir: true,
    // vega + vega-lite are one lazily loaded chunk of about 0.9 MB
    chunkSizeWarningLimit: 2000,
  },
});
