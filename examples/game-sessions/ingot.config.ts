import { dashboard, defineConfig, endpoint, pipeline } from 'ingot';

/** A session as the endpoints return it: `ts` is the end (completed) or the start (started). */
const ITEM = 'player_id, session_id, country';

/**
 * The "now" that `/models/started_sessions/{country}/{hours}` measures back from, as an ISO 8601
 * UTC timestamp: `GAME_SESSIONS_NOW` (e.g. `2016-01-12T06:00:00Z`), or 2016-11-06 00:00 UTC, the
 * moment the reference system fixes for its demo. Throws naming the variable when it is not such a timestamp.
 */
export function sessionsNow(env: Record<string, string | undefined> = process.env): string {
  const value = env['GAME_SESSIONS_NOW'] ?? '2016-11-06T00:00:00Z';
  if (!/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?Z$/.test(value) || Number.isNaN(Date.parse(value))) {
    throw new Error(`GAME_SESSIONS_NOW: "${value}" is not a UTC timestamp such as 2016-11-06T00:00:00Z`);
  }
  return new Date(value).toISOString();
}
const NOW = `TIMESTAMPTZ '${sessionsNow()}'`;

/** The reference system's endpoints: completed sessions of a player, sessions started in a country within hours before now. */
export const endpoints = [
  endpoint({
    path: '/models/completed-sessions/:player_id',
    description: "The player's completed sessions, latest end first; ts is the session's end.",
    params: { player_id: { type: 'string', maxLength: 64, description: 'player uuid, e.g. 2240e69684c95f0f9cbfa59dac8fe871' } },
    sql: `SELECT ${ITEM}, end_ts AS ts FROM gold.sessions
          WHERE player_id = $player_id AND session_status = 'completed'
          ORDER BY end_ts DESC, session_id`,
  }),
  endpoint({
    path: '/models/started_sessions/:country/:hours',
    description: `Sessions started in the country within \`hours\` before now (${sessionsNow()}, GAME_SESSIONS_NOW), latest first; ts is the start.`,
    params: {
      country: { type: 'string', pattern: '^[A-Z]{2}$', description: 'ISO 3166 alpha-2 code, e.g. IT' },
      hours: { type: 'integer', minimum: 1, maximum: 24, description: 'hours back from now (1 to 24)' },
    },
    sql: `SELECT ${ITEM}, start_ts AS ts FROM gold.sessions
          WHERE country = $country AND start_ts >= ${NOW} - to_hours($hours) AND start_ts <= ${NOW}
          ORDER BY start_ts DESC, session_id`,
  }),
];

/** The reference system's insight queries as a dashboard. */
export const dashboards = [
  dashboard({
    name: 'sessions',
    title: 'Game sessions: insights',
    panels: [
      { title: 'Sessions in total', type: 'table', sql: 'SELECT count(*) AS sessions FROM gold.sessions' },
      {
        title: 'Completed sessions per country (top 10)', type: 'table',
        sql: "SELECT country, count(*) AS completed FROM gold.sessions WHERE session_status = 'completed' GROUP BY country ORDER BY completed DESC, country LIMIT 10",
      },
      {
        title: 'Completed sessions per player (top 10)', type: 'table',
        sql: "SELECT player_id, count(*) AS completed FROM gold.sessions WHERE session_status = 'completed' GROUP BY player_id ORDER BY completed DESC, player_id LIMIT 10",
      },
      {
        title: 'Country with the most sessions started in 2016', type: 'table',
        sql: "SELECT country, count(*) AS started FROM gold.sessions WHERE start_ts >= TIMESTAMPTZ '2016-01-01 00:00:00+00' AND start_ts < TIMESTAMPTZ '2017-01-01 00:00:00+00' GROUP BY country ORDER BY started DESC, country LIMIT 1",
      },
      {
        title: 'Player sessions completed per country (top 10)', type: 'bar', x: 'country', y: 'completed',
        sql: "SELECT country, count(*) AS completed FROM gold.sessions WHERE session_status = 'completed' GROUP BY country ORDER BY completed DESC, country LIMIT 10",
      },
    ],
  }),
];

/** The batch project: one run per data date (`ingot backfill sessions`); the continuous one (`continuous/`) publishes the same endpoints and dashboard. */
export default defineConfig({
  name: 'game-sessions',
  lake: './lake',
  datasets: './datasets',
  pipelines: [
    // no schedule: the data covers 2016; `ingot backfill sessions --from 2016-01-01 --to 2016-12-31` loads it, oldest date first
    pipeline({ name: 'sessions', start: '2016-01-01', interval: 'daily', maxActiveRuns: 1 }),
  ],
  endpoints,
  dashboards,
});
