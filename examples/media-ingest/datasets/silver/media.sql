-- One row per media id, the first arrival kept: duplicates inside the day's files and ids
-- already loaded on earlier days are skipped (insert-only merge by id).
-- materialization: merge
-- key: id
-- order_by: source_file_name
SELECT * EXCLUDE (day, _ingested_at, _source, _run_id),
       _ingested_at AS created_at_etl,
       _source AS source_file_name
FROM bronze.media
WHERE day >= {{start}} AND day < {{end}}
