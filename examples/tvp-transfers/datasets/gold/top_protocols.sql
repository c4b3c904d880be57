-- The top 5 protocols of each month by volume in USD (ranked_by = 'volume') and by transaction count (ranked_by = 'count').
-- materialization: replace partition
-- partition_by: year, month
-- grain: month
WITH m AS (SELECT * FROM gold.protocol_monthly WHERE block_month >= {{start}} AND block_month < {{end}})
SELECT block_month, year, month, 'volume' AS ranked_by, row_number() OVER (PARTITION BY block_month ORDER BY volume_usd DESC, protocol) AS rank,
       vertical, protocol, volume_usd, transactions
FROM m QUALIFY rank <= 5
UNION ALL
SELECT block_month, year, month, 'count' AS ranked_by, row_number() OVER (PARTITION BY block_month ORDER BY transactions DESC, volume_usd DESC, protocol) AS rank,
       vertical, protocol, volume_usd, transactions
FROM m QUALIFY rank <= 5
