import {
  ActivityCancellationType,
  ApplicationFailure,
  CancellationScope,
  ContinueAsNew,
  continueAsNew,
  executeChild,
  isCancellation,
  proxyActivities,
  setHandler,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import type { Activities } from '../activities';
import { backfillWorkflowId } from '../backfill/contract';
import {
  type RepairInput,
  type RepairStatus,
  type TableVerification,
  type VerificationInput,
  type VerificationState,
  type VerificationStatus,
  type VerifyChunkResult,
  verificationStatusQuery,
} from '../verification/contract';
import { backfillWorkflow } from './backfill';
import { OTTERFLOW_KIND, OTTERFLOW_PIPELINE, OTTERFLOW_STATUS } from './search-attributes';

/** Chunks compared at once: the work waits on two servers in turn, so more lanes than cores pay off. */
const DEFAULT_PARALLELISM = 4;
/** Chunks one activity compares (each recorded as it is done): fewer Temporal round trips per chunk. */
const CHUNKS_PER_ACTIVITY = 4;
/** Chunk activities per workflow run before continue-as-new (about 6 history events each). */
const CHUNKS_PER_HISTORY = 1_500;

const activityOptions = {
  heartbeatTimeout: '30 seconds',
  cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
  retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '30 seconds' },
} as const;

const {
  verifyPlan,
  verifyPendingChunks,
  verifyCompareChunks,
  verifyFinish,
  verifyRepairPrepare,
  verifyRepairCheck,
  verifyRepairStatus,
} = proxyActivities<Activities>({ ...activityOptions, startToCloseTimeout: '1 hour' });

/**
 * A verification of a pipeline: plan key-range chunks of every compared target table (stored on the
 * target), compare them `parallelism` at a time — each chunk recorded as compared together with its
 * differences, so a resumed run skips it — and end as done, failed or cancelled.
 * Progress: the `verificationStatus` query; search attributes OtterflowKind=verification,
 * OtterflowPipeline, OtterflowStatus (the state). The report itself is on the target (report-store.ts).
 */
export async function verificationWorkflow(input: VerificationInput): Promise<VerificationStatus> {
  const started = input.carried?.startedAt ?? new Date().toISOString();
  const status: VerificationStatus = {
    id: input.id,
    pipeline: input.config.name,
    state: 'planning',
    chunksTotal: 0,
    chunksDone: 0,
    rowsCompared: 0,
    rowsPerSecond: 0,
    differences: 0,
    tables: [],
    startedAt: started,
    updatedAt: started,
  };
  setHandler(verificationStatusQuery, () => status);
  const setState = (s: VerificationState) => {
    status.state = s;
    status.updatedAt = new Date().toISOString();
    upsertSearchAttributes([{ key: OTTERFLOW_STATUS, value: s }]);
  };
  upsertSearchAttributes([
    { key: OTTERFLOW_KIND, value: 'verification' },
    { key: OTTERFLOW_PIPELINE, value: input.config.name },
    { key: OTTERFLOW_STATUS, value: status.state },
  ]);
  const finish = (state: VerificationState, error?: string) =>
    CancellationScope.nonCancellable(() =>
      verifyFinish({ verificationId: input.id, config: input.config, state, ...(error ? { error } : {}) }),
    );
  try {
    await compareAll(input, status, setState);
  } catch (err) {
    if (err instanceof ContinueAsNew) throw err;
    if (isCancellation(err)) {
      await finish('cancelled');
      setState('cancelled');
      throw err;
    }
    status.lastError = errorMessage(err);
    await finish('failed', status.lastError);
    setState('failed');
    throw err;
  }
  await finish('done');
  status.finishedAt = new Date().toISOString();
  setState('done');
  return status;
}

async function compareAll(
  input: VerificationInput,
  status: VerificationStatus,
  setState: (s: VerificationState) => void,
): Promise<void> {
  const parallelism = Math.max(1, input.parallelism ?? DEFAULT_PARALLELISM);
  const perLane = input.maxRowsPerSecond
    ? Math.max(1, Math.floor(input.maxRowsPerSecond / parallelism))
    : undefined;
  const plan = await verifyPlan({
    verificationId: input.id,
    config: input.config,
    ...(input.tables ? { tables: input.tables } : {}),
    ...(input.where !== undefined ? { where: input.where } : {}),
    ...(input.keyRange ? { keyRange: input.keyRange } : {}),
    ...(input.chunkSize ? { chunkSize: input.chunkSize } : {}),
    ...(perLane ? { laneRowsPerSecond: perLane } : {}),
  });
  status.chunksTotal = plan.chunks;
  const pending = await verifyPendingChunks({ verificationId: input.id, config: input.config });
  status.chunksDone = plan.chunks - pending.length;
  setState('comparing');
  const budget = pending.slice(0, Math.max(1, input.chunksPerRun ?? CHUNKS_PER_HISTORY));
  const byTable = new Map<string, TableVerification>();
  // Batches small enough that every lane gets work, at most CHUNKS_PER_ACTIVITY chunks each.
  const perActivity = Math.max(
    1,
    Math.min(CHUNKS_PER_ACTIVITY, Math.floor(budget.length / (parallelism * 2))),
  );
  let next = 0;
  const lane = async () => {
    while (next < budget.length) {
      const chunkNos = budget.slice(next, next + perActivity);
      next += chunkNos.length;
      const results = await verifyCompareChunks({
        verificationId: input.id,
        config: input.config,
        chunkNos,
        ...(input.keyRange ? { keyRange: input.keyRange } : {}),
        ...(perLane ? { maxRowsPerSecond: perLane } : {}),
        ...(input.catchUpSeconds ? { catchUpSeconds: input.catchUpSeconds } : {}),
        ...(input.channel ? { channel: input.channel } : {}),
      });
      for (const r of results) count(r);
    }
  };
  const count = (r: VerifyChunkResult) => {
    const t = byTable.get(r.table) ?? emptyTable(r.table);
    byTable.set(r.table, t);
    t.chunksDone++;
    t.rowsSource += r.rowsSource;
    t.rowsTarget += r.rowsTarget;
    status.tables = [...byTable.values()];
    status.chunksDone++;
    status.rowsCompared += r.rowsSource;
    status.differences += r.differences;
    const seconds = Math.max(0.001, (Date.now() - Date.parse(status.startedAt)) / 1000);
    status.rowsPerSecond = Math.round(status.rowsCompared / seconds);
    status.updatedAt = new Date().toISOString();
  };
  await Promise.all(Array.from({ length: Math.min(parallelism, budget.length) }, lane));
  if (budget.length < pending.length || workflowInfo().continueAsNewSuggested)
    await continueAsNew<typeof verificationWorkflow>({ ...input, carried: { startedAt: status.startedAt } });
}

function emptyTable(table: string): TableVerification {
  return {
    table,
    sources: [],
    chunks: 0,
    chunksDone: 0,
    rowsSource: 0,
    rowsTarget: 0,
    missing: 0,
    extra: 0,
    different: 0,
    unsettled: 0,
  };
}

/**
 * The repair of a finished verification: rows only on the target that the source still lacks are
 * deleted; the keys of missing and different rows are re-synced through the pipeline's DBLog re-sync
 * (a child backfill per source table, keys only); then every difference is compared again and its
 * outcome (`repaired` / `remaining`) recorded in the report.
 */
export async function verificationRepairWorkflow(input: RepairInput): Promise<RepairStatus> {
  const repair: RepairStatus = {
    state: 'running',
    requested: 0,
    repaired: 0,
    remaining: 0,
    startedAt: new Date().toISOString(),
  };
  upsertSearchAttributes([
    { key: OTTERFLOW_KIND, value: 'verification-repair' },
    { key: OTTERFLOW_PIPELINE, value: input.config.name },
    { key: OTTERFLOW_STATUS, value: 'running' },
  ]);
  const save = () => verifyRepairStatus({ ...input, repair });
  await save();
  try {
    const resyncs = await verifyRepairPrepare(input);
    repair.requested = resyncs.reduce((n, r) => n + r.keys.length, 0);
    let seq = 0;
    for (const r of resyncs) {
      const id = `${input.verificationId}.repair-${seq++}`;
      await executeChild(backfillWorkflow, {
        workflowId: backfillWorkflowId(id),
        args: [{ id, kind: 'resync', config: input.config, tables: [r.table], keys: r.keys }],
        typedSearchAttributes: [
          { key: OTTERFLOW_KIND, value: 'backfill' },
          { key: OTTERFLOW_PIPELINE, value: input.config.name },
          { key: OTTERFLOW_STATUS, value: 'planning' },
        ],
      });
    }
    const checked = await verifyRepairCheck(input);
    repair.repaired = checked.repaired;
    repair.remaining = checked.remaining;
    repair.state = 'done';
  } catch (err) {
    repair.state = 'failed';
    repair.lastError = errorMessage(err);
  }
  repair.finishedAt = new Date().toISOString();
  await save();
  upsertSearchAttributes([{ key: OTTERFLOW_STATUS, value: repair.state }]);
  if (repair.state === 'failed') throw ApplicationFailure.nonRetryable(repair.lastError ?? 'repair failed');
  return repair;
}

function errorMessage(err: unknown): string {
  const cause = (err as { cause?: unknown }).cause;
  if (cause instanceof Error) return cause.message;
  return err instanceof Error ? err.message : String(err);
}
