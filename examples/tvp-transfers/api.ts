/** Where the query-results API is: `TVP_API_URL` (default the local `serve.ts`; https://api.dune.com for Dune itself). */
export const API_URL = process.env['TVP_API_URL'] ?? 'http://127.0.0.1:8547';
/** The saved query returning one block date's transfers (`TVP_QUERY_ID`, default the local server's). */
export const QUERY_ID = Number(process.env['TVP_QUERY_ID'] ?? 4_302_123);
