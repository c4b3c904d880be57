import { dataset, files } from 'ingot';

/** US airports (FAA codes), overwritten on each run. */
export default dataset({
  name: 'bronze.airports',
  source: files({
    path: 'landing/airports/airports.csv',
    format: 'csv',
    columns: { iata: 'VARCHAR', name: 'VARCHAR', city: 'VARCHAR', state: 'VARCHAR', country: 'VARCHAR', latitude: 'DOUBLE', longitude: 'DOUBLE' },
  }),
  columns: { iata: 'FAA airport code', name: 'airport name' },
  materialization: 'overwrite',
});
