import {
  type Client,
  WorkflowExecutionAlreadyStartedError,
  WorkflowNotFoundError,
  WorkflowUpdateFailedError,
} from '@temporalio/client';
import { fromPayloadsAtIndex } from '@temporalio/common';
import { z } from 'zod';
import { dropCheckpoint as dropCheckpointRow } from '../connectors/mysql/checkpoint-source';
import { openMysql } from '../connectors/mysql/connection';
import { type PipelineConfig, pipelineConfigSchema, validatePipelineConfig } from '../pipeline/config';
import type { pipelineWorkflow } from '../workflows/pipeline';
import {
  PIPELINE_WORKFLOW_TYPE,
  type PipelineStatus,
  pauseUpdate,
  pipelineWorkflowId,
  type ReplicateProgress,
  resumeUpdate,
  statusQuery,
  stopUpdate,
  updateConfigUpdate,
} from '../workflows/pipeline-contract';
import { OTTERFLOW_KIND, OTTERFLOW_PIPELINE, OTTERFLOW_STATUS } from '../workflows/search-attributes';
import { type ConflictList, listPipelineConflicts } from './conflicts'; // [bidirectional]
import { checkSource, testConnection } from './connectivity';
import type { DatasourceService } from './datasources';
import { parseName } from './names';
import {
  mergePipelineStatus,
  type PendingActivity,
  type PipelineStatusView,
  type WorkflowSummary,
} from './pipeline-status';
import type { PipelineDefinition, PipelineStore } from './pipeline-store';
import { type FieldError, notFound, ServiceError } from './problems';

/** How long a pause/resume/stop/update may wait for a worker to act before the API gives up. */
const UPDATE_DEADLINE_MS = 60_000;

export const pipelineDefinitionSchema = z
  .object({
    config: pipelineConfigSchema,
    version: z.number().int(),
    createdAt: z.string(),
    updatedAt: z.string(),
  })
  .meta({ id: 'PipelineDefinition' });

export const workflowSummarySchema = z
  .object({
    workflowId: z.string(),
    runId: z.string(),
    status: z.string(),
    startTime: z.string(),
    closeTime: z.string().optional(),
    taskQueue: z.string(),
  })
  .meta({ id: 'WorkflowSummary' });

/** A pipeline as listed: its definition (null if only Temporal knows it) and its newest workflow. */
export const pipelineViewSchema = z
  .object({
    name: z.string(),
    definition: pipelineDefinitionSchema.nullable(),
    workflow: workflowSummarySchema.nullable(),
    state: z.string().optional().meta({ description: 'OtterflowStatus search attribute of the workflow' }),
  })
  .meta({ id: 'Pipeline' });

export type PipelineView = z.infer<typeof pipelineViewSchema>;

export interface PipelineServiceDeps {
  store: PipelineStore;
  datasources: DatasourceService;
  client: Client;
  taskQueue: string;
}

/**
 * Pipelines: definitions in the file store, life in Temporal (one workflow `pipeline:<name>`).
 * The API routes and, through the API, the CLI call these functions.
 */
export class PipelineService {
  constructor(private readonly deps: PipelineServiceDeps) {}

  /**
   * Definitions merged with Temporal visibility (newest execution of each pipeline on our task
   * queue). A running workflow whose definition was removed is listed too (so it can be stopped);
   * closed workflows of deleted pipelines are not.
   */
  async list(): Promise<PipelineView[]> {
    const byName = new Map<string, PipelineView>();
    for (const d of this.deps.store.list())
      byName.set(d.config.name, { name: d.config.name, definition: d, workflow: null });
    const query =
      `WorkflowType = '${PIPELINE_WORKFLOW_TYPE}' AND OtterflowKind = 'pipeline' ` +
      `AND TaskQueue = '${this.deps.taskQueue.replace(/'/g, "''")}'`;
    for await (const info of this.deps.client.workflow.list({ query })) {
      const name =
        info.typedSearchAttributes.get(OTTERFLOW_PIPELINE) ?? info.workflowId.replace(/^pipeline:/, '');
      const known = byName.get(name);
      if (!known && info.status.name !== 'RUNNING') continue;
      const view = known ?? { name, definition: null, workflow: null };
      const summary = summarize(info);
      if (!view.workflow || view.workflow.startTime < summary.startTime) {
        view.workflow = summary;
        const state = info.typedSearchAttributes.get(OTTERFLOW_STATUS);
        if (state) view.state = state;
        else delete view.state;
      }
      byName.set(name, view);
    }
    return [...byName.values()].sort((a, b) => a.name.localeCompare(b.name));
  }

  async get(rawName: string): Promise<PipelineView> {
    const name = parseName('pipeline', rawName);
    const definition = this.deps.store.get(name);
    const workflow = await this.describe(name);
    if (!definition && workflow?.summary.status !== 'RUNNING') throw notFound('pipeline', name);
    return { name, definition: definition ?? null, workflow: workflow?.summary ?? null };
  }

  /** Validates and stores a new definition. Nothing runs until start. */
  create(body: unknown): PipelineDefinition {
    const config = this.validate(body);
    if (this.deps.store.get(config.name))
      throw new ServiceError('conflict', `pipeline "${config.name}" already exists; use update to change it`);
    return this.deps.store.put(config);
  }

  /**
   * Replaces a definition. On a running pipeline the new configuration is sent to the workflow
   * first (the `updateConfig` update: it resumes from the committed position); the definition is
   * stored only once the workflow accepted it, so a refused update changes nothing.
   */
  async update(
    rawName: string,
    body: unknown,
  ): Promise<{ definition: PipelineDefinition; appliedToRunning: boolean }> {
    const name = parseName('pipeline', rawName);
    if (!this.deps.store.get(name)) throw notFound('pipeline', name);
    const config = this.validate(body);
    if (config.name !== name)
      throw new ServiceError(
        'invalid-request',
        `a pipeline cannot be renamed (URL says "${name}", body says "${config.name}")`,
        [{ path: 'name', message: `must be "${name}"` }],
      );
    const running = await this.runningHandle(name);
    if (running)
      await this.runUpdate(name, () => running.executeUpdate(updateConfigUpdate, { args: [config] }));
    return { definition: this.deps.store.put(config), appliedToRunning: running !== undefined };
  }

  /**
   * Deletes a definition; a running pipeline is refused (409) unless `force`, which stops it first.
   * The checkpoint on the target is kept (a pipeline created again under the name resumes from it)
   * unless `dropCheckpoint`, which deletes it with its recorded source server.
   */
  async remove(
    rawName: string,
    force: boolean,
    dropCheckpoint = false,
  ): Promise<{ stopped: boolean; checkpoint: 'kept' | 'dropped' | 'none' }> {
    const name = parseName('pipeline', rawName);
    const def = this.deps.store.get(name);
    if (!def) throw notFound('pipeline', name);
    const running = await this.runningHandle(name);
    if (running && !force)
      throw new ServiceError(
        'conflict',
        `pipeline "${name}" is running; stop it first, or force the delete (API ?force=true, CLI --force) to stop it and then delete it`,
      );
    if (running) await this.runUpdate(name, () => running.executeUpdate(stopUpdate));
    let checkpoint: 'kept' | 'dropped' | 'none' = 'kept';
    if (dropCheckpoint) {
      const target = this.deps.datasources.resolve(def.config.target);
      if (target.kind === 'oracle')
        throw new ServiceError('invalid-request', 'dropCheckpoint: only MySQL/MariaDB targets are supported');
      const conn = await openMysql(target);
      try {
        checkpoint = (await dropCheckpointRow(conn, name)) ? 'dropped' : 'none';
      } finally {
        await conn.end();
      }
    }
    this.deps.store.remove(name);
    return { stopped: running !== undefined, checkpoint };
  }

  /**
   * Starts the pipeline's workflow after checking everything that can be checked first: both
   * datasources exist and answer, and the source can be replicated from (binlog settings and
   * grants). Any failure is a 4xx and nothing is started.
   */
  async start(rawName: string): Promise<WorkflowSummary> {
    const name = parseName('pipeline', rawName);
    const def = this.deps.store.get(name);
    if (!def) throw notFound('pipeline', name);
    if (await this.runningHandle(name))
      throw new ServiceError('conflict', `pipeline "${name}" is already running`, [], { state: 'running' });
    await this.preflight(def.config);
    try {
      const handle = await this.deps.client.workflow.start<typeof pipelineWorkflow>(PIPELINE_WORKFLOW_TYPE, {
        taskQueue: this.deps.taskQueue,
        workflowId: pipelineWorkflowId(name),
        workflowIdConflictPolicy: 'FAIL',
        args: [{ config: def.config, configVersion: def.version }],
        typedSearchAttributes: [
          { key: OTTERFLOW_PIPELINE, value: name },
          { key: OTTERFLOW_STATUS, value: 'running' },
          { key: OTTERFLOW_KIND, value: 'pipeline' },
        ],
      });
      const described = await handle.describe();
      return summarize(described);
    } catch (err) {
      if (err instanceof WorkflowExecutionAlreadyStartedError)
        throw new ServiceError('conflict', `pipeline "${name}" is already running`, [], { state: 'running' });
      throw err;
    }
  }

  /** Pauses at the next transaction boundary; answers once the workflow has paused. */
  async pause(rawName: string): Promise<PipelineStatusView> {
    return this.control(rawName, 'pause', (h) => h.executeUpdate(pauseUpdate));
  }

  /** Resumes a paused pipeline, or retries a failed one, from the committed position. */
  async resume(rawName: string): Promise<PipelineStatusView> {
    return this.control(rawName, 'resume', (h) => h.executeUpdate(resumeUpdate));
  }

  /** Stops the pipeline for good (the workflow completes); start runs it again from the checkpoint. */
  async stop(rawName: string): Promise<PipelineStatusView> {
    return this.control(rawName, 'stop', (h) => h.executeUpdate(stopUpdate));
  }

  /** Live status: the workflow's status query merged with the replicate activity's last heartbeat. */
  async status(rawName: string): Promise<PipelineStatusView> {
    const name = parseName('pipeline', rawName);
    const described = await this.describe(name);
    const defined = this.deps.store.get(name) !== undefined;
    // A deleted pipeline is gone, unless a workflow still runs under its name.
    if (!defined && described?.summary.status !== 'RUNNING') throw notFound('pipeline', name);
    if (!described) return mergePipelineStatus(name, undefined, undefined, undefined);
    let queried: PipelineStatus | undefined;
    try {
      queried = await this.deps.client.withDeadline(Date.now() + 15_000, () =>
        this.deps.client.workflow.getHandle(pipelineWorkflowId(name)).query(statusQuery),
      );
    } catch {
      // A closed workflow whose history no worker can replay, or no worker at all: visibility still answers.
      queried = undefined;
    }
    return mergePipelineStatus(name, described.summary, queried, described.activity);
  }

  /** [bidirectional] Write conflicts the pipeline recorded on its target, newest first (docs/bidirectional.md). */
  conflicts(rawName: string, limit?: number): Promise<ConflictList> {
    return listPipelineConflicts(this.deps, rawName, limit);
  }

  /** Names of the pipeline definitions that use a datasource. */
  usersOf(datasource: string): string[] {
    return this.deps.store
      .list()
      .filter((d) => d.config.source === datasource || d.config.target === datasource)
      .map((d) => d.config.name);
  }

  private validate(body: unknown): PipelineConfig {
    const result = validatePipelineConfig(body);
    if (!result.ok) {
      const list = result.errors.map((e) => (e.path ? `${e.path}: ${e.message}` : e.message)).join('; ');
      throw new ServiceError(
        'invalid-request',
        `pipeline configuration is not valid: ${list}`,
        result.errors,
      );
    }
    const missing: FieldError[] = [];
    for (const field of ['source', 'target'] as const) {
      if (!this.deps.datasources.exists(result.config[field]))
        missing.push({ path: field, message: `datasource "${result.config[field]}" does not exist` });
    }
    if (missing.length)
      throw new ServiceError(
        'unprocessable',
        `pipeline "${result.config.name}" names ${missing.map((m) => m.message).join(' and ')}; register it first`,
        missing,
      );
    return result.config;
  }

  private async preflight(config: PipelineConfig): Promise<void> {
    const missing: FieldError[] = [];
    for (const field of ['source', 'target'] as const)
      if (!this.deps.datasources.exists(config[field]))
        missing.push({ path: field, message: `datasource "${config[field]}" does not exist` });
    if (missing.length)
      throw new ServiceError(
        'unprocessable',
        `cannot start pipeline "${config.name}": ${missing.map((m) => m.message).join('; ')}`,
        missing,
      );
    const check = await checkSource(this.deps.datasources.resolve(config.source)).catch((err: unknown) => {
      throw prefixed(err, `cannot start pipeline "${config.name}": `);
    });
    const failed = check.checks.filter((c) => !c.ok);
    if (failed.length)
      throw new ServiceError(
        'unprocessable',
        `cannot start pipeline "${config.name}": source "${config.source}" is not ready for replication: ` +
          failed.map((c) => `${c.name} is ${c.actual} (fix: ${c.fix})`).join('; '),
        failed.map((c) => ({ path: `source.${c.name}`, message: `${c.actual}; fix: ${c.fix}` })),
        { checks: check.checks },
      );
    await testConnection(this.deps.datasources.resolve(config.target)).catch((err: unknown) => {
      throw prefixed(err, `cannot start pipeline "${config.name}": `);
    });
  }

  private async control(
    rawName: string,
    action: string,
    run: (h: ReturnType<Client['workflow']['getHandle']>) => Promise<PipelineStatus>,
  ): Promise<PipelineStatusView> {
    const name = parseName('pipeline', rawName);
    const before = await this.describe(name);
    if (!this.deps.store.get(name) && before?.summary.status !== 'RUNNING') throw notFound('pipeline', name);
    if (before?.summary.status !== 'RUNNING')
      throw new ServiceError(
        'conflict',
        `cannot ${action} pipeline "${name}": it is not running (start it first)`,
        [],
        {
          state: before ? before.summary.status.toLowerCase() : 'not started',
        },
      );
    const handle = this.deps.client.workflow.getHandle(pipelineWorkflowId(name));
    const result = await this.runUpdate(name, () => run(handle));
    const after = await this.describe(name);
    return mergePipelineStatus(name, after?.summary ?? before.summary, result, undefined);
  }

  /** Runs an update with a deadline, turning Temporal's errors into problems a person can act on. */
  private async runUpdate<T>(name: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await this.deps.client.withDeadline(Date.now() + UPDATE_DEADLINE_MS, fn);
    } catch (err) {
      if (err instanceof WorkflowUpdateFailedError) {
        const cause = (err.cause as Error | undefined)?.message ?? err.message;
        throw new ServiceError('unprocessable', `pipeline "${name}" refused the request: ${cause}`);
      }
      if (err instanceof WorkflowNotFoundError)
        throw new ServiceError('conflict', `pipeline "${name}" is not running any more`);
      const code = (err as { code?: number }).code;
      if (code === 4 /* DEADLINE_EXCEEDED */ || code === 1 /* CANCELLED */)
        throw new ServiceError(
          'unavailable',
          `pipeline "${name}" did not answer within ${UPDATE_DEADLINE_MS / 1000} s: is a worker running on task queue "${this.deps.taskQueue}"?`,
        );
      throw err;
    }
  }

  private async runningHandle(name: string) {
    const d = await this.describe(name);
    return d?.summary.status === 'RUNNING'
      ? this.deps.client.workflow.getHandle(pipelineWorkflowId(name))
      : undefined;
  }

  private async describe(
    name: string,
  ): Promise<{ summary: WorkflowSummary; activity?: PendingActivity } | undefined> {
    try {
      const d = await this.deps.client.workflow.getHandle(pipelineWorkflowId(name)).describe();
      const pending = d.raw.pendingActivities?.[0];
      let activity: PendingActivity | undefined;
      if (pending) {
        const converter = this.deps.client.options.loadedDataConverter.payloadConverter;
        const payloads = pending.heartbeatDetails?.payloads;
        const progress = payloads?.length
          ? fromPayloadsAtIndex<ReplicateProgress>(converter, 0, payloads)
          : undefined;
        activity = {
          attempt: pending.attempt ?? 1,
          ...(progress ? { progress } : {}),
          ...optionalTime('lastHeartbeatTime', pending.lastHeartbeatTime),
          ...optionalTime('lastStartedTime', pending.lastStartedTime),
          ...(pending.lastWorkerIdentity ? { lastWorkerIdentity: pending.lastWorkerIdentity } : {}),
          ...(pending.lastFailure?.message ? { lastFailure: pending.lastFailure.message } : {}),
        };
      }
      return { summary: summarize(d), ...(activity ? { activity } : {}) };
    } catch (err) {
      if (err instanceof WorkflowNotFoundError) return undefined;
      throw err;
    }
  }
}

function summarize(info: {
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

function optionalTime(
  key: 'lastHeartbeatTime' | 'lastStartedTime',
  ts: { seconds?: unknown; nanos?: number | null } | null | undefined,
): Record<string, string> {
  if (!ts || ts.seconds === undefined || ts.seconds === null) return {};
  const ms = Number(ts.seconds) * 1000 + Math.floor((ts.nanos ?? 0) / 1e6);
  return ms > 0 ? { [key]: new Date(ms).toISOString() } : {};
}

function prefixed(err: unknown, prefix: string): unknown {
  if (err instanceof ServiceError)
    return new ServiceError(err.kind, `${prefix}${err.detail}`, err.errors, err.extensions);
  return err;
}
