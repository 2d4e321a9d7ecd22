import type { BinlogPosition } from '../binlog/types';
import { RetryableTargetError } from '../connectors/dialect';
import type { TargetSession } from '../connectors/target';
import type { PipelineOptions } from '../pipeline/config';
import type { ApplyPlan } from '../pipeline/model';
import { PipelineHaltError } from './errors';
import type { CommittingBatch, HookList, ReplicationHooks } from './hooks';
import { replicationMetrics as metrics } from './metrics';
import { formatPosition } from './positions';
import type { RunReport } from './run-report';

/** A batch handed from the read loop to its commit (possibly running in the background). */
export interface ClosingBatch {
  plan: ApplyPlan;
  /** Position after the batch's last source transaction: its checkpoint. */
  position: BinlogPosition;
  /** The batch holds row changes (or slices were applied): it counts as a batch in the metrics. */
  hasWork: boolean;
  /** Source row changes in the batch, before merging. */
  changes: number;
  /** The source lag heartbeat value the batch carries (ms since epoch). */
  heartbeat: number | undefined;
  /** Hooks that asked for this commit (they get it inline and recognise it in beforeCommit). */
  wantedBy: ReadonlySet<ReplicationHooks>;
}

export interface BatchCommitterOptions {
  pipeline: string;
  session: TargetSession;
  /** The epoch this run claimed: every transaction is fenced with it. */
  epoch: number;
  options: Pick<PipelineOptions, 'onError' | 'missingRow'>;
  hooks: HookList;
  report: RunReport;
}

/**
 * Commits batches through a {@link TargetSession}, and nothing else: one target transaction per batch,
 * opened with the epoch fence, holding the batch's rows, the hooks' records and the checkpoint. It
 * knows no database and no source: the read loop hands it plans and positions.
 *
 * - One batch in flight: `commit(batch, { background: true })` returns at once and the commit runs
 *   while the caller reads the next batch; every other use of the session {@link settle}s it first.
 * - Slices: a source transaction too large for one batch is applied in slices into one open
 *   transaction ({@link applySlice}); the commit that follows closes it, so the target never shows
 *   half a source transaction.
 * - `onError: retryRowByRow`: a batch refused for its data is redone one row at a time in a fresh
 *   transaction (not after slices: their rows are in the transaction that would be rolled back).
 *
 * Several committers' sessions could later work side by side (ordered lanes); this class keeps all
 * per-transaction state of its own session, so a lane is one more instance.
 */
export class BatchCommitter {
  private readonly session: TargetSession;
  /** The checkpoint the open transaction's fence already wrote. */
  private checkpointInTransaction: BinlogPosition | undefined;
  /** Slices of a source transaction are in the open transaction. */
  private slices = false;
  private inflight: Promise<void> | undefined;
  /** When the checkpoint was written last (ms since epoch). */
  lastCheckpointAt = Date.now();

  constructor(private readonly o: BatchCommitterOptions) {
    this.session = o.session;
  }

  /** A batch commit is running in the background. */
  get busy(): boolean {
    return this.inflight !== undefined;
  }

  /** Slices of the batch being read are in the open transaction. */
  get hasSlices(): boolean {
    return this.slices;
  }

  /** Waits for the batch commit in flight, if any; its error surfaces here. */
  async settle(): Promise<void> {
    const p = this.inflight;
    if (!p) return;
    this.inflight = undefined;
    await p;
  }

  /**
   * Builds the statements of `plan` ahead, while the batch before is still being applied (when the
   * target can and no hook rewrites plans before the apply).
   */
  async prebuild(plan: ApplyPlan): Promise<void> {
    if (this.canPrebuild) await this.session.prebuild(plan);
  }

  get canPrebuild(): boolean {
    return this.session.capabilities.prebuild && !this.o.hooks.rewritesPlans;
  }

  /** Applies part of a source transaction into the open transaction (opening it if needed). */
  async applySlice(plan: ApplyPlan, position: BinlogPosition | undefined): Promise<void> {
    await this.settle();
    if (plan.tables.length === 0) return;
    await this.open();
    this.slices = true;
    metrics.slices.inc({ pipeline: this.o.pipeline });
    try {
      await this.applyPlan(await this.o.hooks.beforeApply(plan, this.session), position);
    } catch (err) {
      // Earlier slices of this source transaction are in the same target transaction: no row-by-row redo.
      throw this.session.isDataError(err) ? this.dataErrorHalt(err, position) : err;
    }
  }

  /**
   * Commits a batch: its plan, the hooks' records and the checkpoint, in the open transaction (opened
   * here if no slice opened it). With `background` (and no hook asking for it), the commit runs while
   * the caller goes on; call {@link settle} before anything else uses the session.
   */
  async commit(batch: ClosingBatch, opts: { background?: boolean } = {}): Promise<void> {
    await this.settle();
    const slicesApplied = this.slices;
    this.slices = false;
    const work = this.finish(batch, slicesApplied);
    if (opts.background && batch.wantedBy.size === 0) {
      work.catch(() => {}); // observed by settle(); never an unhandled rejection meanwhile
      this.inflight = work;
    } else {
      await work;
    }
  }

  /** Rolls back the open transaction, if any (the checkpoint stays where it was). */
  async rollback(): Promise<void> {
    this.o.hooks.rolledBack();
    this.slices = false;
    await this.session.rollback();
  }

  /**
   * Opens the target transaction with its fence. Given the batch's `checkpoint` (a batch whose end is
   * known when it opens, i.e. not slices of a transaction still being read), the fence writes it too.
   */
  private async open(checkpoint?: BinlogPosition): Promise<void> {
    if (this.session.inTransaction) return;
    await this.session.begin();
    this.checkpointInTransaction = undefined;
    await this.session.checkpoint.fence(this.o.epoch, checkpoint);
    this.checkpointInTransaction = checkpoint;
    await this.o.hooks.transactionOpened(this.session);
  }

  private async finish(b: ClosingBatch, slicesApplied: boolean): Promise<void> {
    const { session, hooks, report } = this.o;
    await this.open(b.position);
    if (b.plan.tables.length > 0) {
      const plan = await hooks.beforeApply(b.plan, session);
      try {
        await this.applyPlan(plan, b.position);
      } catch (err) {
        if (!session.isDataError(err)) throw err;
        if (this.o.options.onError !== 'retryRowByRow' || slicesApplied)
          throw this.dataErrorHalt(err, b.position);
        await this.applyRowByRow(plan, b.position);
      }
    }
    const committing: CommittingBatch = { position: b.position, wantedBy: b.wantedBy };
    await hooks.beforeCommit(session, committing);
    if (this.checkpointInTransaction !== b.position) await session.checkpoint.write(this.o.epoch, b.position);
    await session.commit();
    hooks.afterCommit(committing);
    report.committed = b.position;
    this.lastCheckpointAt = Date.now();
    const p = this.o.pipeline;
    if (b.hasWork) {
      report.batches++;
      metrics.batches.inc({ pipeline: p });
      metrics.batchSize.observe({ pipeline: p }, b.changes);
    }
    metrics.sourceChanges.inc({ pipeline: p }, b.changes);
    if (b.heartbeat !== undefined) {
      report.lagMs = Math.max(0, Date.now() - b.heartbeat);
      metrics.lagMs.set({ pipeline: p }, report.lagMs);
    }
  }

  private async applyPlan(plan: ApplyPlan, position: BinlogPosition | undefined): Promise<void> {
    // Every apply runs inside the transaction open() began.
    const res = await this.session.apply(plan, { inTransaction: this.session.inTransaction });
    const { report, pipeline: p } = this.o;
    report.addStats(res.stats);
    metrics.rowsApplied.inc({ pipeline: p, op: 'insert' }, res.stats.inserted);
    metrics.rowsApplied.inc({ pipeline: p, op: 'update' }, res.stats.updated);
    metrics.rowsApplied.inc({ pipeline: p, op: 'delete' }, res.stats.deleted);
    metrics.missingRows.inc({ pipeline: p, op: 'update' }, res.stats.missingOnUpdate);
    metrics.missingRows.inc({ pipeline: p, op: 'delete' }, res.stats.missingOnDelete);
    for (const note of res.notes ?? []) report.warn(note);
    if (res.missing.length === 0) return;
    const sample = res.missing
      .slice(0, 3)
      .map((m) => `${m.op} ${m.table} ${JSON.stringify(m.key)}`)
      .join('; ');
    if (this.o.options.missingRow === 'stop') {
      throw new PipelineHaltError(
        `rows missing on the target (${res.stats.missingOnUpdate} updates, ${res.stats.missingOnDelete} deletes): ${sample}`,
        formatPosition(position),
      );
    }
    report.warn(
      `rows missing on the target (updates were written as inserts, deletes had nothing to delete): ${sample}`,
    );
  }

  /**
   * `onError: retryRowByRow`: the batch's multi-row statements failed on a row the target refuses
   * (a duplicate in a secondary unique key, a value too long, a foreign key): redo the batch one row
   * at a time in a fresh transaction, skip and report the rows that fail, apply all the others.
   */
  private async applyRowByRow(plan: ApplyPlan, position: BinlogPosition): Promise<void> {
    const { session, report } = this.o;
    await session.rollback();
    await this.open(position);
    const res = await session.applyRowByRow(plan, { skipFailures: true });
    report.addStats(res.stats);
    for (const note of res.notes ?? []) report.warn(note);
    for (const f of res.failures.slice(0, 5)) {
      report.warn(
        `row skipped at ${formatPosition(position)}: ${f.op} ${f.table} ${JSON.stringify(f.key)}: ${f.message}`,
      );
    }
    if (res.failures.length > 5)
      report.warn(`${res.failures.length - 5} more rows skipped at ${formatPosition(position)}`);
    metrics.errors.inc({ pipeline: this.o.pipeline, kind: 'row-skipped' }, res.failures.length);
  }

  private dataErrorHalt(err: unknown, position: BinlogPosition | undefined): PipelineHaltError {
    return new PipelineHaltError(
      `the target refused a row: ${(err as Error).message}. Fix the target (or the mapping), or set options.onError to ` +
        '"retryRowByRow" to skip and report such rows',
      formatPosition(position),
      { cause: err },
    );
  }
}

/** Errors the run passes on as they are (the activity retries or halts on them). */
export function isKnownRunError(err: unknown): boolean {
  return err instanceof PipelineHaltError || err instanceof RetryableTargetError;
}
