import { dataset, files } from 'ingot';

/** The day's TikTok comment files as dropped (duplicates included), one partition per day. */
export default dataset({
  name: 'bronze.tiktokcomment',
  source: files({ path: 'landing/tiktokcomment/{day}/*.json', format: 'json' }),
  materialization: 'replace partition',
  partitionBy: ['day'],
});
