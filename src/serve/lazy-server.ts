import type { MetadataStore } from '../metadata/store.js';
import type { ServeContext, ServeProject } from './context.js';
import type { ServerOptions } from './server.js';
import type { FastifyInstance } from 'fastify';

/**
 * `createServer` of server.ts (the HTTP server of `ingot serve`: REST API, UI, docs), loading the
 * HTTP framework and its plugins on first call rather than when the package is imported.
 */
export async function createServer(project: ServeProject, store: MetadataStore, options: ServerOptions = {}): Promise<{ app: FastifyInstance; context: ServeContext }> {
  const server = await import('./server.js');
  return server.createServer(project, store, options);
}
