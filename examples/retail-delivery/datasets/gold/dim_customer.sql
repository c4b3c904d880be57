-- Customer dimension, SCD type 2: one row per version, valid in [valid_from, valid_to). The first
-- version ingot saw is valid from the customer's creation. customer_sk is a surrogate key per
-- version (md5 of customer_id and the version's start, stable across loads).
-- materialization: overwrite
SELECT md5('customer|' || customer_id || '|' || CAST(valid_from AS VARCHAR)) AS customer_sk,
       customer_id, name, email, city, address, segment,
       CASE WHEN valid_from = min(valid_from) OVER (PARTITION BY customer_id) THEN least(created_at, valid_from) ELSE valid_from END AS valid_from,
       valid_to, is_current
FROM silver.customers_history
