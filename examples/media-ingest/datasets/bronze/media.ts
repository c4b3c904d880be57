import { dataset, files } from 'ingot';
import { LANDING } from '../../landing.js';

/** The day's media files as the scraper dropped them (duplicates included), one partition per day. */
export default dataset({
  name: 'bronze.media',
  source: files({ path: `${LANDING}/media/{day}/*.json`, format: 'json' }),
  materialization: 'replace partition',
  partitionBy: ['day'],
});
