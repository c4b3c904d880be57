-- One row per order: when it was placed, when it was delivered, and the hours in between
-- (NULL while not delivered).
-- materialization: overwrite
SELECT order_id, any_value(branch_id) AS branch_id, any_value(customer_id) AS customer_id,
       max(status_ts) FILTER (WHERE status = 'NEW') AS ordered_at,
       max(status_ts) FILTER (WHERE status = 'DELIVERED') AS delivered_at,
       epoch(delivered_at - ordered_at) / 3600 AS delivery_hours
FROM silver.order_events
GROUP BY order_id
