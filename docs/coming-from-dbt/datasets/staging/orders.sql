-- datasets/staging/orders.sql
-- expect: unique(order_id)
-- expect: not_null(customer_id)
-- expect: accepted_values(status, 'placed', 'shipped', 'completed', 'return_pending', 'returned')
SELECT id AS order_id, user_id AS customer_id, order_date, status
FROM bronze.raw_orders
