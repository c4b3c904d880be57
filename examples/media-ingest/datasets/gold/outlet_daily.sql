-- Media items, views and shares per outlet and publication day (from the de-duplicated items).
-- materialization: overwrite
SELECT outlet, CAST(published_at AS DATE) AS published_day, count(*) AS items,
       sum(metrics.views) AS views, sum(metrics.shares) AS shares
FROM silver.media
GROUP BY ALL
