import { dataset, files } from 'ingot';

/** The month's Apache access log (combined format), parsed; malformed lines go to bronze.weblogs_quarantine. */
export default dataset({
  name: 'bronze.weblogs',
  source: files({ path: 'landing/weblogs/month={month}/*.log', format: 'combined' }),
  materialization: 'replace partition',
  partitionBy: ['month'],
  grain: 'month',
});
