import { dataset, postgres } from 'ingot';

/** New status rows (NEW, INTRANSIT, DELIVERED) since the last load (bookmark: history_id), partitioned by status date. */
export default dataset({
  name: 'bronze.ordershistory',
  source: postgres({
    connection: 'env:RETAIL_DATABASE_URL',
    query: "SELECT history_id, order_id, status, status_ts, (status_ts AT TIME ZONE 'UTC')::date AS status_date FROM ordershistory",
    cursor: 'history_id',
  }),
  materialization: 'append',
  partitionBy: ['status_date'],
});
