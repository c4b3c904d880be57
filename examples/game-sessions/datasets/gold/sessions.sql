-- description: one row per session, its start and end events merged as they arrive
-- materialization: apply changes
-- key: session_id
-- sequence_by: DL_UPDATE_TS
-- insert_only: DL_INSERT_TS
-- expect ends_after_start (warn): end_ts IS NULL OR start_ts IS NULL OR end_ts >= start_ts
--
-- Each run takes the sessions with an event in its data date and rebuilds their state from all
-- their events in raw.events (a start seen on an earlier date, an end arriving late), so the
-- latest run's row is the whole truth: it wins (sequence DL_UPDATE_TS, the merge time), and
-- DL_INSERT_TS keeps the time the session was first merged (insert_only).
SELECT
  max(country) FILTER (WHERE event = 'start') AS country,
  max(player_id) AS player_id,
  session_id,
  min(ts) FILTER (WHERE event = 'start') AS start_ts,
  max(ts) FILTER (WHERE event = 'end') AS end_ts,
  CASE WHEN bool_or(event = 'start') AND bool_or(event = 'end') THEN 'completed' ELSE 'started' END AS session_status,
  now() AS DL_INSERT_TS,
  now() AS DL_UPDATE_TS
FROM raw.events
WHERE session_id IN (SELECT session_id FROM raw.events WHERE data_date >= {{start}} AND data_date < {{end}})
GROUP BY session_id
