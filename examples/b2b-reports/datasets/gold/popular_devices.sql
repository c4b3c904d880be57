-- The 5 devices B2B clients (customers of a company) sent the most requests from, over the 12 months up to the report month.
-- materialization: replace partition
-- partition_by: report_month
-- grain: month
-- export_file: reports/popular_devices/date={logical_date}/report.csv
-- export_postgres: env:DATAMART_URL datamart.popular_devices
SELECT {{logical_date}} AS report_month, row_number() OVER (ORDER BY count(*) DESC, w.device) AS rank,
       w.device, count(*) AS requests, count(DISTINCT w.customer_id) AS clients
FROM silver.weblogs AS w
JOIN silver.customers AS c ON c.customer_id = w.customer_id AND c.is_b2b
WHERE w.month >= CAST({{end}} - INTERVAL 12 MONTH AS DATE) AND w.month < {{end}}
GROUP BY w.device
ORDER BY rank
LIMIT 5
