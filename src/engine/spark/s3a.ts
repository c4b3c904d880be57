/**
 * Lakes on S3 for the Spark engine: Spark reads and writes them through Hadoop's S3A file system
 * (the hadoop-aws jar and the AWS SDK bundle it was built against must be on the server's
 * classpath), addressed as `s3a://bucket/key`.
 */

/** `location` as Spark addresses it: `s3://bucket/key` becomes `s3a://bucket/key`; other locations are unchanged. */
export function sparkLocation(location: string): string {
  return location.startsWith('s3://') ? `s3a://${location.slice('s3://'.length)}` : location;
}

/**
 * Session confs pointing S3A at the S3 of the ingot process's AWS environment, the variables
 * `s3ClientFromEnv` reads (src/storage/s3.ts): `AWS_ENDPOINT_URL_S3` / `AWS_ENDPOINT_URL` (an
 * S3-compatible server: `fs.s3a.endpoint`, path-style access, SSL as its scheme says),
 * `AWS_REGION` / `AWS_DEFAULT_REGION` (`fs.s3a.endpoint.region`, default `us-east-1` with an
 * endpoint), `AWS_ACCESS_KEY_ID` / `AWS_SECRET_ACCESS_KEY` / `AWS_SESSION_TOKEN` (static
 * credentials; without them S3A uses the server's own credential chain). Spark copies session
 * confs into the Hadoop configuration of the session's file system accesses, so plain
 * `fs.s3a.*` keys set at runtime take effect (`spark.hadoop.fs.s3a.*` ones only at server start).
 * Confs are visible to whoever can read the session's confs on the server (`SET`).
 */
export function s3aConfFromEnv(env: NodeJS.ProcessEnv = process.env): Record<string, string> {
  const conf: Record<string, string> = {};
  const endpoint = env['AWS_ENDPOINT_URL_S3'] || env['AWS_ENDPOINT_URL'] || undefined;
  const region = env['AWS_REGION'] || env['AWS_DEFAULT_REGION'] || (endpoint ? 'us-east-1' : undefined);
  if (endpoint) {
    Object.assign(conf, {
      'fs.s3a.endpoint': endpoint,
      'fs.s3a.path.style.access': 'true',
      'fs.s3a.connection.ssl.enabled': String(endpoint.startsWith('https:')),
    });
  }
  if (region) conf['fs.s3a.endpoint.region'] = region;
  if (env['AWS_ACCESS_KEY_ID'] && env['AWS_SECRET_ACCESS_KEY']) {
    conf['fs.s3a.access.key'] = env['AWS_ACCESS_KEY_ID'];
    conf['fs.s3a.secret.key'] = env['AWS_SECRET_ACCESS_KEY'];
    if (env['AWS_SESSION_TOKEN']) {
      conf['fs.s3a.session.token'] = env['AWS_SESSION_TOKEN'];
      conf['fs.s3a.aws.credentials.provider'] = 'org.apache.hadoop.fs.s3a.TemporaryAWSCredentialsProvider';
    } else {
      conf['fs.s3a.aws.credentials.provider'] = 'org.apache.hadoop.fs.s3a.SimpleAWSCredentialsProvider';
    }
  }
  return conf;
}
