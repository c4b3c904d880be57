import { dataset, files } from 'ingot';

/** Customers; those with a company_id are B2B clients (reference data, reloaded only when the file changes). */
export default dataset({
  name: 'bronze.customers',
  source: files({ path: 'landing/customers.csv', format: 'csv', columns: { customer_id: 'VARCHAR', name: 'VARCHAR', email: 'VARCHAR', company_id: 'INTEGER', country: 'VARCHAR' } }),
  materialization: 'overwrite',
});
