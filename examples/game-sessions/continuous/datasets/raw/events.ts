import { dataset, files, notNull, acceptedValues } from 'ingot';

/**
 * The session events as they land, one micro-batch per run: every file that arrived since the
 * last run, appended with `data_date` from its folder (`date=YYYY-MM-DD`) and `_source` (the
 * file). The committed file list makes each file count once, whatever crashes; a file that
 * cannot be read is rejected with its error and the others load.
 */
export default dataset({
  name: 'raw.events',
  description: 'the session events of each landed file, as delivered (repeats included)',
  source: files({
    path: 'landing/events/date={data_date}/*.jsonl',
    format: 'ndjson',
    columns: { event: 'VARCHAR', ts: 'TIMESTAMPTZ', session_id: 'VARCHAR', player_id: 'VARCHAR', country: 'VARCHAR' },
  }),
  materialization: 'append',
  expectations: [
    acceptedValues('event', ['start', 'end'], { action: 'fail' }),
    notNull('session_id', { action: 'fail' }),
    notNull('player_id', { action: 'fail' }),
    notNull('ts', { action: 'fail' }),
  ],
});
