-- Order lines with their order (customer, time, status), one partition per month.
-- materialization: replace partition
-- partition_by: month
-- grain: month
-- expect known_order (fail): order_ts IS NOT NULL
SELECT s.month, s.sale_id, s.order_id, o.customer_id, o.order_ts, o.status, s.product_id, s.quantity, s.unit_price, s.amount
FROM bronze.sales AS s
LEFT JOIN bronze.orders AS o ON o.order_id = s.order_id AND o.month = s.month
WHERE s.month >= {{start}} AND s.month < {{end}}
