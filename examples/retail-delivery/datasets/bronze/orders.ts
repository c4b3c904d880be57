import { dataset, postgres } from 'ingot';

/** New purchases since the last load (bookmark: the greatest order_id in this table), partitioned by order date. */
export default dataset({
  name: 'bronze.orders',
  source: postgres({
    connection: 'env:RETAIL_DATABASE_URL',
    query: "SELECT order_id, customer_id, branch_id, order_ts, items, amount, channel, (order_ts AT TIME ZONE 'UTC')::date AS order_date FROM orders",
    cursor: 'order_id',
  }),
  materialization: 'append',
  partitionBy: ['order_date'],
});
