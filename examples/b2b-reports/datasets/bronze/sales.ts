import { dataset, files } from 'ingot';

/** The month's order lines (sales), one partition per month. */
export default dataset({
  name: 'bronze.sales',
  source: files({ path: 'landing/sales/month={month}/*.csv', format: 'csv', columns: { sale_id: 'BIGINT', order_id: 'BIGINT', product_id: 'INTEGER', quantity: 'INTEGER', unit_price: 'DECIMAL(10,2)', amount: 'DECIMAL(12,2)' } }),
  materialization: 'replace partition',
  partitionBy: ['month'],
  grain: 'month',
});
