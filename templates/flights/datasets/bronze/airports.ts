import { dataset, files } from 'ingot';

/** Airports by IATA code. */
export default dataset({
  name: 'bronze.airports',
  source: files({
    path: 'seeds/airports.csv',
    format: 'csv',
    columns: { iata: 'VARCHAR', name: 'VARCHAR', city: 'VARCHAR', state: 'VARCHAR' },
  }),
});
