import type { FastifyInstance, FastifyRequest } from 'fastify';
import { IngotError } from '../errors.js';
import { describeParam } from './endpoints.js';

/** An integer as a request may write it: decimal digits, an optional minus sign. */
const INTEGER = /^-?\d+$/;
/** A number as a request may write it: decimal, with an optional fraction and exponent. */
const NUMBER = /^-?(?:\d+(?:\.\d+)?|\.\d+)(?:[eE][-+]?\d+)?$/;

type Properties = Record<string, { type?: unknown }>;

/**
 * Refuses integer and number fields written other than in decimal, before the schema validation
 * coerces them: the validator reads a string as JavaScript's `Number` does, so `0x10`, `0b11`,
 * `0o7`, `1e1`, `+3`, ` 3` and `Infinity` would pass as integers or numbers. Checks path
 * parameters, the query string and the top-level fields of a JSON body against the route's
 * schema, each value of a repeated query parameter too. Errors: VALIDATION (422) naming the field,
 * with the endpoint parameter's description when the route is a project endpoint.
 */
export function addStrictNumbers(app: FastifyInstance): void {
  app.addHook('preValidation', async (request) => {
    const schema = request.routeOptions.schema as { params?: { properties?: Properties }; querystring?: { properties?: Properties }; body?: { properties?: Properties } } | undefined;
    if (!schema) return;
    check(request, schema.params?.properties, request.params);
    check(request, schema.querystring?.properties, request.query);
    check(request, schema.body?.properties, request.body);
  });
}

function check(request: FastifyRequest, properties: Properties | undefined, values: unknown): void {
  if (!properties || values === null || typeof values !== 'object') return;
  for (const [name, raw] of Object.entries(values as Record<string, unknown>)) {
    const type = properties[name]?.type;
    const kinds = Array.isArray(type) ? type : [type];
    const integer = kinds.includes('integer');
    if (!integer && !kinds.includes('number')) continue;
    for (const v of Array.isArray(raw) ? raw : [raw]) {
      if (typeof v !== 'string' || (integer ? INTEGER : NUMBER).test(v)) continue;
      const param = request.routeOptions.config.endpoint?.params?.[name];
      const expected = param ? describeParam(name, param) : `${name} must be ${integer ? 'an integer' : 'a number'}`;
      throw new IngotError('VALIDATION', `${expected}, written in decimal digits (got ${JSON.stringify(v)})`, { column: name });
    }
  }
}
