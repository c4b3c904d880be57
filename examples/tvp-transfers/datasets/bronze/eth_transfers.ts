import { dataset, dune } from 'ingot';
import { API_URL, QUERY_ID } from '../../api.js';

/**
 * The block date's transfers: the query executed with the run's block_date as its parameter (Dune
 * executes, the source polls the execution, then pages through its results), one partition per block_date; the same
 * rows are landed as CSV in bronze/eth_transfers/block_date=YYYY-MM-DD/part-0.csv. A failed request
 * fails the attempt (maxAttempts 1): the pipeline's retries run the dataset again.
 */
export default dataset({
  name: 'bronze.eth_transfers',
  source: dune({
    queryId: QUERY_ID, apiKey: 'env:DUNE_API_KEY', baseUrl: API_URL, queryParameters: { block_date: '{{logical_date}}' },
    pageSize: 1000, rateLimit: 10, pollIntervalMs: 500, retry: { maxAttempts: 1 },
    columns: { block_date: 'DATE', block_time: 'VARCHAR', vertical: 'VARCHAR', protocol: 'VARCHAR', amount_usd: 'DOUBLE', tx_hash: 'VARCHAR', from_address: 'VARCHAR', to_address: 'VARCHAR' },
  }),
  landing: 'bronze/eth_transfers/block_date={{logical_date}}',
  materialization: 'replace partition',
  partitionBy: ['block_date'],
});
