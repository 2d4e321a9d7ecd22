import { extendZodWithOpenApi, OpenAPIRegistry, OpenApiGeneratorV31 } from '@asteasolutions/zod-to-openapi';
import { z } from 'zod';
import { filterSchema } from '../pipeline/config';
import { problemSchema } from './problem';

/** Bodies over this size get a 413: definitions are small, and a big body is a mistake or an attack. */
export const BODY_LIMIT = '256kb';

import { type ApiRoute, nameParamsSchema } from './routes';

/** Builds the OpenAPI 3.1 document from the route table's zod schemas (never written by hand). */
export function buildOpenApiDocument(routes: ApiRoute[], version: string) {
  // The row filter is recursive (z.lazy): the generator needs a component name to refer back to.
  // The library's `.openapi(name)` on a lazy schema also names the original instance, which the
  // filter's own definition refers to (zod's `.meta({ id })` would only name a copy). zod 4 builds
  // instances without the extended prototype, so the method is called through the prototype.
  extendZodWithOpenApi(z);
  (z.ZodType.prototype as unknown as { openapi: (this: z.ZodType, id: string) => z.ZodType }).openapi.call(
    filterSchema,
    'RowFilter',
  );
  const registry = new OpenAPIRegistry();
  const bearer = registry.registerComponent('securitySchemes', 'bearer', {
    type: 'http',
    scheme: 'bearer',
    description: 'a token from OTTERFLOW_API_TOKENS_FILE / OTTERFLOW_API_TOKENS (role admin or readonly)',
  });
  const problem = (description: string) => ({
    description,
    content: { 'application/problem+json': { schema: problemSchema } },
  });
  for (const r of routes) {
    const hasName = r.path.includes(':name');
    registry.registerPath({
      method: r.method,
      path: r.path.replace(/:([A-Za-z]+)/g, '{$1}'),
      summary: r.summary,
      tags: [r.tag],
      security: [{ [bearer.name]: [] }],
      description: r.role === 'admin' ? 'Needs an admin token.' : 'Any valid token (readonly or admin).',
      request: {
        ...(hasName ? { params: r.params ?? nameParamsSchema } : {}),
        ...(r.query ? { query: r.query } : {}),
        ...(r.headers ? { headers: r.headers } : {}),
        ...(r.body ? { body: { required: true, content: { 'application/json': { schema: r.body } } } } : {}),
      },
      responses: {
        [r.response.status]: {
          description: r.response.description,
          ...(r.response.schema ? { content: { 'application/json': { schema: r.response.schema } } } : {}),
        },
        ...(r.body || hasName ? { 400: problem('invalid body, name or parameter (with field paths)') } : {}),
        401: problem('no or unknown bearer token'),
        ...(r.role === 'admin' ? { 403: problem('read-only token') } : {}),
        ...(hasName ? { 404: problem('no such name') } : {}),
        ...(r.method !== 'get' ? { 409: problem('conflicting state') } : {}),
        ...(r.body ? { 413: problem(`body over the size limit of ${BODY_LIMIT}`) } : {}),
        422: problem(
          'a request this document allows that cannot be carried out: a rule across fields (a mapping ' +
            'onto itself, a rename, a pattern that does not compile), a name that is not registered, a ' +
            'datasource that does not answer, a source not ready',
        ),
      },
    });
  }
  for (const [path, summary] of [
    ['/healthz', 'Liveness (no auth)'],
    ['/readyz', 'Readiness: Temporal reachable (no auth)'],
  ] as const) {
    registry.registerPath({
      method: 'get',
      path,
      summary,
      tags: ['Health'],
      responses: { 200: { description: 'ok' }, ...(path === '/readyz' ? { 503: problem('not ready') } : {}) },
    });
  }
  return new OpenApiGeneratorV31(registry.definitions).generateDocument({
    openapi: '3.1.0',
    info: {
      title: 'Otterflow API',
      version,
      description:
        'Datasources and replication pipelines. Errors are RFC 9457 problem details. ' +
        'Passwords are write-only: stored in 0600 files, never returned.',
    },
    servers: [{ url: '/' }],
  });
}
