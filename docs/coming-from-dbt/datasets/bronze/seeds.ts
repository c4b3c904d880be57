// datasets/bronze/seeds.ts
import { dataset, files } from 'ingot';

// a dbt seed is a files source: the CSV, typed by its columns, loaded again when it changes
const seed = (name: string, columns: Record<string, string>) =>
  dataset({ name: `bronze.${name}`, source: files({ path: `seeds/${name}.csv`, format: 'csv', columns }) });

export default [
  seed('raw_customers', { id: 'INTEGER', first_name: 'VARCHAR', last_name: 'VARCHAR', updated_at: 'TIMESTAMP' }),
  seed('raw_orders', { id: 'INTEGER', user_id: 'INTEGER', order_date: 'DATE', status: 'VARCHAR' }),
  seed('raw_payments', { id: 'INTEGER', order_id: 'INTEGER', payment_method: 'VARCHAR', amount: 'INTEGER' }),
];
