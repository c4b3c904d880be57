import { archive, dataset } from 'ingot';

/** Where the upstream publishes the zipped events (`serve.ts` serves it locally). */
const URL = process.env['GAME_SESSIONS_URL'] || 'http://127.0.0.1:8765/game-sessions.zip';

/**
 * The events as downloaded: the zip lands in `landing/bronze.session_events/<sha256>/` and its
 * JSON-lines members are loaded whole, with `data_date` from the member path. A run that
 * downloads the same archive again (same checksum) loads nothing and keeps the table.
 */
export default dataset({
  name: 'bronze.session_events',
  source: archive({
    url: URL,
    format: 'json',
    member: 'events/date={data_date}/*.jsonl',
    columns: { event: 'VARCHAR', ts: 'TIMESTAMPTZ', session_id: 'VARCHAR', player_id: 'VARCHAR', country: 'VARCHAR' },
  }),
  materialization: 'overwrite',
});
