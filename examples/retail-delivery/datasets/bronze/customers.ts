import { dataset, postgres } from 'ingot';

/** Customers created or changed since the last load (bookmark: updated_at): a change feed of the customers table. */
export default dataset({
  name: 'bronze.customers',
  source: postgres({ connection: 'env:RETAIL_DATABASE_URL', table: 'customers', cursor: 'updated_at' }),
  materialization: 'append',
});
