-- description: the session events of each data date, one micro-batch (partition) per run
-- materialization: replace partition
-- partition_by: data_date
-- expect known_event (fail): event IN ('start', 'end')
-- expect has_ids (fail): session_id IS NOT NULL AND player_id IS NOT NULL AND ts IS NOT NULL
SELECT data_date, event, ts, session_id, player_id, country, _source
FROM bronze.session_events
WHERE data_date >= {{start}} AND data_date < {{end}}
