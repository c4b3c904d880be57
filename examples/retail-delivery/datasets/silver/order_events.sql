-- Each order's status events joined with the order; INTRANSIT events dropped.
-- materialization: overwrite
-- expect known_order (fail): order_ts IS NOT NULL
SELECT h.history_id, h.order_id, o.customer_id, o.branch_id, o.order_ts, o.amount, o.items,
       h.status, h.status_ts
FROM bronze.ordershistory AS h
LEFT JOIN bronze.orders AS o USING (order_id)
WHERE h.status <> 'INTRANSIT'
