import { dataset, files } from 'ingot';

/** Client companies of the B2B platform (reference data, reloaded only when the file changes). */
export default dataset({
  name: 'bronze.companies',
  source: files({ path: 'landing/companies.csv', format: 'csv', columns: { company_id: 'INTEGER', name: 'VARCHAR', country: 'VARCHAR', industry: 'VARCHAR' } }),
  materialization: 'overwrite',
});
