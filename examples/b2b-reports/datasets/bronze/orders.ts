import { dataset, files } from 'ingot';

/** The month's orders, one partition per month. */
export default dataset({
  name: 'bronze.orders',
  source: files({ path: 'landing/orders/month={month}/*.csv', format: 'csv', columns: { order_id: 'BIGINT', customer_id: 'VARCHAR', order_ts: 'TIMESTAMP', status: 'VARCHAR' } }),
  materialization: 'replace partition',
  partitionBy: ['month'],
  grain: 'month',
});
