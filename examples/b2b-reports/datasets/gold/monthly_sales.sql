-- Sales of the B2B platform per month over the 12 months up to the report month (cancelled orders excluded).
-- materialization: replace partition
-- partition_by: report_month
-- grain: month
-- export_file: reports/monthly_sales/date={logical_date}/report.csv
-- export_postgres: env:DATAMART_URL datamart.monthly_sales
SELECT {{logical_date}} AS report_month, month, count(DISTINCT order_id) AS orders, sum(quantity) AS units, sum(amount) AS revenue
FROM silver.sales
WHERE status <> 'cancelled' AND month >= CAST({{end}} - INTERVAL 12 MONTH AS DATE) AND month < {{end}}
GROUP BY month
ORDER BY month
