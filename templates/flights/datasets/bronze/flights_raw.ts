import { dataset, files } from 'ingot';

/** Flights as received: the seed file's rows, plus the lineage columns _ingested_at, _source, _run_id. */
export default dataset({
  name: 'bronze.flights_raw',
  source: files({
    path: 'seeds/flights.csv',
    format: 'csv',
    columns: { date: 'TIMESTAMP', delay: 'INTEGER', distance: 'INTEGER', origin: 'VARCHAR', destination: 'VARCHAR' },
  }),
  // no materialization: 'overwrite', each run that finds the file changed replaces the table
});
