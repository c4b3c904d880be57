import { dashboard, defineConfig, pipeline } from 'ingot';

export default defineConfig({
  name: 'retail-delivery',
  lake: './lake',
  datasets: './datasets',
  pipelines: [
    // at 5 past every hour, the hour before: new rows from the retail database by bookmark, then silver and gold
    pipeline({ name: 'retail', schedule: '5 * * * *', timezone: 'UTC', interval: 'hourly', catchup: false, retries: 2, retryDelay: '30s' }),
  ],
  dashboards: [
    dashboard({
      name: 'branches',
      title: 'Orders and delivery per branch',
      panels: [
        { title: 'Orders per branch', type: 'bar', x: 'branch', y: 'orders', sql: 'SELECT branch_name AS branch, orders FROM gold.branch_delivery ORDER BY orders DESC, branch' },
        {
          title: 'Average delivery hours per branch',
          type: 'bar',
          x: 'branch',
          y: 'avg_delivery_hours',
          sql: 'SELECT branch_name AS branch, avg_delivery_hours FROM gold.branch_delivery ORDER BY avg_delivery_hours, branch',
        },
        {
          title: 'Orders per day and branch',
          type: 'line',
          x: 'day',
          y: 'orders',
          color: 'branch',
          sql: `SELECT d.date AS day, b.name AS branch, count(*) AS orders
                FROM gold.fact_orders AS f JOIN gold.dim_branch AS b USING (branch_sk) JOIN gold.dim_date AS d USING (date_key)
                GROUP BY ALL ORDER BY day, branch`,
        },
        { title: 'Branches', type: 'table', sql: 'SELECT branch, branch_name, orders, delivered, avg_delivery_hours FROM gold.branch_delivery ORDER BY branch' },
      ],
    }),
  ],
});
