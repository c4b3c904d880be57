-- Orders placed and orders delivered per branch in one hour, the hourly run's own ({{start}} to
-- {{end}}): one row per branch and hour, zeros included; avg_delivery_hours over the hour's deliveries.
-- materialization: replace partition
-- partition_by: hour
-- grain: hour
WITH placed AS (
  SELECT branch_id, count(*) AS placed FROM gold.delivery_times
  WHERE ordered_at >= {{start}} AND ordered_at < {{end}} GROUP BY branch_id
), delivered AS (
  SELECT branch_id, count(*) AS delivered, avg(delivery_hours) AS hours FROM gold.delivery_times
  WHERE delivered_at >= {{start}} AND delivered_at < {{end}} GROUP BY branch_id
)
SELECT CAST({{start}} AS TIMESTAMP) AS hour, b.code AS branch, coalesce(p.placed, 0) AS placed,
       coalesce(d.delivered, 0) AS delivered, round(d.hours, 2) AS avg_delivery_hours
FROM bronze.branches AS b
LEFT JOIN placed AS p USING (branch_id)
LEFT JOIN delivered AS d USING (branch_id)
