import {
  ActivityCancellationType,
  ApplicationFailure,
  CancellationScope,
  ContinueAsNew,
  continueAsNew,
  isCancellation,
  patched,
  proxyActivities,
  setHandler,
  sleep,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import type { Activities } from '../activities';
import {
  addEmptyAsNull,
  type BackfillInput,
  type BackfillState,
  type BackfillStatus,
  backfillStatusQuery,
  backfillWorkflowId,
  type CopyChunksResult,
  type DeferredIndexTable,
  initialLoadId,
} from '../backfill/contract';
import { OTTERFLOW_KIND, OTTERFLOW_PIPELINE, OTTERFLOW_STATUS } from './search-attributes';

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

const { backfillPlan, backfillPendingChunks, backfillCopyChunks, backfillDeferIndexes } =
  proxyActivities<Activities>({
    ...activityOptions,
    startToCloseTimeout: '2 hours',
  });
/**
 * Index rebuilds of a big table can take hours; the heartbeat (every 2 s while the ALTER runs) is what
 * detects a dead worker. They ignore cancellation: a cancelled load still gets its indexes back.
 */
const { backfillRestoreIndexes } = proxyActivities<Activities>({
  ...activityOptions,
  startToCloseTimeout: '24 hours',
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
    ...(input.carried?.emptyAsNull ? { emptyAsNull: input.carried.emptyAsNull } : {}),
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
    // Continue-as-new is a thrown "error" too: the next run carries on, indexes still off.
    if (err instanceof ContinueAsNew) throw err;
    const restoreError = input.kind === 'initial' ? await restoreIndexesAfterAll(input, status) : undefined;
    if (restoreError) status.lastError = restoreError;
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
    status.lastError = [errorMessage(err), restoreError].filter(Boolean).join('; ');
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
  const parallelism = Math.max(1, input.parallelism ?? DEFAULT_PARALLELISM);
  const perLane = input.maxRowsPerSecond
    ? Math.max(1, Math.floor(input.maxRowsPerSecond / parallelism))
    : undefined;
  const plan = await backfillPlan({
    backfillId: input.id,
    config: input.config,
    ...(input.chunkSize ? { chunkSize: input.chunkSize } : {}),
    ...(perLane ? { laneRowsPerSecond: perLane } : {}),
  });
  status.chunksTotal = plan.chunks;
  status.estimatedRows = plan.estimatedRows;
  const pending = await backfillPendingChunks({ backfillId: input.id, config: input.config });
  // Chunks done before this run (a previous run, a previous attempt): counted, not copied again.
  status.chunksDone = plan.chunks - pending.length;
  // A run that started before deferred indexes existed replays without them (no new commands in its history).
  const indexes = patched(DEFERRED_INDEXES_PATCH)
    ? await deferIndexes(input, status, pending)
    : NO_DEFERRED_INDEXES;
  setState('copying');

  const budget = indexes
    .deferredFirst(pending)
    .slice(0, Math.max(1, input.chunksPerRun ?? CHUNKS_PER_HISTORY));
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
      if (r.emptyAsNull) status.emptyAsNull = addEmptyAsNull(status.emptyAsNull, r.emptyAsNull);
      status.chunksDone += r.copied + r.skipped;
      status.chunksSkipped += r.skipped;
      rate();
      indexes.chunkDone(chunkNo);
    }
  };
  await Promise.all(Array.from({ length: Math.min(parallelism, budget.length) }, lane));
  if (indexes.rebuilding() > 0) setState('indexing');
  await indexes.settled();
  if (budget.length < pending.length || workflowInfo().continueAsNewSuggested) {
    await continueAsNew<typeof backfillWorkflow>({
      ...input,
      carried: {
        startedAt: status.startedAt,
        rowsCopied: status.rowsCopied,
        chunksDone: status.chunksDone,
        chunksSkipped: status.chunksSkipped,
        ...(status.emptyAsNull ? { emptyAsNull: status.emptyAsNull } : {}),
        ...(status.secondaryIndexes ? { keptIndexes: status.secondaryIndexes.kept } : {}),
      },
    });
  }
}

const DEFERRED_INDEXES_PATCH = 'backfill-deferred-secondary-indexes';

/** Tracks the tables whose secondary indexes are off and starts each one's rebuild when its chunks are done. */
interface IndexRestorer {
  /**
   * The chunks of tables with deferred indexes first (each in plan order), so that their rebuilds
   * run while the other tables are still copying rather than after everything.
   */
  deferredFirst(pending: readonly number[]): number[];
  chunkDone(chunkNo: number): void;
  /** Rebuilds started and not finished yet. */
  rebuilding(): number;
  /** Waits for the rebuilds started so far; throws the first one's failure. */
  settled(): Promise<void>;
}

async function deferIndexes(
  input: BackfillInput,
  status: BackfillStatus,
  pending: readonly number[],
): Promise<IndexRestorer> {
  const deferral =
    input.secondaryIndexes === 'keep'
      ? { tables: [], kept: ['all tables: secondaryIndexes is keep'] }
      : await backfillDeferIndexes({
          backfillId: input.id,
          config: input.config,
          decide: input.carried === undefined,
        });
  const summary = {
    deferred: 0,
    restored: 0,
    tables: deferral.tables.map((t) => `${t.table.schema}.${t.table.table}`),
    kept: [...(input.carried?.keptIndexes ?? []), ...deferral.kept],
  };
  status.secondaryIndexes = summary;
  const inTable = (t: DeferredIndexTable, chunkNo: number) =>
    t.chunkRanges.some(([first, last]) => chunkNo >= first && chunkNo <= last);
  const waiting: { table: DeferredIndexTable; chunksLeft: number }[] = [];
  const rebuilds: Promise<void>[] = [];
  let running = 0;
  let failure: unknown;
  const rebuild = (table: DeferredIndexTable) => {
    running++;
    rebuilds.push(
      backfillRestoreIndexes({ backfillId: input.id, config: input.config, table: table.table })
        .then(
          () => {
            summary.restored += table.indexes;
          },
          (err: unknown) => {
            failure ??= err;
          },
        )
        .finally(() => {
          running--;
        }),
    );
  };
  for (const table of deferral.tables) {
    summary.deferred += table.indexes;
    if (table.restored) summary.restored += table.indexes;
    else waiting.push({ table, chunksLeft: pending.filter((n) => inTable(table, n)).length });
  }
  for (const w of waiting) if (w.chunksLeft === 0) rebuild(w.table);
  return {
    deferredFirst(chunks) {
      const isDeferred = (n: number) => waiting.some((w) => inTable(w.table, n));
      return [...chunks.filter(isDeferred), ...chunks.filter((n) => !isDeferred(n))];
    },
    chunkDone(chunkNo) {
      for (const w of waiting)
        if (w.chunksLeft > 0 && inTable(w.table, chunkNo) && --w.chunksLeft === 0) rebuild(w.table);
    },
    rebuilding: () => running,
    async settled() {
      await Promise.all(rebuilds);
      if (failure !== undefined) throw failure;
    },
  };
}

const NO_DEFERRED_INDEXES: IndexRestorer = {
  deferredFirst: (pending) => [...pending],
  chunkDone: () => {},
  rebuilding: () => 0,
  settled: async () => {},
};

/**
 * After a cancelled or failed initial load: whatever indexes are still off go back on.
 * Returns why they did not, if they did not.
 */
async function restoreIndexesAfterAll(
  input: BackfillInput,
  status: BackfillStatus,
): Promise<string | undefined> {
  if (input.secondaryIndexes === 'keep' || !status.secondaryIndexes?.deferred) return undefined;
  try {
    await CancellationScope.nonCancellable(() =>
      backfillRestoreIndexes({ backfillId: input.id, config: input.config }),
    );
    status.secondaryIndexes.restored = status.secondaryIndexes.deferred;
    return undefined;
  } catch (err) {
    return `secondary indexes not restored: ${errorMessage(err)}`;
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
