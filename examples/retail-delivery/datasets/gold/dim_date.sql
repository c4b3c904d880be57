-- Date dimension over the days with orders.
-- materialization: overwrite
SELECT CAST(strftime(d, '%Y%m%d') AS INTEGER) AS date_key, CAST(d AS DATE) AS date,
       year(d) AS year, quarter(d) AS quarter, month(d) AS month, monthname(d) AS month_name,
       day(d) AS day, isodow(d) AS iso_day_of_week, dayname(d) AS day_name, isodow(d) >= 6 AS is_weekend
FROM range((SELECT min(order_date) FROM bronze.orders), (SELECT max(order_date) FROM bronze.orders) + INTERVAL 1 DAY, INTERVAL 1 DAY) AS t(d)
