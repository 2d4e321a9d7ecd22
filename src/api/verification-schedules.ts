import {
  verificationScheduleRequestSchema,
  verificationScheduleViewSchema,
} from '../service/verification-schedule-schemas';
import type { VerificationScheduleService } from '../service/verification-schedules';
import type { ApiRoute } from './routes';

/** A pipeline's verification schedule (docs/verification.md, "Schedules"): set, read, run now, delete. */
export function verificationScheduleRoutes(vs: VerificationScheduleService): ApiRoute[] {
  const path = '/v1/pipelines/:name/verification-schedule';
  return [
    {
      method: 'put',
      path,
      summary:
        'Create or replace the verification schedule: every interval, verify the pipeline as it is defined then (tables, where, key range, throttle)',
      tag: 'Pipelines',
      role: 'admin',
      body: verificationScheduleRequestSchema,
      response: { status: 200, description: 'the schedule', schema: verificationScheduleViewSchema },
      handle: async ({ name, body }) => ({ status: 200, body: await vs.put(name, body) }),
    },
    {
      method: 'get',
      path,
      summary: 'The verification schedule: interval, options, paused, next run times, recent runs',
      tag: 'Pipelines',
      role: 'readonly',
      response: { status: 200, description: 'the schedule', schema: verificationScheduleViewSchema },
      handle: async ({ name }) => ({ status: 200, body: await vs.get(name) }),
    },
    {
      method: 'delete',
      path,
      summary: 'Delete the verification schedule (a run comparing now goes on to its end)',
      tag: 'Pipelines',
      role: 'admin',
      response: { status: 204, description: 'deleted' },
      handle: async ({ name }) => {
        await vs.remove(name);
        return { status: 204 };
      },
    },
    {
      method: 'post',
      path: `${path}/trigger`,
      summary: 'Run the scheduled verification now (skipped while a run still compares)',
      tag: 'Pipelines',
      role: 'admin',
      response: { status: 202, description: 'run requested', schema: verificationScheduleViewSchema },
      handle: async ({ name }) => {
        await vs.trigger(name);
        return { status: 202, body: await vs.get(name) };
      },
    },
  ];
}
