import { z } from 'zod';
import type { BinlogPosition } from '../binlog/types';
import type { PipelineStatus, ReplicateProgress } from '../workflows/pipeline-contract';
import { pollerSchema } from './region-workers';
import { pipelineVerificationSchema } from './verification-schedule-schemas';

/** Temporal's view of the pipeline's newest workflow execution. */
export interface WorkflowSummary {
  workflowId: string;
  runId: string;
  /** Temporal execution status: RUNNING, COMPLETED, FAILED, TERMINATED, CANCELED, TIMED_OUT, CONTINUED_AS_NEW. */
  status: string;
  startTime: string;
  closeTime?: string;
  taskQueue: string;
}

/** The replicate activity as `describe()` reports it while it runs or retries. */
export interface PendingActivity {
  attempt: number;
  /** Last heartbeat details, decoded. */
  progress?: ReplicateProgress;
  lastHeartbeatTime?: string;
  lastStartedTime?: string;
  lastWorkerIdentity?: string;
  /** The error of the previous attempt while the activity is being retried. */
  lastFailure?: string;
}

export const positionSchema = z
  .object({ file: z.string(), pos: z.number().int(), gtid: z.string().optional() })
  .meta({ id: 'BinlogPosition' });

export const pipelineStatusViewSchema = z
  .object({
    name: z.string(),
    state: z
      .enum(['not started', 'running', 'paused', 'failed', 'stopped', 'ended'])
      .meta({ description: '"ended": the workflow closed without a stop (terminated, failed, timed out)' }),
    workflow: z
      .object({
        workflowId: z.string(),
        runId: z.string(),
        status: z.string(),
        startTime: z.string(),
        closeTime: z.string().optional(),
        taskQueue: z.string(),
      })
      .nullable(),
    configVersion: z.number().int().optional(),
    position: positionSchema.optional(),
    lagMs: z.number().optional(),
    rowsPerSecond: z.number().optional(),
    rowsApplied: z.number().int(),
    transactions: z.number().int(),
    counters: z.record(z.string(), z.number()).optional(),
    lastError: z
      .object({
        message: z.string(),
        where: z.string().optional(),
        at: z.string().optional(),
        retryable: z.boolean(),
      })
      .optional(),
    worker: z
      .string()
      .optional()
      .meta({ description: 'the worker (pid@host) running the pipeline’s activity' }),
    region: z.string().optional(),
    pollers: z.array(pollerSchema).optional().meta({
      description:
        'workers polling the pipeline’s task queue now (running pipelines); empty: none serves its region',
    }),
    warnings: z.array(z.string()),
    activity: z
      .object({
        attempt: z.number().int(),
        lastHeartbeatTime: z.string().optional(),
        lastStartedTime: z.string().optional(),
      })
      .optional(),
    updatedAt: z.string().optional(),
    verification: pipelineVerificationSchema.optional().meta({
      description: 'the verification schedule and the newest verification (scheduled or by hand)',
    }),
  })
  .meta({ id: 'PipelineStatus' });

/** What GET /v1/pipelines/:name/status returns. */
export type PipelineStatusView = z.infer<typeof pipelineStatusViewSchema>;

/**
 * Merges the workflow's status query (committed progress, counted per finished activity run) with
 * the running activity's last heartbeat (progress within the current run), so that the status is
 * live between runs. Pure: the caller does the Temporal calls.
 */
export function mergePipelineStatus(
  name: string,
  workflow: WorkflowSummary | undefined,
  queried: PipelineStatus | undefined,
  activity: PendingActivity | undefined,
  now: Date = new Date(),
): PipelineStatusView {
  const progress = activity?.progress;
  const committedRows = queried?.counters.rowsApplied ?? 0;
  const committedTxns = queried?.counters.transactions ?? 0;
  const view: PipelineStatusView = {
    name,
    state: stateOf(workflow, queried),
    workflow: workflow ?? null,
    rowsApplied: committedRows + (progress?.rowsApplied ?? 0),
    transactions: committedTxns + (progress?.transactions ?? 0),
    warnings: queried?.warnings ?? [],
  };
  if (queried) {
    view.configVersion = queried.configVersion;
    view.counters = { ...queried.counters };
    view.updatedAt = queried.updatedAt;
  }
  const position: BinlogPosition | undefined = progress?.position ?? queried?.position;
  if (position) view.position = position;
  const lag = progress?.lagMs ?? queried?.lagMs;
  if (lag !== undefined) view.lagMs = lag;
  const rate = liveRate(activity, now) ?? queried?.rowsPerSecond;
  if (rate !== undefined) view.rowsPerSecond = rate;
  const worker = progress?.worker ?? activity?.lastWorkerIdentity ?? queried?.worker;
  if (worker) view.worker = worker;
  if (queried?.lastError) {
    view.lastError = { ...queried.lastError };
  } else if (activity?.lastFailure) {
    // The activity is being retried (a database restarting, a network drop): say why.
    view.lastError = {
      message: activity.lastFailure,
      retryable: true,
      ...(activity.lastStartedTime ? { at: activity.lastStartedTime } : {}),
    };
  }
  if (activity) {
    view.activity = {
      attempt: activity.attempt,
      ...(activity.lastHeartbeatTime ? { lastHeartbeatTime: activity.lastHeartbeatTime } : {}),
      ...(activity.lastStartedTime ? { lastStartedTime: activity.lastStartedTime } : {}),
    };
  }
  return view;
}

function stateOf(
  workflow: WorkflowSummary | undefined,
  queried: PipelineStatus | undefined,
): PipelineStatusView['state'] {
  if (!workflow) return 'not started';
  if (queried) return queried.state;
  if (workflow.status === 'RUNNING') return 'running';
  if (workflow.status === 'COMPLETED') return 'stopped';
  return 'ended';
}

/** Rows per second of the current activity run, from its heartbeat (undefined before the first one). */
function liveRate(activity: PendingActivity | undefined, now: Date): number | undefined {
  const p = activity?.progress;
  if (!p || !activity?.lastStartedTime) return undefined;
  const started = Date.parse(activity.lastStartedTime);
  const at = Date.parse(p.at) || now.getTime();
  const seconds = (at - started) / 1000;
  if (!(seconds > 0)) return undefined;
  return Math.round(p.rowsApplied / seconds);
}

export function summarize(info: {
  workflowId: string;
  runId: string;
  status: { name: string };
  startTime: Date;
  closeTime?: Date;
  taskQueue: string;
}): WorkflowSummary {
  return {
    workflowId: info.workflowId,
    runId: info.runId,
    status: info.status.name,
    startTime: info.startTime.toISOString(),
    ...(info.closeTime ? { closeTime: info.closeTime.toISOString() } : {}),
    taskQueue: info.taskQueue,
  };
}

export function optionalTime(
  key: 'lastHeartbeatTime' | 'lastStartedTime',
  ts: { seconds?: unknown; nanos?: number | null } | null | undefined,
): Record<string, string> {
  if (!ts || ts.seconds === undefined || ts.seconds === null) return {};
  const ms = Number(ts.seconds) * 1000 + Math.floor((ts.nanos ?? 0) / 1e6);
  return ms > 0 ? { [key]: new Date(ms).toISOString() } : {};
}
