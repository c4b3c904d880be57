-- One row per comment id, the first arrival kept (insert-only merge by id).
-- materialization: merge
-- key: id
-- order_by: source_file_name
-- expect known_video (fail): video_id IS NOT NULL
SELECT id, video_id, text, "user".id AS user_id, "user".nickname AS user_nickname,
       to_timestamp(create_time) AS created_at, digg_count, reply_count,
       _ingested_at AS created_at_etl,
       _source AS source_file_name
FROM bronze.tiktokcomment
WHERE day >= {{start}} AND day < {{end}}
