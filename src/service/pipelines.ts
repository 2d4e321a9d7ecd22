import {
  type Client,
  WorkflowExecutionAlreadyStartedError,
  WorkflowNotFoundError,
  WorkflowUpdateFailedError,
} from '@temporalio/client';
import { fromPayloadsAtIndex } from '@temporalio/common';
import { z } from 'zod';
import { type PipelineRepository, StaleVersionError } from '../catalog/types';
import { taskQueueFor } from '../config/regions';
import { targetConnectorFor } from '../connectors/registry';
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
import { alreadyExists, catalogProblem } from './catalog-problems';
import { type ConflictList, listPipelineConflicts } from './conflicts'; // [bidirectional]
import { checkSource, checkTarget, unreachable } from './connectivity';
import type { DatasourceService } from './datasources';
import { parseName } from './names';
import {
  mergePipelineStatus,
  optionalTime,
  type PendingActivity,
  type PipelineStatusView,
  summarize,
  type WorkflowSummary,
} from './pipeline-status';
import type { PipelineDefinition } from './pipeline-store';
import { type FieldError, notFound, ServiceError } from './problems';
import { describeRegionWorkers, noWorkerWarning, regionText, withRegion } from './region-workers';
import { type PipelineVerificationView, pipelineVerificationSchema } from './verification-schedule-schemas';

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
    verification: pipelineVerificationSchema.optional(),
  })
  .meta({ id: 'Pipeline' });

export type PipelineView = z.infer<typeof pipelineViewSchema>;

export interface PipelineServiceDeps {
  store: PipelineRepository;
  datasources: DatasourceService;
  client: Client;
  /** The base task queue; a pipeline with a region runs on `<taskQueue>-<region>`. */
  taskQueue: string;
  /** Follows the pipeline's life (its verification schedule) and reports its verifications. */
  verification?: PipelineVerificationHooks;
}

/** What keeps a pipeline's verification schedule in step with the pipeline (verification-schedules.ts). */
export interface PipelineVerificationHooks {
  pipelineChanged(def: PipelineDefinition): Promise<void>;
  pipelineStarted(def: PipelineDefinition): Promise<void>;
  pipelineStopped(name: string): Promise<void>;
  pipelineDeleted(name: string): Promise<void>;
  summary(name: string): Promise<PipelineVerificationView>;
}

/**
 * Pipelines: definitions in the catalog, life in Temporal (one workflow `pipeline:<name>`).
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
    const definitions = await this.deps.store.list();
    for (const d of definitions)
      byName.set(d.config.name, { name: d.config.name, definition: d, workflow: null });
    const queues = new Set([this.deps.taskQueue]);
    for (const d of definitions) queues.add(taskQueueFor(this.deps.taskQueue, d.config.region));
    const query =
      `WorkflowType = '${PIPELINE_WORKFLOW_TYPE}' AND OtterflowKind = 'pipeline' ` +
      `AND TaskQueue IN (${[...queues].map((q) => `'${q.replace(/'/g, "''")}'`).join(', ')})`;
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
    const definition = await this.deps.store.get(name);
    const workflow = await this.describe(name);
    if (!definition && workflow?.summary.status !== 'RUNNING') throw notFound('pipeline', name);
    const verification = definition ? await this.verificationOf(name) : undefined;
    return {
      name,
      definition: definition ?? null,
      workflow: workflow?.summary ?? null,
      ...(verification ? { verification } : {}),
    };
  }

  /** Validates and stores a new definition. Nothing runs until start. */
  async create(body: unknown): Promise<PipelineDefinition> {
    const config = await this.validate(body);
    if (await this.deps.store.get(config.name)) throw alreadyExists('pipeline', config.name);
    try {
      return await this.deps.store.create(config);
    } catch (err) {
      throw catalogProblem(err);
    }
  }

  /**
   * Replaces a definition. On a running pipeline the new configuration is sent to the workflow
   * first (the `updateConfig` update: it resumes from the committed position); the definition is
   * stored only once the workflow accepted it, so a refused update changes nothing. With
   * `expectedVersion` (If-Match) a definition changed by someone else meanwhile is a 409 that names
   * the current version, checked before the running workflow is touched.
   */
  async update(
    rawName: string,
    body: unknown,
    expectedVersion?: number,
  ): Promise<{ definition: PipelineDefinition; appliedToRunning: boolean }> {
    const name = parseName('pipeline', rawName);
    const existing = await this.deps.store.get(name);
    if (!existing) throw notFound('pipeline', name);
    // The body first: a request that breaks the document is a 400 whatever the version says.
    const config = await this.validate(body);
    if (expectedVersion !== undefined && expectedVersion !== existing.version)
      throw catalogProblem(new StaleVersionError('pipeline', name, expectedVersion, existing.version));
    if (config.name !== name)
      throw new ServiceError(
        'unprocessable',
        `a pipeline cannot be renamed (URL says "${name}", body says "${config.name}")`,
        [{ path: 'name', message: `must be "${name}"` }],
      );
    const running = await this.runningHandle(name);
    if (running && config.region !== existing.config.region)
      throw new ServiceError(
        'conflict',
        `pipeline "${name}" is running in ${regionText(existing.config.region)}: stop it, change the region, then start it`,
        [{ path: 'region', message: 'cannot change while the pipeline runs' }],
      );
    if (running)
      await this.runUpdate(name, () => running.executeUpdate(updateConfigUpdate, { args: [config] }));
    try {
      const definition = await this.deps.store.update(config, expectedVersion);
      await this.deps.verification?.pipelineChanged(definition);
      return { definition, appliedToRunning: running !== undefined };
    } catch (err) {
      throw catalogProblem(err);
    }
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
    expectedVersion?: number,
  ): Promise<{ stopped: boolean; checkpoint: 'kept' | 'dropped' | 'none' }> {
    const name = parseName('pipeline', rawName);
    const existing = await this.deps.store.get(name);
    if (!existing) throw notFound('pipeline', name);
    if (expectedVersion !== undefined && expectedVersion !== existing.version)
      throw catalogProblem(new StaleVersionError('pipeline', name, expectedVersion, existing.version));
    const running = await this.runningHandle(name);
    if (running && !force)
      throw new ServiceError(
        'conflict',
        `pipeline "${name}" is running; stop it first, or force the delete (API ?force=true, CLI --force) to stop it and then delete it`,
      );
    if (running) await this.runUpdate(name, () => running.executeUpdate(stopUpdate));
    let checkpoint: 'kept' | 'dropped' | 'none' = 'kept';
    if (dropCheckpoint) checkpoint = (await this.dropCheckpoint(existing.config)) ? 'dropped' : 'none';
    await this.deps.verification?.pipelineDeleted(name);
    let removed: boolean;
    try {
      removed = await this.deps.store.remove(name, expectedVersion);
    } catch (err) {
      throw catalogProblem(err);
    }
    // Another process deleted it meanwhile: that delete was the one that happened.
    if (!removed && !running) throw notFound('pipeline', name);
    return { stopped: running !== undefined, checkpoint };
  }

  /** Deletes the pipeline's checkpoint on its target (with its recorded source server). True when there was one. */
  private async dropCheckpoint(config: PipelineConfig): Promise<boolean> {
    const target = await this.deps.datasources.resolve(config.target);
    // Unreachable: a 422 before anything is deleted (the definition stays, so the delete can be retried).
    const session = await targetConnectorFor(target)
      .open(target, { pipeline: config.name })
      .catch((err: unknown) => {
        throw unreachable(target, err);
      });
    try {
      return await session.checkpoint.remove();
    } finally {
      await session.close();
    }
  }

  /**
   * Starts the pipeline's workflow after checking everything that can be checked first: both
   * datasources exist and answer, and the source can be replicated from (binlog settings and
   * grants). Any failure is a 4xx and nothing is started.
   */
  async start(rawName: string): Promise<WorkflowSummary> {
    const name = parseName('pipeline', rawName);
    const def = await this.deps.store.get(name);
    if (!def) throw notFound('pipeline', name);
    if (await this.runningHandle(name))
      throw new ServiceError('conflict', `pipeline "${name}" is already running`, [], { state: 'running' });
    await this.preflight(def.config);
    try {
      const handle = await this.deps.client.workflow.start<typeof pipelineWorkflow>(PIPELINE_WORKFLOW_TYPE, {
        taskQueue: taskQueueFor(this.deps.taskQueue, def.config.region),
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
      await this.deps.verification?.pipelineStarted(def);
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
    const view = await this.control(rawName, 'stop', (h) => h.executeUpdate(stopUpdate));
    await this.deps.verification?.pipelineStopped(view.name);
    return view;
  }

  /** Live status: the workflow's status query merged with the replicate activity's last heartbeat. */
  async status(rawName: string): Promise<PipelineStatusView> {
    const name = parseName('pipeline', rawName);
    const described = await this.describe(name);
    const definition = await this.deps.store.get(name);
    // A deleted pipeline is gone, unless a workflow still runs under its name.
    if (!definition && described?.summary.status !== 'RUNNING') throw notFound('pipeline', name);
    const region = definition?.config.region;
    const verification = definition ? await this.verificationOf(name) : undefined;
    const withVerification = (v: PipelineStatusView) => (verification ? { ...v, verification } : v);
    if (!described)
      return withVerification(withRegion(mergePipelineStatus(name, undefined, undefined, undefined), region));
    // A pipeline whose task queue nobody polls looks idle: say that no worker serves its region
    // (and do not wait for a status query that no worker can answer).
    const running = described.summary.status === 'RUNNING';
    const pollers = running
      ? await describeRegionWorkers(this.deps.client, described.summary.taskQueue)
      : undefined;
    let queried: PipelineStatus | undefined;
    if (pollers === undefined || pollers.length > 0) {
      try {
        queried = await this.deps.client.withDeadline(Date.now() + 15_000, () =>
          this.deps.client.workflow.getHandle(pipelineWorkflowId(name)).query(statusQuery),
        );
      } catch {
        // A closed workflow whose history no worker can replay, or no worker at all: visibility still answers.
        queried = undefined;
      }
    }
    const view = withRegion(
      mergePipelineStatus(name, described.summary, queried, described.activity),
      region,
    );
    if (pollers) {
      view.pollers = pollers;
      if (pollers.length === 0)
        view.warnings = [...view.warnings, noWorkerWarning(described.summary.taskQueue, region)];
    }
    return withVerification(view);
  }

  /** The verification schedule and newest verification; left out when they cannot be read now. */
  private async verificationOf(name: string): Promise<PipelineVerificationView | undefined> {
    return this.deps.verification?.summary(name).catch(() => undefined);
  }

  /** [bidirectional] Write conflicts the pipeline recorded on its target, newest first (docs/bidirectional.md). */
  conflicts(rawName: string, limit?: number): Promise<ConflictList> {
    return listPipelineConflicts(this.deps, rawName, limit);
  }

  private async validate(body: unknown): Promise<PipelineConfig> {
    const result = validatePipelineConfig(body);
    if (!result.ok) {
      const list = result.errors.map((e) => (e.path ? `${e.path}: ${e.message}` : e.message)).join('; ');
      throw new ServiceError(
        result.stage === 'schema' ? 'invalid-request' : 'unprocessable',
        `pipeline configuration is not valid: ${list}`,
        result.errors,
      );
    }
    const missing: FieldError[] = [];
    for (const field of ['source', 'target'] as const) {
      if (!(await this.deps.datasources.exists(result.config[field])))
        missing.push({ path: field, message: `datasource "${result.config[field]}" does not exist` });
    }
    if (missing.length)
      throw new ServiceError(
        'unprocessable',
        `pipeline "${result.config.name}" names ${missing.map((m) => m.message).join(' and ')}; register it first`,
        missing,
      );
    if (result.config.options.channel) await this.assertChannelSides(result.config);
    return result.config;
  }

  /**
   * [bidirectional] Both datasources of a channel pipeline are each the other pipeline's target: both
   * must keep channel marks (a database without them cannot tell its own echoes from new changes).
   */
  private async assertChannelSides(config: PipelineConfig): Promise<void> {
    const refused: FieldError[] = [];
    for (const field of ['source', 'target'] as const) {
      const ds = await this.deps.datasources.get(config[field]);
      let connector: ReturnType<typeof targetConnectorFor> | undefined;
      try {
        connector = targetConnectorFor(ds);
      } catch {
        connector = undefined;
      }
      if (!connector?.capabilities.channels)
        refused.push({
          path: 'options.channel',
          message:
            `${field} datasource "${ds.name}" (${ds.kind}) cannot be a side of a bidirectional channel: ` +
            `a ${connector?.dialect ?? ds.kind} target keeps no channel marks, so the opposite pipeline could not ` +
            'recognise its own changes coming back (and only MySQL/MariaDB binlogs can be read as a source)',
        });
    }
    if (refused.length)
      throw new ServiceError(
        'unprocessable',
        `pipeline "${config.name}": ${refused.map((r) => r.message).join('; ')}. Replicate one way (leave out options.channel).`,
        refused,
      );
  }

  private async preflight(config: PipelineConfig): Promise<void> {
    const missing: FieldError[] = [];
    for (const field of ['source', 'target'] as const)
      if (!(await this.deps.datasources.exists(config[field])))
        missing.push({ path: field, message: `datasource "${config[field]}" does not exist` });
    if (missing.length)
      throw new ServiceError(
        'unprocessable',
        `cannot start pipeline "${config.name}": ${missing.map((m) => m.message).join('; ')}`,
        missing,
      );
    const check = await checkSource(await this.deps.datasources.resolve(config.source)).catch(
      (err: unknown) => {
        throw prefixed(err, `cannot start pipeline "${config.name}": `);
      },
    );
    const failed = check.checks.filter((c) => !c.ok);
    if (failed.length)
      throw new ServiceError(
        'unprocessable',
        `cannot start pipeline "${config.name}": source "${config.source}" is not ready for replication: ` +
          failed.map((c) => `${c.name} is ${c.actual} (fix: ${c.fix})`).join('; '),
        failed.map((c) => ({ path: `source.${c.name}`, message: `${c.actual}; fix: ${c.fix}` })),
        { checks: check.checks },
      );
    await checkTarget(await this.deps.datasources.resolve(config.target)).catch((err: unknown) => {
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
    if (!(await this.deps.store.get(name)) && before?.summary.status !== 'RUNNING')
      throw notFound('pipeline', name);
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
          `pipeline "${name}" did not answer within ${UPDATE_DEADLINE_MS / 1000} s: is a worker polling its task queue (see its status)?`,
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

function prefixed(err: unknown, prefix: string): unknown {
  if (err instanceof ServiceError)
    return new ServiceError(err.kind, `${prefix}${err.detail}`, err.errors, err.extensions);
  return err;
}
