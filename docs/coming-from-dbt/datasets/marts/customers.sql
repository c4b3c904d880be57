-- datasets/marts/customers.sql
-- description: One row per customer: first and last order, orders, lifetime value
-- expect: unique(customer_id)
SELECT
  c.customer_id, c.first_name, c.last_name,
  min(o.order_date)   AS first_order,
  max(o.order_date)   AS most_recent_order,
  count(o.order_id)   AS number_of_orders,
  sum(o.amount)       AS customer_lifetime_value
FROM staging.customers AS c
LEFT JOIN marts.orders AS o ON o.customer_id = c.customer_id
GROUP BY c.customer_id, c.first_name, c.last_name
