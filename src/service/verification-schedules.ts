import {
  type Client,
  type ScheduleDescription,
  type ScheduleHandle,
  ScheduleNotFoundError,
  ScheduleOverlapPolicy,
  WorkflowNotFoundError,
} from '@temporalio/client';
import type { PipelineRepository } from '../catalog/types';
import { taskQueueFor } from '../config/regions';
import {
  PAUSED_WHILE_STOPPED_NOTE,
  parseDuration,
  SCHEDULED_VERIFICATION_KIND,
  SCHEDULED_VERIFICATION_WORKFLOW_TYPE,
  type ScheduledVerificationInput,
  type ScheduledVerificationOptions,
  scheduledRunWorkflowIdPrefix,
  scheduledVerificationId,
  tableRefs,
  verificationScheduleId,
} from '../verification/schedule-contract';
import { pipelineWorkflowId } from '../workflows/pipeline-contract';
import { OTTERFLOW_KIND, OTTERFLOW_PIPELINE } from '../workflows/search-attributes';
import { channelDirectionOf } from './channel-directions';
import { parseName } from './names';
import type { PipelineDefinition } from './pipeline-store';
import { notFound, ServiceError } from './problems';
import { recentVerifications } from './verification-history';
import {
  MAX_SCHEDULE_MS,
  MIN_SCHEDULE_MS,
  type PipelineVerificationView,
  type VerificationScheduleView,
  verificationScheduleRequestSchema,
} from './verification-schedule-schemas';
import type { VerificationService } from './verifications';

export interface VerificationScheduleServiceDeps {
  store: PipelineRepository;
  client: Client;
  taskQueue: string;
  /** Checks a request the way starting a verification does (tables, condition, key range). */
  verifications: VerificationService;
}

/** A schedule's paused state and note. */
export interface PauseState {
  paused: boolean;
  note?: string;
}

/**
 * Whether a schedule runs: `paused` when the request says; otherwise paused while the pipeline is
 * not running (a verification of a stopped pipeline can only fail its catch-up wait), keeping a
 * pause someone asked for. Pure.
 */
export function decidePause(
  requested: boolean | undefined,
  pipelineRunning: boolean,
  current: PauseState | undefined,
): PauseState {
  if (requested === true) return { paused: true, note: 'paused by request' };
  if (requested === false) return { paused: false, note: 'running by request' };
  const pausedByRequest = current?.paused === true && current.note !== PAUSED_WHILE_STOPPED_NOTE;
  if (pausedByRequest) return current;
  return pipelineRunning
    ? { paused: false, note: current?.paused ? 'resumed with the pipeline' : 'running' }
    : { paused: true, note: PAUSED_WHILE_STOPPED_NOTE };
}

/**
 * Verification schedules: at most one Temporal schedule per pipeline (`verification-schedule:<name>`),
 * starting `scheduledVerificationWorkflow` on the pipeline's region task queue, skipping a run while
 * the previous one still compares. The schedule's argument carries the pipeline definition; the
 * pipeline service calls the hooks below so that it follows the pipeline: changed (new definition,
 * new region), stopped (paused), started (resumed), deleted (deleted).
 */
export class VerificationScheduleService {
  constructor(private readonly deps: VerificationScheduleServiceDeps) {}

  /** Creates or replaces the schedule of a pipeline. */
  async put(rawName: string, body: unknown): Promise<VerificationScheduleView> {
    const name = parseName('pipeline', rawName);
    const def = await this.deps.store.get(name);
    if (!def) throw notFound('pipeline', name);
    const parsed = verificationScheduleRequestSchema.safeParse(body ?? {});
    if (!parsed.success)
      throw new ServiceError(
        'invalid-request',
        `verification schedule is not valid: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`,
        parsed.error.issues.map((i) => ({ path: i.path.join('.'), message: i.message })),
      );
    const { every, paused, ...options } = parsed.data;
    const everyMs = parseDuration(every) ?? 0;
    if (everyMs < MIN_SCHEDULE_MS || everyMs > MAX_SCHEDULE_MS)
      throw new ServiceError('unprocessable', `every: ${every} is not between 5m and 366d`, [
        { path: 'every', message: 'at least 5m (a verification reads every compared row), at most 366d' },
      ]);
    await this.deps.verifications.check(
      def.config,
      tableRefs(options.tables),
      options.where,
      options.keyRange,
    );
    const running = await this.pipelineRunning(name);
    const channel = await channelDirectionOf(this.deps.store, def.config);
    const input: ScheduledVerificationInput = {
      pipeline: name,
      every,
      config: def.config,
      options,
      ...(channel ? { channel } : {}),
    };
    const handle = this.deps.client.schedule.getHandle(verificationScheduleId(name));
    const current = await this.describe(handle);
    const state = decidePause(paused, running, current?.state);
    if (current) {
      await handle.update((prev) => ({
        ...prev,
        spec: { intervals: [{ every: everyMs }] },
        action: this.action(def, input),
        state: { paused: state.paused, ...(state.note ? { note: state.note } : {}) },
      }));
    } else {
      await this.deps.client.schedule
        .create({
          scheduleId: verificationScheduleId(name),
          spec: { intervals: [{ every: everyMs }] },
          action: this.action(def, input),
          policies: { overlap: ScheduleOverlapPolicy.SKIP, catchupWindow: '1 minute' },
          state: { paused: state.paused, ...(state.note ? { note: state.note } : {}) },
          typedSearchAttributes: [
            { key: OTTERFLOW_KIND, value: SCHEDULED_VERIFICATION_KIND },
            { key: OTTERFLOW_PIPELINE, value: name },
          ],
        })
        .catch((err: Error) => {
          // Created by a concurrent PUT meanwhile: the request that lost may simply be sent again.
          if (err.name === 'ScheduleAlreadyRunning')
            throw new ServiceError(
              'conflict',
              `the verification schedule of ${name} was just created; send it again`,
            );
          throw err;
        });
    }
    return this.get(name);
  }

  /** The schedule with its next run times and recent runs (404 when the pipeline has none). */
  async get(rawName: string): Promise<VerificationScheduleView> {
    const name = parseName('pipeline', rawName);
    if (!(await this.deps.store.get(name))) throw notFound('pipeline', name);
    const d = await this.describe(this.deps.client.schedule.getHandle(verificationScheduleId(name)));
    if (!d) throw notFound('verification schedule of pipeline', name);
    const input = d.action.args?.[0] as ScheduledVerificationInput;
    const states = new Map((await recentVerifications(this.deps.client, name)).map((r) => [r.id, r.state]));
    const o: ScheduledVerificationOptions = input.options;
    return {
      pipeline: name,
      scheduleId: d.scheduleId,
      every: input.every,
      ...(o.tables ? { tables: o.tables } : {}),
      ...(o.where !== undefined ? { where: o.where } : {}),
      ...(o.keyRange ? { keyRange: o.keyRange } : {}),
      ...(o.chunkSize ? { chunkSize: o.chunkSize } : {}),
      ...(o.parallelism ? { parallelism: o.parallelism } : {}),
      ...(o.maxRowsPerSecond ? { maxRowsPerSecond: o.maxRowsPerSecond } : {}),
      ...(o.catchUpSeconds ? { catchUpSeconds: o.catchUpSeconds } : {}),
      paused: d.state.paused,
      ...(d.state.note ? { note: d.state.note } : {}),
      running: d.info.runningActions.length > 0,
      nextRuns: d.state.paused ? [] : d.info.nextActionTimes.map((t) => t.toISOString()),
      recentRuns: d.info.recentActions.map((a) => {
        const verificationId = scheduledVerificationId(name, a.action.workflow.workflowId);
        const state = verificationId ? states.get(verificationId) : undefined;
        return {
          scheduledAt: a.scheduledAt.toISOString(),
          startedAt: a.takenAt.toISOString(),
          workflowId: a.action.workflow.workflowId,
          ...(verificationId ? { verificationId } : {}),
          ...(state ? { state } : {}),
        };
      }),
      createdAt: d.info.createdAt.toISOString(),
      ...(d.info.lastUpdatedAt ? { updatedAt: d.info.lastUpdatedAt.toISOString() } : {}),
    };
  }

  /** Deletes the schedule (404 when there is none); a run comparing now goes on to its end. */
  async remove(rawName: string): Promise<void> {
    const name = parseName('pipeline', rawName);
    if (!(await this.deps.store.get(name))) throw notFound('pipeline', name);
    if (!(await this.deleteSchedule(name))) throw notFound('verification schedule of pipeline', name);
  }

  /** Starts a run now (the schedule's overlap policy applies: skipped while one runs). */
  async trigger(rawName: string): Promise<void> {
    const name = parseName('pipeline', rawName);
    if (!(await this.deps.store.get(name))) throw notFound('pipeline', name);
    const handle = this.deps.client.schedule.getHandle(verificationScheduleId(name));
    if (!(await this.describe(handle))) throw notFound('verification schedule of pipeline', name);
    await handle.trigger(ScheduleOverlapPolicy.SKIP);
  }

  /** The `verification` part of the pipeline's view and status: schedule and newest verification. */
  async summary(name: string): Promise<PipelineVerificationView> {
    const d = await this.describe(this.deps.client.schedule.getHandle(verificationScheduleId(name)));
    const input = d?.action.args?.[0] as ScheduledVerificationInput | undefined;
    const newest = (await recentVerifications(this.deps.client, name))[0];
    const last = newest ? await this.deps.verifications.get(newest.id).catch(() => undefined) : undefined;
    const next = d?.state.paused ? undefined : d?.info.nextActionTimes[0];
    return {
      schedule:
        d && input
          ? {
              every: input.every,
              ...(input.options.tables ? { tables: input.options.tables } : {}),
              paused: d.state.paused,
              ...(d.state.note ? { note: d.state.note } : {}),
              ...(next ? { nextRun: next.toISOString() } : {}),
            }
          : null,
      last:
        newest && last
          ? {
              id: last.id,
              state: last.state,
              scheduled: newest.scheduled,
              differences: last.differences,
              rowsCompared: last.rowsCompared,
              ...(last.lastError ? { lastError: last.lastError } : {}),
              ...(last.startedAt ? { startedAt: last.startedAt } : {}),
              ...(last.finishedAt ? { finishedAt: last.finishedAt } : {}),
            }
          : null,
    };
  }

  // ---- hooks the pipeline service calls ----

  /** The definition changed (mappings, datasources, region): runs from now on verify the new one. */
  async pipelineChanged(def: PipelineDefinition): Promise<void> {
    const handle = this.deps.client.schedule.getHandle(verificationScheduleId(def.config.name));
    const d = await this.describe(handle);
    if (!d) return;
    const previous = d.action.args?.[0] as ScheduledVerificationInput | undefined;
    if (!previous) return;
    const { channel: _was, ...input } = previous;
    const channel = await channelDirectionOf(this.deps.store, def.config);
    await handle.update((prev) => ({
      ...prev,
      action: this.action(def, { ...input, config: def.config, ...(channel ? { channel } : {}) }),
    }));
  }

  /** The pipeline started: a schedule paused because it was stopped runs again. */
  async pipelineStarted(def: PipelineDefinition): Promise<void> {
    const handle = this.deps.client.schedule.getHandle(verificationScheduleId(def.config.name));
    const d = await this.describe(handle);
    if (!d) return;
    await this.pipelineChanged(def);
    if (d.state.paused && d.state.note === PAUSED_WHILE_STOPPED_NOTE)
      await handle.unpause('resumed with the pipeline');
  }

  /** The pipeline stopped: its schedule pauses until it starts again (a pause by request stays). */
  async pipelineStopped(name: string): Promise<void> {
    const handle = this.deps.client.schedule.getHandle(verificationScheduleId(name));
    const d = await this.describe(handle);
    if (d && !d.state.paused) await handle.pause(PAUSED_WHILE_STOPPED_NOTE);
  }

  /** The pipeline is being deleted: so is its schedule. */
  async pipelineDeleted(name: string): Promise<void> {
    await this.deleteSchedule(name);
  }

  private action(def: PipelineDefinition, input: ScheduledVerificationInput) {
    return {
      type: 'startWorkflow' as const,
      workflowType: SCHEDULED_VERIFICATION_WORKFLOW_TYPE,
      workflowId: scheduledRunWorkflowIdPrefix(def.config.name),
      taskQueue: taskQueueFor(this.deps.taskQueue, def.config.region),
      args: [input],
      typedSearchAttributes: [
        { key: OTTERFLOW_KIND, value: SCHEDULED_VERIFICATION_KIND },
        { key: OTTERFLOW_PIPELINE, value: def.config.name },
      ],
    };
  }

  private async deleteSchedule(name: string): Promise<boolean> {
    try {
      await this.deps.client.schedule.getHandle(verificationScheduleId(name)).delete();
      return true;
    } catch (err) {
      if (err instanceof ScheduleNotFoundError) return false;
      throw err;
    }
  }

  private async describe(handle: ScheduleHandle): Promise<ScheduleDescription | undefined> {
    try {
      return await handle.describe();
    } catch (err) {
      if (err instanceof ScheduleNotFoundError) return undefined;
      throw err;
    }
  }

  private async pipelineRunning(name: string): Promise<boolean> {
    try {
      const d = await this.deps.client.workflow.getHandle(pipelineWorkflowId(name)).describe();
      return d.status.name === 'RUNNING';
    } catch (err) {
      if (err instanceof WorkflowNotFoundError) return false;
      throw err;
    }
  }
}
