import {
  ActivityCancellationType,
  ApplicationFailure,
  allHandlersFinished,
  CancellationScope,
  condition,
  continueAsNew,
  executeChild,
  isCancellation,
  proxyActivities,
  setHandler,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import type { Activities } from '../activities';
import type { PipelineConfig } from '../pipeline/config';
import { backfillWorkflow, initialLoadChildOptions } from './backfill';
import {
  type PipelineState,
  type PipelineStatus,
  type PipelineWorkflowInput,
  pauseUpdate,
  type ReplicateResult,
  resumeUpdate,
  statusQuery,
  stopUpdate,
  updateConfigUpdate,
  zeroCounters,
} from './pipeline-contract';
import { OTTERFLOW_KIND, OTTERFLOW_PIPELINE, OTTERFLOW_STATUS } from './search-attributes';

/** One replicate activity run lasts this long before the workflow records progress and starts the next. */
const RUN_SECONDS = 30;
/** A dead worker's activity moves to another worker after this long without a heartbeat. */
const HEARTBEAT_TIMEOUT = '10 seconds';
/** Continue-as-new after this many runs even if the server does not suggest it: keeps history small. */
const RUNS_PER_HISTORY = 500;
/** Warnings kept in the status. */
const MAX_WARNINGS = 20;

const { replicate } = proxyActivities<Activities>({
  // A safety net only: dead workers are caught by the heartbeat timeout. A run ends at the first
  // transaction boundary after its time is up, which for a huge source transaction can be much later.
  startToCloseTimeout: '2 hours',
  heartbeatTimeout: HEARTBEAT_TIMEOUT,
  cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
  retry: {
    initialInterval: '1 second',
    backoffCoefficient: 2,
    maximumInterval: '30 seconds',
    // Databases that restart, networks that drop: retried forever. Errors that need a person
    // (bad config, corrupt event, DDL policy) are thrown as non-retryable by the activity.
  },
});

/**
 * A replication pipeline: a small state machine around the replicate activity.
 * Rows never pass through here; only positions and counters do.
 */
export async function pipelineWorkflow(input: PipelineWorkflowInput): Promise<PipelineStatus> {
  let config: PipelineConfig = input.config;
  const runSeconds = input.tuning?.runSeconds ?? RUN_SECONDS;
  const runsPerHistory = input.tuning?.runsPerHistory ?? RUNS_PER_HISTORY;
  const now = () => new Date().toISOString();
  const status: PipelineStatus = {
    name: config.name,
    configVersion: input.configVersion,
    state: input.carried?.state ?? 'running',
    counters: input.carried?.counters ?? zeroCounters(),
    warnings: input.carried?.warnings ?? [],
    startedAt: input.carried?.startedAt ?? now(),
    updatedAt: now(),
    ...(input.carried?.position ? { position: input.carried.position } : {}),
    ...(input.carried?.lastError ? { lastError: input.carried.lastError } : {}),
    ...(input.carried?.initialLoadDone ? { initialLoadDone: true } : {}),
  };
  let wantPause = status.state === 'paused';
  let wantStop = false;
  let runScope: CancellationScope | undefined;

  const setState = (state: PipelineState) => {
    if (status.state !== state) {
      status.state = state;
      upsertSearchAttributes([{ key: OTTERFLOW_STATUS, value: state }]);
    }
    status.updatedAt = now();
  };
  /** Interrupts the running activity; it rolls back its open batch and returns. */
  const interrupt = () => runScope?.cancel();
  /** True once the loop has acted on a pause request (or failed/stopped meanwhile). */
  const settled = () => status.state !== 'running';

  setHandler(statusQuery, () => status);
  setHandler(pauseUpdate, async () => {
    wantPause = true;
    interrupt();
    await condition(settled);
    return status;
  });
  setHandler(resumeUpdate, async () => {
    wantPause = false;
    status.warnings = [];
    if (status.state === 'failed') delete status.lastError;
    setState('running');
    return status;
  });
  setHandler(stopUpdate, async () => {
    wantStop = true;
    interrupt();
    await condition(() => status.state === 'stopped');
    return status;
  });
  setHandler(
    updateConfigUpdate,
    async (next: PipelineConfig) => {
      config = next;
      status.configVersion += 1;
      status.warnings = [];
      // The running activity keeps the old config until its current batch commits; restart it so the
      // new one takes effect at the next transaction boundary, from the committed position.
      interrupt();
      if (status.state === 'failed') {
        delete status.lastError;
        setState(wantPause ? 'paused' : 'running');
      }
      return status;
    },
    {
      validator: (next: PipelineConfig) => {
        if (next.name !== config.name) throw new Error('a pipeline cannot be renamed by a config update');
      },
    },
  );

  // Whoever started the workflow, the Web UI can filter pipelines by name, kind and status.
  upsertSearchAttributes([
    { key: OTTERFLOW_STATUS, value: status.state },
    { key: OTTERFLOW_PIPELINE, value: config.name },
    { key: OTTERFLOW_KIND, value: 'pipeline' },
  ]);

  for (let runs = 0; ; runs++) {
    if (wantStop) break;
    if (wantPause || status.state === 'failed') {
      if (status.state !== 'failed') setState('paused');
      await condition(() => wantStop || (!wantPause && status.state !== 'failed'));
      continue;
    }
    setState('running');
    runScope = new CancellationScope();
    try {
      // Initial load (backfill): copy existing rows once, before the first replicate run.
      if (config.options.loadExistingData && !status.initialLoadDone) {
        await runScope.run(() => executeChild(backfillWorkflow, initialLoadChildOptions(config)));
        status.initialLoadDone = true;
      }
      const result = await runScope.run(() =>
        replicate({ config, configVersion: status.configVersion, maxSeconds: runSeconds }),
      );
      record(status, result);
      delete status.lastError;
    } catch (err) {
      if (!isCancellation(err)) {
        // Retryable errors never get here (the retry policy retries forever); this one needs a person.
        const failure = innermostFailure(err);
        const message = failure instanceof Error ? failure.message : String(err);
        const details =
          failure instanceof ApplicationFailure ? (failure.details?.[0] as { where?: string }) : undefined;
        status.lastError = {
          message,
          at: now(),
          retryable: false,
          ...(details?.where ? { where: details.where } : {}),
        };
        setState('failed');
      }
    } finally {
      runScope = undefined;
    }
    status.updatedAt = now();
    if (workflowInfo().continueAsNewSuggested || runs + 1 >= runsPerHistory) {
      // Settle pending requests first: a stop ends here, a pause is carried as state, and every
      // update handler must have returned before the history is closed.
      if (wantStop) continue;
      if (wantPause) setState('paused');
      await condition(allHandlersFinished);
      const { name: _n, configVersion, ...carried } = status;
      await continueAsNew<typeof pipelineWorkflow>({
        config,
        configVersion,
        carried,
        ...(input.tuning ? { tuning: input.tuning } : {}),
      });
    }
  }
  setState('stopped');
  await condition(allHandlersFinished);
  return status;
}

function record(status: PipelineStatus, r: ReplicateResult): void {
  const c = status.counters;
  c.batches += r.batches;
  c.transactions += r.transactions;
  c.sourceRowChanges = (c.sourceRowChanges ?? 0) + r.sourceRowChanges;
  c.inserted += r.inserted;
  c.updated += r.updated;
  c.deleted += r.deleted;
  c.rowsApplied += r.inserted + r.updated + r.deleted;
  c.missingOnUpdate += r.missingOnUpdate;
  c.missingOnDelete += r.missingOnDelete;
  if (r.emptyAsNull) c.emptyAsNull = (c.emptyAsNull ?? 0) + r.emptyAsNull;
  c.ddlApplied += r.ddlApplied;
  if (r.position) status.position = r.position;
  if (r.lagMs !== undefined) status.lagMs = r.lagMs;
  status.rowsPerSecond =
    r.elapsedMs > 0 ? Math.round(((r.inserted + r.updated + r.deleted) * 1000) / r.elapsedMs) : 0;
  status.worker = r.worker;
  // Warnings accumulate (skipped rows, missing rows must not vanish with the next run), newest last,
  // deduplicated and capped; resume and config updates start afresh.
  status.warnings = [...status.warnings.filter((w) => !r.warnings.includes(w)), ...r.warnings].slice(
    -MAX_WARNINGS,
  );
}

/**
 * The failure that says what went wrong: an activity's ApplicationFailure sits under an ActivityFailure,
 * and under a ChildWorkflowFailure too when it came from a child (the initial load).
 */
function innermostFailure(err: unknown): unknown {
  let at = err;
  for (let depth = 0; depth < 8; depth++) {
    if (at instanceof ApplicationFailure) return at;
    const cause = (at as { cause?: unknown } | undefined)?.cause;
    if (cause === undefined || cause === null) return at;
    at = cause;
  }
  return at;
}
