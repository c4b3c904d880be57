import type { FastifyInstance } from 'fastify';
import { createApiKey, listApiKeys, revokeApiKey } from './api-keys.js';
import type { ServeContext } from './context.js';
import { errorSchema } from './schemas.js';

/** API key administration (admin scope): `GET /api/keys`, `POST /api/keys { scope, name? }` (the key is in the answer, once), `DELETE /api/keys/:id`. */
export function addKeyRoutes(app: FastifyInstance, ctx: ServeContext): void {
  app.get('/api/keys/current', { schema: { tags: ['keys'], summary: 'The scope of the key of this request (the UI enables its actions by it)' } }, async (req) => ({ id: req.apiKey?.id ?? null, scope: req.apiKey?.scope ?? null }));
  app.get('/api/keys', { config: { auth: 'admin' }, schema: { tags: ['keys'], summary: 'API keys (never their secrets)' } }, async () => ({ items: await listApiKeys(ctx.store) }));

  app.post<{ Body: { scope: string; name?: string } }>('/api/keys', {
    config: { auth: 'admin' },
    schema: {
      tags: ['keys'], summary: 'Create an API key (shown once)',
      body: { type: 'object', required: ['scope'], additionalProperties: false, properties: { scope: { type: 'string', enum: ['read', 'write', 'admin'] }, name: { type: 'string', maxLength: 200 } } },
    },
  }, async (req, reply) => {
    const { id, key } = await createApiKey(ctx.store, req.body.scope, req.body.name);
    return reply.code(201).send({ id, key, scope: req.body.scope, name: req.body.name ?? null });
  });

  app.delete<{ Params: { id: string } }>('/api/keys/:id', {
    config: { auth: 'admin' },
    schema: { tags: ['keys'], summary: 'Revoke an API key', response: { 404: errorSchema } },
  }, async (req, reply) => {
    try {
      await revokeApiKey(ctx.store, req.params.id);
    } catch {
      return reply.code(404).send({ error: 'NOT_FOUND', message: `no active API key ${JSON.stringify(req.params.id)}` });
    }
    ctx.verifier.forget();
    return { id: req.params.id, revoked: true };
  });
}
