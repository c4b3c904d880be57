import { defineConfig } from 'ingot';

export default defineConfig({
  name: 'flights',
  lake: './lake',
  datasets: './datasets',
  engine: { memoryLimit: '1GB', spillDirectory: './.ingot/spill' },
});
