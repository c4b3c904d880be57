import { dataset, files } from 'ingot';

/** The product catalogue (reference data, reloaded only when the file changes). */
export default dataset({
  name: 'bronze.products',
  source: files({ path: 'landing/products.csv', format: 'csv', columns: { product_id: 'INTEGER', name: 'VARCHAR', category: 'VARCHAR', price: 'DECIMAL(10,2)' } }),
  materialization: 'overwrite',
});
