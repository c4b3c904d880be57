/**
 * Where the scraper drops its files: an S3 bucket (endpoint and credentials from the AWS
 * environment, e.g. AWS_ENDPOINT_URL for a local S3-compatible server) or a local folder.
 */
export const LANDING = process.env['MEDIA_LANDING'] ?? 's3://nwt-data-engineer';
