-- Orders and average delivery hours per branch (the dashboard's numbers), also kept as a CSV
-- report, replaced after every run, as the reference's gold folder keeps it.
-- materialization: overwrite
-- export_file: reports/gold/branch_delivery.csv
SELECT b.code AS branch, b.name AS branch_name, count(*) AS orders, count(d.delivered_at) AS delivered,
       round(avg(d.delivery_hours), 2) AS avg_delivery_hours
FROM gold.delivery_times AS d
JOIN bronze.branches AS b USING (branch_id)
GROUP BY ALL
