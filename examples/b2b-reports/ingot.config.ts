import { defineConfig, pipeline } from 'ingot';

const monthly = { schedule: '0 1 1 * *', timezone: 'UTC', start: '2023-07-01', interval: 'monthly', retries: 2, retryDelay: '30s' } as const;
/** A report waits up to 2 hours for the month of each upstream dataset to be complete. */
const upstream = (...datasets: string[]): { dataset: string; timeout: string }[] => datasets.map((dataset) => ({ dataset, timeout: '2h' }));

export default defineConfig({
  name: 'b2b-reports',
  lake: './lake',
  datasets: './datasets',
  pipelines: [
    // ingestion, on the 1st at 01:00 UTC for the month that just closed
    pipeline({ name: 'b2b', ...monthly, datasets: ['bronze.companies', 'bronze.customers', 'bronze.products', 'bronze.inventory', 'bronze.orders', 'bronze.sales', 'silver.customers', 'silver.sales'] }),
    pipeline({ name: 'weblog', ...monthly, datasets: ['bronze.weblogs', 'silver.weblogs'] }),
    // reports, each waiting for the same month of the ingestion datasets it reads
    pipeline({ name: 'monthly-sales', ...monthly, schedule: '0 2 1 * *', datasets: ['gold.monthly_sales'], dependsOn: upstream('silver.sales') }),
    pipeline({ name: 'popular-devices', ...monthly, schedule: '0 2 1 * *', datasets: ['gold.popular_devices'], dependsOn: upstream('silver.weblogs', 'silver.customers') }),
    pipeline({ name: 'popular-products', ...monthly, schedule: '0 2 1 * *', datasets: ['gold.popular_products'], dependsOn: upstream('silver.weblogs', 'silver.sales', 'silver.customers') }),
  ],
});
