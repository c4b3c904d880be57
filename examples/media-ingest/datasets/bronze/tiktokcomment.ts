import { dataset, files } from 'ingot';
import { LANDING } from '../../landing.js';

/** The day's TikTok comment files as dropped (duplicates included), one partition per day. */
export default dataset({
  name: 'bronze.tiktokcomment',
  source: files({ path: `${LANDING}/tiktokcomment/{day}/*.json`, format: 'json' }),
  materialization: 'replace partition',
  partitionBy: ['day'],
});
