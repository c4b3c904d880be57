-- datasets/staging/payments.sql
-- expect: unique(payment_id)
-- expect: accepted_values(payment_method, 'credit_card', 'coupon', 'bank_transfer', 'gift_card') warn
-- expect: relationships(order_id, staging.orders.order_id)
SELECT id AS payment_id, order_id, payment_method, amount / 100 AS amount
FROM bronze.raw_payments
