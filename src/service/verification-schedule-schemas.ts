import { z } from 'zod';
import { DURATION_PATTERN } from '../verification/schedule-contract';
import { verificationRequestSchema } from './verifications';

/** The shortest interval a schedule takes: a verification reads every compared row on both sides. */
export const MIN_SCHEDULE_MS = 5 * 60_000;
/** The longest: a year. */
export const MAX_SCHEDULE_MS = 366 * 86_400_000;

/** What PUT /v1/pipelines/:name/verification-schedule accepts: an interval and a verification's options. */
export const verificationScheduleRequestSchema = verificationRequestSchema
  .extend({
    every: z.string().regex(DURATION_PATTERN, 'a duration such as 6h, 30m, 1d or 1h30m').meta({
      description:
        'how often: <n>d, <n>h, <n>m, <n>s in that order ("6h", "1h30m"); at least 5m, at most 366d',
      example: '6h',
    }),
    paused: z.boolean().optional().meta({
      description:
        'pause (true) or run (false) the schedule; omitted: it runs while the pipeline runs and is paused while the pipeline is stopped',
    }),
  })
  .meta({ id: 'VerificationScheduleRequest' });

export type VerificationScheduleRequest = z.infer<typeof verificationScheduleRequestSchema>;

const keyRangeViewSchema = z.object({
  from: z.array(z.union([z.string(), z.number()])).optional(),
  to: z.array(z.union([z.string(), z.number()])).optional(),
});

/** One run of a schedule: when it was due, when it started, its verification and that one's state. */
const scheduledRunSchema = z.object({
  scheduledAt: z.string(),
  startedAt: z.string(),
  workflowId: z.string(),
  verificationId: z.string().optional(),
  state: z
    .string()
    .optional()
    .meta({ description: 'the verification’s state (planning, comparing, done, failed, cancelled)' }),
});

export const verificationScheduleViewSchema = z
  .object({
    pipeline: z.string(),
    scheduleId: z.string(),
    every: z.string(),
    tables: z.array(z.string()).optional(),
    where: z.string().optional(),
    keyRange: keyRangeViewSchema.optional(),
    chunkSize: z.number().optional(),
    parallelism: z.number().optional(),
    maxRowsPerSecond: z.number().optional(),
    catchUpSeconds: z.number().optional(),
    paused: z.boolean(),
    note: z.string().optional().meta({ description: 'why it is paused (or was last changed)' }),
    running: z
      .boolean()
      .meta({ description: 'a run is comparing now (the next ones are skipped until it ends)' }),
    nextRuns: z.array(z.string()).meta({ description: 'the next times it is due (none while paused)' }),
    recentRuns: z.array(scheduledRunSchema).meta({ description: 'the latest runs, oldest first' }),
    createdAt: z.string(),
    updatedAt: z.string().optional(),
  })
  .meta({ id: 'VerificationSchedule' });

export type VerificationScheduleView = z.infer<typeof verificationScheduleViewSchema>;

/** The newest verification of a pipeline, scheduled or started by hand. */
export const lastVerificationSchema = z.object({
  id: z.string(),
  state: z.enum(['planning', 'comparing', 'done', 'failed', 'cancelled']),
  scheduled: z.boolean().meta({ description: 'started by the schedule (false: by hand)' }),
  differences: z.number(),
  rowsCompared: z.number(),
  lastError: z.string().optional(),
  startedAt: z.string().optional(),
  finishedAt: z.string().optional(),
});

/** The `verification` part of a pipeline's view and status. */
export const pipelineVerificationSchema = z
  .object({
    schedule: z
      .object({
        every: z.string(),
        tables: z.array(z.string()).optional(),
        paused: z.boolean(),
        note: z.string().optional(),
        nextRun: z.string().optional(),
      })
      .nullable()
      .meta({ description: 'the verification schedule (null: none)' }),
    last: lastVerificationSchema
      .nullable()
      .meta({ description: 'the newest verification, scheduled or by hand (null: none yet)' }),
  })
  .meta({ id: 'PipelineVerification' });

export type PipelineVerificationView = z.infer<typeof pipelineVerificationSchema>;
