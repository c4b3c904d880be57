-- Order facts at order grain, keyed to the dimensions: the customer version valid when the
-- order was placed, the branch, the order date.
-- materialization: overwrite
-- expect customer_version_found (fail): customer_sk IS NOT NULL
SELECT o.order_id, CAST(strftime(o.order_ts, '%Y%m%d') AS INTEGER) AS date_key, b.branch_sk, c.customer_sk,
       o.channel, o.items, o.amount, d.delivery_hours, d.delivered_at IS NOT NULL AS delivered
FROM bronze.orders AS o
JOIN gold.dim_branch AS b USING (branch_id)
LEFT JOIN gold.dim_customer AS c ON c.customer_id = o.customer_id AND o.order_ts >= c.valid_from AND (c.valid_to IS NULL OR o.order_ts < c.valid_to)
LEFT JOIN gold.delivery_times AS d USING (order_id)
