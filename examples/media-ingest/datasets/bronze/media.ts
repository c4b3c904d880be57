import { dataset, files } from 'ingot';

/** The day's media files as the scraper dropped them (duplicates included), one partition per day. */
export default dataset({
  name: 'bronze.media',
  source: files({ path: 'landing/media/{day}/*.json', format: 'json' }),
  materialization: 'replace partition',
  partitionBy: ['day'],
});
