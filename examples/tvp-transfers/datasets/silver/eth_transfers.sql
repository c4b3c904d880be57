-- Typed transfers of the month so far, laid out by year= and month= (as the reference), rebuilt from bronze each day.
-- Rows with no or a negative amount, an unknown vertical or a malformed hash go to silver.eth_transfers_quarantine.
-- materialization: replace partition
-- partition_by: year, month
-- grain: month
-- expect amount_present (quarantine): amount_usd IS NOT NULL
-- expect amount_not_negative (quarantine): amount_usd >= 0
-- expect known_vertical (quarantine): vertical IN ('DEX', 'Lending', 'Bridge', 'Staking', 'NFT Marketplace', 'Derivatives', 'Payments', 'Yield')
-- expect valid_tx_hash (quarantine): regexp_full_match(tx_hash, '0x[0-9a-f]{64}')
SELECT CAST(date_trunc('month', block_date) AS DATE) AS block_month,
       CAST(year(block_date) AS INTEGER) AS year, CAST(month(block_date) AS INTEGER) AS month,
       block_date, CAST(replace(block_time, ' UTC', '') AS TIMESTAMP) AS block_time,
       vertical, protocol, amount_usd, tx_hash, from_address, to_address
FROM bronze.eth_transfers
WHERE block_date >= {{start}} AND block_date < {{end}}
