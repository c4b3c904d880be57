-- datasets/staging/customers.sql
-- materialization: apply changes
-- key: customer_id
-- sequence_by: updated_at
SELECT id AS customer_id, first_name, last_name, updated_at
FROM bronze.raw_customers
