import {
  channelParamsSchema,
  channelVerificationsSchema,
  decidedListSchema,
} from '../service/channel-verifications';
import {
  differenceListSchema,
  differencesQuerySchema,
  type VerificationService,
  verificationRequestSchema,
  verificationViewSchema,
} from '../service/verifications';
import type { ApiRoute } from './routes';

/**
 * Verification operations (docs/verification.md): start one for a pipeline, watch it, page through
 * its differences, repair them, cancel. `:name` is the pipeline name, or the verification id under
 * /v1/verifications.
 */
export function verificationRoutes(vf: VerificationService): ApiRoute[] {
  return [
    {
      method: 'post',
      path: '/v1/pipelines/:name/verifications',
      summary:
        'Start a verification: compare the target with the source as the pipeline maps it, chunk by chunk, while it streams',
      tag: 'Pipelines',
      role: 'admin',
      body: verificationRequestSchema,
      response: { status: 202, description: 'started', schema: verificationViewSchema },
      handle: async ({ name, body }) => ({ status: 202, body: await vf.start(name, body) }),
    },
    {
      method: 'post',
      path: '/v1/channels/:name/verifications',
      summary:
        'Start a verification of every direction of a bidirectional channel (one per pipeline); both sites are treated as sources',
      tag: 'Pipelines',
      role: 'admin',
      params: channelParamsSchema,
      body: verificationRequestSchema,
      response: { status: 202, description: 'started', schema: channelVerificationsSchema },
      handle: async ({ name, body }) => ({ status: 202, body: await vf.startChannel(name, body) }),
    },
    {
      method: 'get',
      path: '/v1/verifications/:name',
      summary:
        'A verification: state (done, failed or cancelled at the end), chunks, rows, differences per table, repair',
      tag: 'Pipelines',
      role: 'readonly',
      response: { status: 200, description: 'the verification', schema: verificationViewSchema },
      handle: async ({ name }) => ({ status: 200, body: await vf.get(name) }),
    },
    {
      method: 'get',
      path: '/v1/verifications/:name/differences',
      summary:
        'The differing keys of a verification (paged): target table, key, missing/extra/different, columns',
      tag: 'Pipelines',
      role: 'readonly',
      query: differencesQuerySchema,
      response: { status: 200, description: 'a page of differences', schema: differenceListSchema },
      handle: async ({ name, query }) => ({ status: 200, body: await vf.differences(name, query) }),
    },
    {
      method: 'get',
      path: '/v1/verifications/:name/decided',
      summary:
        'Channels: the differing keys that a recorded conflict resolution explains (paged); not differences, never repaired',
      tag: 'Pipelines',
      role: 'readonly',
      query: differencesQuerySchema,
      response: { status: 200, description: 'a page of keys decided by policy', schema: decidedListSchema },
      handle: async ({ name, query }) => ({ status: 200, body: await vf.decided(name, query) }),
    },
    {
      method: 'post',
      path: '/v1/verifications/:name/repair',
      summary:
        'Repair the differences: re-sync missing and different keys through the pipeline, delete rows only on the target, compare again',
      tag: 'Pipelines',
      role: 'admin',
      response: { status: 202, description: 'repair started', schema: verificationViewSchema },
      handle: async ({ name }) => ({ status: 202, body: await vf.repair(name) }),
    },
    {
      method: 'post',
      path: '/v1/verifications/:name/cancel',
      summary: 'Cancel a running verification (chunks compared so far stay in the report)',
      tag: 'Pipelines',
      role: 'admin',
      response: { status: 202, description: 'cancel requested', schema: verificationViewSchema },
      handle: async ({ name }) => ({ status: 202, body: await vf.cancel(name) }),
    },
  ];
}
