import { z } from 'zod';
import { type BackfillService, backfillRequestSchema, backfillViewSchema } from '../service/backfills';
import type { ApiRoute } from './routes';

/**
 * Backfill operations: start (initial load or online re-sync by tables / WHERE / keys), list a
 * pipeline's backfills, watch one (rows copied, estimate, rows/s, ETA), cancel. `:name` is the
 * pipeline name, or the backfill id under /v1/backfills.
 */
export function backfillRoutes(bf: BackfillService): ApiRoute[] {
  return [
    {
      method: 'post',
      path: '/v1/pipelines/:name/backfills',
      summary:
        'Start a backfill: an initial load, or a re-sync of tables (optionally by WHERE condition or keys) while the pipeline streams',
      tag: 'Pipelines',
      role: 'admin',
      body: backfillRequestSchema,
      response: { status: 202, description: 'started', schema: backfillViewSchema },
      handle: async ({ name, body }) => ({ status: 202, body: await bf.start(name, body) }),
    },
    {
      method: 'get',
      path: '/v1/pipelines/:name/backfills',
      summary: "List a pipeline's backfills, newest first",
      tag: 'Pipelines',
      role: 'readonly',
      response: { status: 200, description: 'the backfills', schema: z.array(backfillViewSchema) },
      handle: async ({ name }) => ({ status: 200, body: await bf.list(name) }),
    },
    {
      method: 'get',
      path: '/v1/backfills/:name',
      summary: 'A backfill and its progress: rows copied, total estimate, rows/s, ETA, chunks',
      tag: 'Pipelines',
      role: 'readonly',
      response: { status: 200, description: 'the backfill', schema: backfillViewSchema },
      handle: async ({ name }) => ({ status: 200, body: await bf.get(name) }),
    },
    {
      method: 'post',
      path: '/v1/backfills/:name/cancel',
      summary: 'Cancel a running backfill (chunks in flight roll back; done chunks stay)',
      tag: 'Pipelines',
      role: 'admin',
      response: { status: 202, description: 'cancel requested', schema: backfillViewSchema },
      handle: async ({ name }) => ({ status: 202, body: await bf.cancel(name) }),
    },
  ];
}
