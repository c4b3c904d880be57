-- Transactions and volume in USD per vertical, year and month.
-- materialization: replace partition
-- partition_by: year, month
-- grain: month
SELECT block_month, year, month, vertical, count(*) AS transactions, sum(amount_usd) AS volume_usd
FROM silver.eth_transfers
WHERE block_month >= {{start}} AND block_month < {{end}}
GROUP BY ALL
