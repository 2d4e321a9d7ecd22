import { z } from 'zod';
import { nameSchema } from '../config/datasources';
import { pipelineConfigSchema } from '../pipeline/config';
import type { ApiRole } from '../service/api-tokens';
import { parseIfMatch } from '../service/catalog-problems';
import { conflictListSchema, conflictQuerySchema, DEFAULT_CONFLICT_LIMIT } from '../service/conflicts'; // [bidirectional]
import {
  type DatasourceService,
  datasourceInputSchema,
  datasourceUpdateSchema,
  datasourceViewSchema,
} from '../service/datasources';
import { pipelineStatusViewSchema } from '../service/pipeline-status';
import {
  type PipelineService,
  pipelineDefinitionSchema,
  pipelineViewSchema,
  workflowSummarySchema,
} from '../service/pipelines';

/** What a route handler gets: the URL name (unvalidated: services validate it), query and body. */
export interface RouteInput {
  name: string;
  query: Record<string, unknown>;
  body: unknown;
  /** The If-Match header: the version a change expects to replace (docs/catalog.md). */
  ifMatch?: string;
}

export interface RouteResult {
  status: number;
  body?: unknown;
}

/**
 * One API operation. The same table registers the express route and the OpenAPI path, so the
 * document cannot drift from what the server does.
 */
export interface ApiRoute {
  method: 'get' | 'post' | 'put' | 'delete';
  /** Express style: `/v1/datasources/:name`. */
  path: string;
  summary: string;
  tag: 'Datasources' | 'Pipelines';
  role: ApiRole;
  body?: z.ZodType;
  /** The `:name` path parameter when it is not a datasource or pipeline name (the OpenAPI document). */
  params?: z.ZodObject;
  query?: z.ZodObject;
  /** Request headers the route reads (for the OpenAPI document). */
  headers?: z.ZodObject;
  response: { status: number; description: string; schema?: z.ZodType };
  handle: (input: RouteInput) => Promise<RouteResult> | RouteResult;
}

export const nameParamsSchema = z.object({ name: nameSchema });

/** Optimistic concurrency: the version the change expects to replace (docs/catalog.md). */
const ifMatchHeaderSchema = z.object({
  'if-match': z
    .string()
    .regex(/^\s*(?:W\/)?"?\d{1,9}"?\s*$/)
    .optional()
    .meta({
      description: 'the version read (e.g. "3"): a definition changed since is a 409 with currentVersion',
    }),
});

const connectionTestSchema = z
  .object({ datasource: z.string(), ok: z.literal(true), serverVersion: z.string(), elapsedMs: z.number() })
  .meta({ id: 'ConnectionTest' });

const sourceCheckSchema = z
  .object({
    datasource: z.string(),
    ready: z.boolean(),
    serverVersion: z.string(),
    checks: z.array(
      z.object({
        name: z.string(),
        ok: z.boolean(),
        actual: z.string(),
        fix: z
          .string()
          .optional()
          .meta({ description: 'for a failed check: the exact setting or GRANT to change' }),
      }),
    ),
  })
  .meta({ id: 'SourceCheck' });

const pipelineInputSchema = pipelineConfigSchema.meta({ id: 'PipelineConfig' });

const pipelineUpdateResultSchema = z
  .object({ definition: pipelineDefinitionSchema, appliedToRunning: z.boolean() })
  .meta({ id: 'PipelineUpdateResult' });

const deleteQuerySchema = z.object({
  force: z
    .enum(['true', 'false'])
    .optional()
    .meta({ description: 'true: stop a running pipeline first, then delete it' }),
  dropCheckpoint: z.enum(['true', 'false']).optional().meta({
    description:
      'true: also delete its checkpoint on the target (otherwise kept: a pipeline created again under the name resumes from it)',
  }),
});

/** Every operation of the API, in the order the OpenAPI document lists them. */
export function apiRoutes(ds: DatasourceService, pl: PipelineService): ApiRoute[] {
  return [
    {
      method: 'get',
      path: '/v1/datasources',
      summary: 'List datasources',
      tag: 'Datasources',
      role: 'readonly',
      response: { status: 200, description: 'all datasources', schema: z.array(datasourceViewSchema) },
      handle: async () => ({ status: 200, body: await ds.list() }),
    },
    {
      method: 'post',
      path: '/v1/datasources',
      summary: 'Register a datasource',
      tag: 'Datasources',
      role: 'admin',
      body: datasourceInputSchema,
      response: { status: 201, description: 'registered', schema: datasourceViewSchema },
      handle: async ({ body }) => ({ status: 201, body: await ds.create(body) }),
    },
    {
      method: 'get',
      path: '/v1/datasources/:name',
      summary: 'Get a datasource (never its password)',
      tag: 'Datasources',
      role: 'readonly',
      response: { status: 200, description: 'the datasource', schema: datasourceViewSchema },
      handle: async ({ name }) => ({ status: 200, body: await ds.get(name) }),
    },
    {
      method: 'put',
      path: '/v1/datasources/:name',
      summary: 'Replace a datasource definition (If-Match: version → 409 when it changed meanwhile)',
      tag: 'Datasources',
      role: 'admin',
      headers: ifMatchHeaderSchema,
      body: datasourceUpdateSchema,
      response: { status: 200, description: 'updated', schema: datasourceViewSchema },
      handle: async ({ name, body, ifMatch }) => ({
        status: 200,
        body: await ds.update(name, body, parseIfMatch(ifMatch)),
      }),
    },
    {
      method: 'delete',
      path: '/v1/datasources/:name',
      summary: 'Remove a datasource (refused while a pipeline uses it)',
      tag: 'Datasources',
      role: 'admin',
      headers: ifMatchHeaderSchema,
      response: { status: 204, description: 'removed' },
      handle: async ({ name, ifMatch }) => {
        await ds.remove(name, parseIfMatch(ifMatch));
        return { status: 204 };
      },
    },
    {
      method: 'post',
      path: '/v1/datasources/:name/test',
      summary: 'Test the connection',
      tag: 'Datasources',
      role: 'readonly',
      response: { status: 200, description: 'connected', schema: connectionTestSchema },
      handle: async ({ name }) => ({ status: 200, body: await ds.test(name) }),
    },
    {
      method: 'post',
      path: '/v1/datasources/:name/check',
      summary:
        'Check prerequisites: a MySQL/MariaDB source (binlog settings, grants) or an Oracle target (privileges, quota); each failed check carries its fix',
      tag: 'Datasources',
      role: 'readonly',
      response: { status: 200, description: 'the checks (ready = all passed)', schema: sourceCheckSchema },
      handle: async ({ name }) => ({ status: 200, body: await ds.check(name) }),
    },
    {
      method: 'get',
      path: '/v1/pipelines',
      summary: 'List pipelines: definitions merged with Temporal visibility',
      tag: 'Pipelines',
      role: 'readonly',
      response: { status: 200, description: 'all pipelines', schema: z.array(pipelineViewSchema) },
      handle: async () => ({ status: 200, body: await pl.list() }),
    },
    {
      method: 'post',
      path: '/v1/pipelines',
      summary: 'Create a pipeline definition (does not start it)',
      tag: 'Pipelines',
      role: 'admin',
      body: pipelineInputSchema,
      response: { status: 201, description: 'created', schema: pipelineDefinitionSchema },
      handle: async ({ body }) => ({ status: 201, body: await pl.create(body) }),
    },
    {
      method: 'get',
      path: '/v1/pipelines/:name',
      summary: 'Get a pipeline: its definition and newest workflow',
      tag: 'Pipelines',
      role: 'readonly',
      response: { status: 200, description: 'the pipeline', schema: pipelineViewSchema },
      handle: async ({ name }) => ({ status: 200, body: await pl.get(name) }),
    },
    {
      method: 'put',
      path: '/v1/pipelines/:name',
      summary:
        'Replace a pipeline definition; a running pipeline takes it without losing its position (If-Match: version → 409 when stale)',
      tag: 'Pipelines',
      role: 'admin',
      headers: ifMatchHeaderSchema,
      body: pipelineInputSchema,
      response: { status: 200, description: 'updated', schema: pipelineUpdateResultSchema },
      handle: async ({ name, body, ifMatch }) => ({
        status: 200,
        body: await pl.update(name, body, parseIfMatch(ifMatch)),
      }),
    },
    {
      method: 'delete',
      path: '/v1/pipelines/:name',
      summary: 'Delete a pipeline definition (409 while it runs, unless force=true)',
      tag: 'Pipelines',
      role: 'admin',
      headers: ifMatchHeaderSchema,
      query: deleteQuerySchema,
      response: {
        status: 200,
        description: 'deleted',
        schema: z.object({
          deleted: z.string(),
          stopped: z.boolean(),
          checkpoint: z.enum(['kept', 'dropped', 'none']),
        }),
      },
      handle: async ({ name, query, ifMatch }) => {
        const r = await pl.remove(
          name,
          query.force === 'true',
          query.dropCheckpoint === 'true',
          parseIfMatch(ifMatch),
        );
        return { status: 200, body: { deleted: name, ...r } };
      },
    },
    {
      method: 'post',
      path: '/v1/pipelines/:name/start',
      summary: 'Start the pipeline (checks datasources and source prerequisites first; 409 if running)',
      tag: 'Pipelines',
      role: 'admin',
      response: { status: 202, description: 'started', schema: workflowSummarySchema },
      handle: async ({ name }) => ({ status: 202, body: await pl.start(name) }),
    },
    ...(['pause', 'resume', 'stop'] as const).map(
      (action): ApiRoute => ({
        method: 'post',
        path: `/v1/pipelines/:name/${action}`,
        summary: `${action[0]?.toUpperCase()}${action.slice(1)} the pipeline`,
        tag: 'Pipelines',
        role: 'admin',
        response: {
          status: 200,
          description: `the status after ${action}`,
          schema: pipelineStatusViewSchema,
        },
        handle: async ({ name }) => ({ status: 200, body: await pl[action](name) }),
      }),
    ),
    {
      method: 'get',
      path: '/v1/pipelines/:name/status',
      summary: 'Live status: position, lag, rows/s, rows applied, last error, worker',
      tag: 'Pipelines',
      role: 'readonly',
      response: { status: 200, description: 'the status', schema: pipelineStatusViewSchema },
      handle: async ({ name }) => ({ status: 200, body: await pl.status(name) }),
    },
    {
      // [bidirectional] docs/bidirectional.md
      method: 'get',
      path: '/v1/pipelines/:name/conflicts',
      summary: 'Write conflicts of a channel pipeline (newest first), read from its target',
      tag: 'Pipelines',
      role: 'readonly',
      query: conflictQuerySchema,
      response: { status: 200, description: 'the conflicts and their total', schema: conflictListSchema },
      handle: async ({ name, query }) => {
        const limit = typeof query.limit === 'number' ? query.limit : DEFAULT_CONFLICT_LIMIT;
        return { status: 200, body: await pl.conflicts(name, limit) };
      },
    },
  ];
}
