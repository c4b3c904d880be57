import { dataset, files } from 'ingot';

/** The day's landing file as received, plus lineage columns. */
export default dataset({
  name: 'bronze.flights_raw',
  source: files({
    path: 'landing/flights/date={flight_date}/*.csv',
    format: 'csv',
    columns: { date: 'TIMESTAMP', delay: 'INTEGER', distance: 'INTEGER', origin: 'VARCHAR', destination: 'VARCHAR' },
  }),
  columns: {
    date: 'scheduled departure, local time',
    delay: 'departure delay, minutes (negative: early)',
    distance: 'route distance, miles',
    origin: 'origin airport, FAA code',
    destination: 'destination airport, FAA code',
    flight_date: 'departure day (from the landing folder date=...)',
  },
  materialization: 'replace partition',
  partitionBy: ['flight_date'],
});
