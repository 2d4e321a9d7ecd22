import type { PipelineOptions } from './config';

/**
 * When to end a batch. Pure: the activity passes timestamps in (no clock here), and follows the
 * answers:
 * - `commit` comes only at a source transaction boundary (`endTransaction`, or `tick` between
 *   transactions), so the target never shows half a source transaction;
 * - a batch is committed once it holds `maxRowChanges` row changes or has been open `maxDelayMs`;
 * - `flush` comes inside a huge transaction when the merger holds `maxBufferedOps` ops: apply them in
 *   the still-open target transaction and keep going ("flush but don't commit"), so memory stays
 *   bounded whatever the transaction size; the commit follows at the transaction's end.
 *
 * Typical loop: beginTransaction → (merge rows; rowChanges → maybe flush)* → endTransaction → maybe
 * commit; while the stream is idle, call tick at `deadline()`. After committing call `committed()`.
 * DDL and stream end are boundaries too: the activity commits what it holds before them, whatever
 * the policy says, and calls `committed()`.
 */
export interface BatchLimits {
  /** Row changes (before merging) after which the batch ends at the next transaction boundary. */
  maxRowChanges: number;
  /** Age of a batch after which it ends at the next transaction boundary. */
  maxDelayMs: number;
  /**
   * Merged ops held in memory before a mid-transaction flush. Default 2 × maxRowChanges: a batch of
   * ordinary transactions commits near maxRowChanges, so only a transaction that alone runs past the
   * batch size is flushed in pieces.
   */
  maxBufferedOps?: number;
}

export interface BatchState {
  /** Row changes in the batch so far (including flushed sub-batches). */
  rowChanges: number;
  /** Source transactions completed in the batch. */
  transactions: number;
  /** Flushes done inside the batch's open target transaction. */
  flushes: number;
  /** When the batch opened (its first transaction began); undefined when empty. */
  openedAt: number | undefined;
  inTransaction: boolean;
}

export class BatchPolicy {
  private readonly maxBufferedOps: number;
  private state: BatchState = emptyState();

  constructor(private readonly limits: BatchLimits) {
    if (limits.maxRowChanges < 1) throw new Error('maxRowChanges must be at least 1');
    this.maxBufferedOps = Math.max(1, limits.maxBufferedOps ?? 2 * limits.maxRowChanges);
  }

  /** The policy of a pipeline's options (batchSize, maxBatchDelayMs). */
  static fromOptions(
    options: Pick<PipelineOptions, 'batchSize' | 'maxBatchDelayMs'>,
    maxBufferedOps?: number,
  ) {
    return new BatchPolicy({
      maxRowChanges: options.batchSize,
      maxDelayMs: options.maxBatchDelayMs,
      maxBufferedOps,
    });
  }

  /** A source transaction begins (BEGIN / GTID event). */
  beginTransaction(now: number): void {
    this.state.inTransaction = true;
    this.state.openedAt ??= now;
  }

  /**
   * `count` row changes of the current transaction were merged; `bufferedOps` is the merger's size.
   * Returns 'flush' when the ops must be applied now, without committing.
   */
  rowChanges(count: number, bufferedOps: number, now: number): 'continue' | 'flush' {
    this.state.openedAt ??= now;
    this.state.rowChanges += count;
    if (bufferedOps >= this.maxBufferedOps) {
      this.state.flushes++;
      return 'flush';
    }
    return 'continue';
  }

  /** The current source transaction ended (XID / COMMIT): commit here when the batch is full or old. */
  endTransaction(now: number): 'continue' | 'commit' {
    this.state.inTransaction = false;
    this.state.transactions++;
    this.state.openedAt ??= now;
    return this.due(now) ? 'commit' : 'continue';
  }

  /** Nothing arrived: commit the complete transactions held once the batch is old enough. */
  tick(now: number): 'continue' | 'commit' {
    if (this.state.inTransaction || this.state.transactions === 0) return 'continue';
    return this.due(now) ? 'commit' : 'continue';
  }

  /** When `tick` would commit (for the activity's timer); undefined when nothing is waiting. */
  deadline(): number | undefined {
    const s = this.state;
    if (s.inTransaction || s.transactions === 0 || s.openedAt === undefined) return undefined;
    return s.openedAt + this.limits.maxDelayMs;
  }

  /** The batch was committed: start a new one. Keeps an open transaction open (commit at DDL mid-stream). */
  committed(): void {
    const inTransaction = this.state.inTransaction;
    this.state = emptyState();
    this.state.inTransaction = inTransaction;
  }

  /** A copy of the counters (status, tests). */
  snapshot(): BatchState {
    return { ...this.state };
  }

  private due(now: number): boolean {
    const s = this.state;
    return s.rowChanges >= this.limits.maxRowChanges || now - (s.openedAt ?? now) >= this.limits.maxDelayMs;
  }
}

function emptyState(): BatchState {
  return { rowChanges: 0, transactions: 0, flushes: 0, openedAt: undefined, inTransaction: false };
}
