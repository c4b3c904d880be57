-- Customer versions (SCD type 2): a new version whenever name, email, city, address or segment changes.
-- materialization: apply changes
-- key: customer_id
-- sequence_by: updated_at
-- scd_type: 2
-- except_columns: _ingested_at, _source, _run_id
SELECT customer_id, name, email, city, address, segment, created_at, updated_at,
       _ingested_at, _source, _run_id
FROM bronze.customers
