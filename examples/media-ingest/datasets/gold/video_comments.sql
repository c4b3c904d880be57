-- Comments, distinct commenters and likes per TikTok video.
-- materialization: overwrite
SELECT video_id, count(*) AS comments, count(DISTINCT user_id) AS commenters, sum(digg_count) AS likes
FROM silver.tiktokcomment
GROUP BY ALL
