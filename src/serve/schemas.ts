/** JSON schemas shared by the routes (they also make the OpenAPI document). */

/** `{ error, message }`: every error response (`field` for a parameter that failed validation). */
export const errorSchema = {
  type: 'object',
  required: ['error', 'message'],
  properties: { error: { type: 'string' }, message: { type: 'string' }, field: { type: 'string' } },
} as const;

/** A JSON object with any properties (a row). */
export const rowSchema = { type: 'object', additionalProperties: true } as const;

/** `{ items, count, next }`: a page of rows, the number of rows matching, and the cursor of the next page (null on the last). */
export const pagedSchema = {
  type: 'object',
  required: ['items', 'count', 'next'],
  properties: {
    items: { type: 'array', items: rowSchema },
    count: { type: 'integer', description: 'rows matching, over all pages' },
    next: { type: ['string', 'null'], description: 'pass as `cursor` for the next page; null on the last page' },
    version: { type: 'integer', description: 'the table version read' },
  },
} as const;

/** `limit` and `cursor` of a paged read. */
export const pageQuery = {
  limit: { type: 'integer', minimum: 1, description: 'rows per page (default 100; capped by serve.maxRows)' },
  cursor: { type: 'string', maxLength: 4096, description: 'the `next` of the previous page' },
} as const;
