import { dataset, postgres } from 'ingot';

/** The branches, reloaded whole on each run (six rows). */
export default dataset({
  name: 'bronze.branches',
  source: postgres({ connection: 'env:RETAIL_DATABASE_URL', table: 'branches' }),
  materialization: 'overwrite',
});
