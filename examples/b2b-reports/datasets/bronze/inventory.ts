import { dataset, files } from 'ingot';

/** Stock per product and warehouse (reference data, reloaded only when the file changes). */
export default dataset({
  name: 'bronze.inventory',
  source: files({ path: 'landing/inventory.csv', format: 'csv', columns: { product_id: 'INTEGER', warehouse: 'VARCHAR', quantity: 'INTEGER' } }),
  materialization: 'overwrite',
});
