-- Orders and average delivery hours per branch (the dashboard's numbers).
-- materialization: overwrite
SELECT b.code AS branch, b.name AS branch_name, count(*) AS orders, count(d.delivered_at) AS delivered,
       round(avg(d.delivery_hours), 2) AS avg_delivery_hours
FROM gold.delivery_times AS d
JOIN bronze.branches AS b USING (branch_id)
GROUP BY ALL
