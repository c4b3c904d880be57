import { dataset, files } from 'ingot';

/** The day's landing file as received, plus lineage columns. */
export default dataset({
  name: 'bronze.flights_raw',
  source: files({
    path: 'landing/flights/date={flight_date}/*.csv',
    format: 'csv',
    columns: { date: 'TIMESTAMP', delay: 'INTEGER', distance: 'INTEGER', origin: 'VARCHAR', destination: 'VARCHAR' },
  }),
  materialization: 'replace partition',
  partitionBy: ['flight_date'],
});
