import {
  ActivityCancellationType,
  ApplicationFailure,
  CancellationScope,
  continueAsNew,
  isCancellation,
  proxyActivities,
  setHandler,
  sleep,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import type { Activities } from '../activities';
import {
  type BackfillInput,
  type BackfillState,
  type BackfillStatus,
  backfillStatusQuery,
  backfillWorkflowId,
  type CopyChunksResult,
  initialLoadId,
} from '../backfill/contract';
import { OTTERFLOW_KIND, OTTERFLOW_PIPELINE, OTTERFLOW_STATUS } from './search-attributes';

const DEFAULT_INITIAL_CHUNK = 10_000;
const DEFAULT_RESYNC_CHUNK = 2_000;
const DEFAULT_PARALLELISM = 4;
/** Chunk activities per workflow run before continue-as-new (about 6 history events each). */
const CHUNKS_PER_HISTORY = 1_500;
/** How often a resync polls the progress the replicator writes. */
const RESYNC_POLL = '2 seconds';

const activityOptions = {
  heartbeatTimeout: '15 seconds',
  cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
  retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '30 seconds' },
} as const;

const { backfillPlan, backfillPendingChunks, backfillCopyChunks } = proxyActivities<Activities>({
  ...activityOptions,
  startToCloseTimeout: '2 hours',
});
const { backfillRequestResync, backfillResyncProgress, backfillCancelResync } = proxyActivities<Activities>({
  ...activityOptions,
  startToCloseTimeout: '5 minutes',
});

/**
 * A backfill: the initial load of a pipeline (plan chunks, copy them `parallelism` at a time, each
 * chunk done exactly once in the target's `otterflow.backfill_chunks`) or an online re-sync (hand
 * requests to the running pipeline's replicator, which copies chunks between DBLog watermarks, and
 * follow their progress). Cancel the workflow to stop it: running chunk copies roll back.
 * Progress: the `backfillStatus` query; search attributes OtterflowKind=backfill, OtterflowPipeline.
 */
export async function backfillWorkflow(input: BackfillInput): Promise<BackfillStatus> {
  const started = input.carried?.startedAt ?? new Date().toISOString();
  const status: BackfillStatus = {
    id: input.id,
    kind: input.kind,
    pipeline: input.config.name,
    state: 'planning',
    chunksTotal: 0,
    chunksDone: input.carried?.chunksDone ?? 0,
    chunksSkipped: input.carried?.chunksSkipped ?? 0,
    rowsCopied: input.carried?.rowsCopied ?? 0,
    estimatedRows: 0,
    rowsPerSecond: 0,
    startedAt: started,
    updatedAt: started,
  };
  setHandler(backfillStatusQuery, () => status);
  const setState = (s: BackfillState) => {
    status.state = s;
    status.updatedAt = new Date().toISOString();
    upsertSearchAttributes([{ key: OTTERFLOW_STATUS, value: s }]);
  };
  upsertSearchAttributes([
    { key: OTTERFLOW_KIND, value: 'backfill' },
    { key: OTTERFLOW_PIPELINE, value: input.config.name },
    { key: OTTERFLOW_STATUS, value: status.state },
  ]);
  const rate = () => {
    const now = Date.now();
    const seconds = Math.max(0.001, (now - Date.parse(status.startedAt)) / 1000);
    status.rowsPerSecond = Math.round(status.rowsCopied / seconds);
    const left = Math.max(0, status.estimatedRows - status.rowsCopied);
    if (status.rowsPerSecond > 0) status.etaSeconds = Math.round(left / status.rowsPerSecond);
    status.updatedAt = new Date(now).toISOString();
  };

  try {
    if (input.kind === 'initial') await initialLoad(input, status, setState, rate);
    else await resync(input, status, setState, rate);
  } catch (err) {
    if (isCancellation(err)) {
      if (input.kind === 'resync') {
        // Withdraw the requests so the replicator stops taking chunks for them.
        await CancellationScope.nonCancellable(() =>
          backfillCancelResync({ backfillId: input.id, config: input.config }),
        );
      }
      setState('cancelled');
      throw err;
    }
    status.lastError = errorMessage(err);
    setState('failed');
    throw err;
  }
  rate();
  delete status.etaSeconds;
  setState('done');
  return status;
}

async function initialLoad(
  input: BackfillInput,
  status: BackfillStatus,
  setState: (s: BackfillState) => void,
  rate: () => void,
): Promise<void> {
  const plan = await backfillPlan({
    backfillId: input.id,
    config: input.config,
    chunkSize: input.chunkSize ?? DEFAULT_INITIAL_CHUNK,
  });
  status.chunksTotal = plan.chunks;
  status.estimatedRows = plan.estimatedRows;
  const pending = await backfillPendingChunks({ backfillId: input.id, config: input.config });
  // Chunks done before this run (a previous run, a previous attempt): counted, not copied again.
  status.chunksDone = plan.chunks - pending.length;
  setState('copying');

  const parallelism = Math.max(1, input.parallelism ?? DEFAULT_PARALLELISM);
  const perLane = input.maxRowsPerSecond
    ? Math.max(1, Math.floor(input.maxRowsPerSecond / parallelism))
    : undefined;
  const budget = pending.slice(0, CHUNKS_PER_HISTORY);
  let next = 0;
  const lane = async () => {
    while (next < budget.length) {
      const chunkNo = budget[next++] as number;
      const r: CopyChunksResult = await backfillCopyChunks({
        backfillId: input.id,
        config: input.config,
        chunkNos: [chunkNo],
        ...(perLane ? { maxRowsPerSecond: perLane } : {}),
      });
      status.rowsCopied += r.rows;
      status.chunksDone += r.copied + r.skipped;
      status.chunksSkipped += r.skipped;
      rate();
    }
  };
  await Promise.all(Array.from({ length: Math.min(parallelism, budget.length) }, lane));
  if (budget.length < pending.length || workflowInfo().continueAsNewSuggested) {
    await continueAsNew<typeof backfillWorkflow>({
      ...input,
      carried: {
        startedAt: status.startedAt,
        rowsCopied: status.rowsCopied,
        chunksDone: status.chunksDone,
        chunksSkipped: status.chunksSkipped,
      },
    });
  }
}

async function resync(
  input: BackfillInput,
  status: BackfillStatus,
  setState: (s: BackfillState) => void,
  rate: () => void,
): Promise<void> {
  if (!input.tables?.length) throw ApplicationFailure.nonRetryable('a resync needs at least one table');
  const req = await backfillRequestResync({
    backfillId: input.id,
    config: input.config,
    tables: input.tables,
    ...(input.where !== undefined ? { where: input.where } : {}),
    ...(input.keys ? { keys: input.keys } : {}),
    chunkSize: input.chunkSize ?? DEFAULT_RESYNC_CHUNK,
    ...(input.maxRowsPerSecond ? { maxRowsPerSecond: input.maxRowsPerSecond } : {}),
  });
  status.estimatedRows = req.estimatedRows;
  setState('copying');
  for (;;) {
    const requests = await backfillResyncProgress({ backfillId: input.id, config: input.config });
    status.requests = requests;
    status.rowsCopied = requests.reduce((n, r) => n + r.rowsCopied, 0);
    status.chunksDone = requests.reduce((n, r) => n + r.chunksDone, 0);
    status.chunksTotal =
      status.chunksDone + requests.filter((r) => r.status === 'pending' || r.status === 'running').length;
    rate();
    const failed = requests.find((r) => r.status === 'failed');
    if (failed)
      throw ApplicationFailure.nonRetryable(
        `re-sync of ${failed.table} failed: ${failed.error ?? 'unknown error'}`,
      );
    if (requests.every((r) => r.status === 'done' || r.status === 'cancelled')) return;
    await sleep(RESYNC_POLL);
  }
}

function errorMessage(err: unknown): string {
  const cause = (err as { cause?: unknown }).cause;
  if (cause instanceof Error) return cause.message;
  return err instanceof Error ? err.message : String(err);
}

/** How the pipeline workflow starts its initial load as a child (one id per pipeline). */
export function initialLoadChildOptions(config: BackfillInput['config']) {
  const id = initialLoadId(config.name);
  return {
    workflowId: backfillWorkflowId(id),
    args: [{ id, kind: 'initial', config }] as [BackfillInput],
    typedSearchAttributes: [
      { key: OTTERFLOW_KIND, value: 'backfill' },
      { key: OTTERFLOW_PIPELINE, value: config.name },
      { key: OTTERFLOW_STATUS, value: 'planning' },
    ],
  };
}
