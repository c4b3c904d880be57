-- The 10 products most sold (units, cancelled orders excluded) to customers of the country from
-- which most users signed in (POST /login answered 200, by the client address), over the 12 months up to the report month.
-- materialization: replace partition
-- partition_by: report_month
-- grain: month
-- export_file: reports/popular_products/date={logical_date}/report.csv
-- export_postgres: env:DATAMART_URL datamart.popular_products
WITH logins AS (
  SELECT country, count(DISTINCT customer_id) AS users
  FROM silver.weblogs
  WHERE method = 'POST' AND path = '/login' AND status = 200 AND customer_id IS NOT NULL AND country IS NOT NULL
    AND month >= CAST({{end}} - INTERVAL 12 MONTH AS DATE) AND month < {{end}}
  GROUP BY country
), top AS (
  SELECT country, users FROM logins ORDER BY users DESC, country LIMIT 1
)
SELECT {{logical_date}} AS report_month, row_number() OVER (ORDER BY sum(s.quantity) DESC, s.product_id) AS rank,
       top.country, top.users AS login_users, s.product_id, p.name AS product, sum(s.quantity) AS units, count(DISTINCT s.order_id) AS orders
FROM silver.sales AS s
JOIN silver.customers AS c USING (customer_id)
JOIN top ON c.country = top.country
JOIN bronze.products AS p USING (product_id)
WHERE s.status <> 'cancelled' AND s.month >= CAST({{end}} - INTERVAL 12 MONTH AS DATE) AND s.month < {{end}}
GROUP BY top.country, top.users, s.product_id, p.name
ORDER BY rank
LIMIT 10
