import type { BinlogPosition, RowChange } from '../binlog/types';
import type { TargetSession } from '../connectors/target';
import type { ApplyPlan, MappedChange } from '../pipeline/model';

/**
 * What features beside plain replication plug into a replicate run: bidirectional channels
 * (channel-session.ts) and DBLog re-sync (backfill/resync-coordinator.ts). The read loop and the batch
 * committer call these at fixed points and know nothing about the features themselves. Every method
 * is optional; hooks are called in the order they were given.
 */
export interface ReplicationHooks {
  /**
   * Read side, first stage: holds each source transaction's row changes until its fate is known (a
   * channel drops transactions carrying its own mark). At most one hook supplies a gate.
   */
  readonly gate?: SourceGate;
  /**
   * The hook changes plans before they are applied ({@link beforeApply}): the committer then never
   * builds a batch's statements ahead of time.
   */
  readonly rewritesPlans?: boolean;

  /**
   * Every source row change, before mapping (system-schema rows included). Returns mapped changes to
   * add to the batch right before this one (re-sync chunk rows at their HIGH watermark), or nothing.
   */
  onRow?(change: RowChange): readonly MappedChange[] | undefined;
  /** A whole source transaction was dropped by the gate. */
  sourceTransactionDropped?(): void;
  /** True while the hook needs the batch committed at the next transaction boundary, inline. */
  wantsCommit?(): boolean;
  /** Between source transactions, after the commit decision (the batch before may still be in flight). */
  betweenTransactions?(): Promise<void>;

  /** Target transaction opened and fenced; nothing replicated is in it yet. */
  transactionOpened?(session: TargetSession): Promise<void>;
  /** Inside the open transaction, right before a plan is applied: may return a smaller plan. */
  beforeApply?(plan: ApplyPlan, session: TargetSession): Promise<ApplyPlan>;
  /** Inside the open transaction, after the batch's rows, before its checkpoint and COMMIT. */
  beforeCommit?(session: TargetSession, batch: CommittingBatch): Promise<void>;
  /** The batch's transaction committed. */
  afterCommit?(batch: CommittingBatch): void;
  /** The open target transaction rolled back (error, abort or row-by-row retry). */
  rolledBack?(): void;
  /** End of the run. */
  close?(): Promise<void>;
}

/** What the hooks learn about a batch that commits. */
export interface CommittingBatch {
  position: BinlogPosition;
  /** The hooks whose {@link ReplicationHooks.wantsCommit} was true when the batch was closed. */
  wantedBy: ReadonlySet<ReplicationHooks>;
}

/** A row change plus where it was read (for error messages), as it passes the gate. */
export interface GateItem {
  change: RowChange;
  file: string | undefined;
  pos: number | undefined;
}

/** The read loop's gate (see {@link ReplicationHooks.gate}). */
export interface SourceGate {
  /** Offers the next row change; returns the changes that may go on now (possibly none, possibly held ones). */
  offer(item: GateItem): readonly GateItem[];
  /** The transaction ended: what to release, and whether it was dropped. */
  endTransaction(): { release: readonly GateItem[]; dropped: boolean; lateMark: boolean };
}

const NOBODY: ReadonlySet<ReplicationHooks> = new Set();

/** Several hooks called as one, in order. */
export class HookList {
  readonly gate: SourceGate | undefined;
  readonly rewritesPlans: boolean;
  private readonly onRowHooks: ReplicationHooks[];
  private readonly beforeApplyHooks: ReplicationHooks[];
  private readonly wantsCommitHooks: ReplicationHooks[];

  constructor(readonly hooks: readonly ReplicationHooks[]) {
    const gates = hooks.filter((h) => h.gate);
    if (gates.length > 1) throw new Error('internal: more than one hook supplies a source gate');
    this.gate = gates[0]?.gate;
    this.rewritesPlans = hooks.some((h) => h.rewritesPlans === true);
    this.onRowHooks = hooks.filter((h) => h.onRow);
    this.beforeApplyHooks = hooks.filter((h) => h.beforeApply);
    this.wantsCommitHooks = hooks.filter((h) => h.wantsCommit);
  }

  /** Hot path: no allocation when no hook adds rows. */
  onRow(change: RowChange): readonly MappedChange[] | undefined {
    let out: MappedChange[] | undefined;
    for (const h of this.onRowHooks) {
      const added = h.onRow!(change);
      if (added && added.length > 0) {
        out ??= [];
        out.push(...added);
      }
    }
    return out;
  }

  sourceTransactionDropped(): void {
    for (const h of this.hooks) h.sourceTransactionDropped?.();
  }

  /** Some hook wants the batch committed at this boundary. */
  anyWantsCommit(): boolean {
    for (const h of this.wantsCommitHooks) if (h.wantsCommit!()) return true;
    return false;
  }

  /** The hooks that want the batch committed now (empty: none). */
  wantingCommit(): ReadonlySet<ReplicationHooks> {
    if (!this.anyWantsCommit()) return NOBODY;
    return new Set(this.wantsCommitHooks.filter((h) => h.wantsCommit!()));
  }

  async betweenTransactions(): Promise<void> {
    for (const h of this.hooks) await h.betweenTransactions?.();
  }

  async transactionOpened(session: TargetSession): Promise<void> {
    for (const h of this.hooks) await h.transactionOpened?.(session);
  }

  async beforeApply(plan: ApplyPlan, session: TargetSession): Promise<ApplyPlan> {
    let p = plan;
    for (const h of this.beforeApplyHooks) p = await h.beforeApply!(p, session);
    return p;
  }

  async beforeCommit(session: TargetSession, batch: CommittingBatch): Promise<void> {
    for (const h of this.hooks) await h.beforeCommit?.(session, batch);
  }

  afterCommit(batch: CommittingBatch): void {
    for (const h of this.hooks) h.afterCommit?.(batch);
  }

  rolledBack(): void {
    for (const h of this.hooks) h.rolledBack?.();
  }

  async close(): Promise<void> {
    for (const h of this.hooks) await h.close?.().catch(() => {});
  }
}
