/**
 * `ingot/spark`: the Spark engine and its Spark Connect client, for programs that drive Spark
 * themselves (a project only names `engine: 'spark'` in its config). Apart from `ingot` so that
 * loading a project does not load gRPC, protobuf and Arrow.
 */
export { SparkEngine } from './engine.js';
export { SparkConnectClient, type SparkResult } from './client.js';
export { parseConnection, type SparkConnection } from './connection.js';
