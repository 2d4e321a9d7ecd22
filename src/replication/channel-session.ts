import type mysql from 'mysql2/promise';
import client from 'prom-client';
import { ensureSourceMarksTable, readPeerSite } from '../connectors/mysql/source';
import type { ChannelMark, ChannelMarks, TargetSession } from '../connectors/target';
import type { ChannelConfig } from '../pipeline/config';
import type { ApplyPlan } from '../pipeline/model';
import { TransactionGate } from './channel';
import { ConflictChecker, type ConflictRecord, type PeerSite } from './conflicts';
import type { GateItem, ReplicationHooks } from './hooks';

/**
 * What a replicate run of a CHANNEL pipeline does besides plain replication (docs/bidirectional.md),
 * as replication hooks: the transaction gate on the read side, the mark in every target transaction,
 * the conflict check before each apply and the conflict records in the same transaction. Only a
 * pipeline with `options.channel` has these hooks. The target needs the `channels` capability.
 */

export const channelMetrics = {
  droppedTransactions: new client.Counter({
    name: 'otterflow_channel_dropped_transactions_total',
    help: 'Source transactions not replicated because they carry this channel’s (or the suppress-sync) mark',
    labelNames: ['pipeline'] as const,
  }),
  conflicts: new client.Counter({
    name: 'otterflow_conflicts_total',
    help: 'Write conflicts detected on the target, by resolution (applied = source change written, skipped = target kept)',
    labelNames: ['pipeline', 'resolution'] as const,
  }),
  skippedDdl: new client.Counter({
    name: 'otterflow_channel_skipped_ddl_total',
    help: 'DDL statements a channel pipeline did not apply: echo = carries this channel’s (or the suppress-sync) marker; gone = a DROP TABLE of tables the target no longer has',
    labelNames: ['pipeline', 'reason'] as const,
  }),
};

export interface ChannelSessionOptions {
  pipeline: string;
  channel: ChannelConfig;
  target: TargetSession;
  /** The SOURCE connection (MySQL/MariaDB): its mark table and the opposite pipeline's registration. */
  source: mysql.Connection;
  /** Changes held per undecided source transaction (the pipeline's batch size). */
  holdLimit: number;
  warn: (message: string) => void;
}

export class ChannelSession implements ReplicationHooks {
  readonly gate: TransactionGate<GateItem>;
  readonly rewritesPlans = true;
  private readonly marks: ChannelMarks;
  private readonly mark: ChannelMark;
  private readonly checker: ConflictChecker;
  private readonly sitePriority: number;
  /** Conflicts of the open target transaction (stored just before its COMMIT). */
  private pending: ConflictRecord[] = [];
  private peer: PeerSite | undefined;
  private peerLookedUp = false;
  droppedTransactions = 0;
  conflicts = 0;

  constructor(private readonly opts: ChannelSessionOptions) {
    const c = opts.channel.conflict;
    this.sitePriority = c?.sitePriority ?? 0;
    if (!opts.target.marks)
      throw new Error(
        `pipeline "${opts.pipeline}": a ${opts.target.dialect} target cannot take part in a bidirectional channel`,
      );
    this.marks = opts.target.marks;
    this.mark = { channel: opts.channel.id, pipeline: opts.pipeline, sitePriority: this.sitePriority };
    this.gate = new TransactionGate<GateItem>(opts.channel.id, Math.max(1, opts.holdLimit));
    this.checker = new ConflictChecker({
      pipeline: opts.pipeline,
      channel: opts.channel.id,
      settings: {
        policy: c?.policy ?? 'sourceWins',
        ...(c?.column !== undefined ? { column: c.column } : {}),
        sitePriority: this.sitePriority,
      },
      tables: opts.target.tables,
      reader: this.marks.rows,
      peer: () => this.peerSite(),
      warn: opts.warn,
    });
  }

  /**
   * Run start: creates the channel tables on the target and registers our site priority there (a
   * transaction of its own that carries our mark, so the opposite pipeline drops it). The mark
   * table is also created on the source when we may, so applications there can write the
   * suppress-sync marker.
   */
  async prepare(): Promise<void> {
    await this.marks.prepare(this.mark);
    try {
      await ensureSourceMarksTable(this.opts.source);
    } catch (err) {
      this.opts.warn(`cannot create otterflow.marks on the source (${(err as Error).message})`);
    }
  }

  /** Right after the epoch fence of every target transaction: the mark comes before any row. */
  async transactionOpened(): Promise<void> {
    await this.marks.write(this.mark);
  }

  /** Inside the open target transaction, before applying: drops the ops that lose their conflict. */
  async beforeApply(plan: ApplyPlan): Promise<ApplyPlan> {
    const r = await this.checker.check(plan);
    this.pending.push(...r.conflicts);
    return r.plan;
  }

  /** Just before COMMIT: the conflict records join the transaction they are about. */
  async beforeCommit(): Promise<void> {
    if (this.pending.length > 0) await this.marks.insertConflicts(this.pending);
  }

  afterCommit(): void {
    if (this.pending.length === 0) return;
    for (const r of this.pending)
      channelMetrics.conflicts.inc({ pipeline: this.opts.pipeline, resolution: r.resolution });
    this.conflicts += this.pending.length;
    this.opts.warn(
      `write conflicts detected and resolved (policy ${this.opts.channel.conflict?.policy ?? 'sourceWins'}): ` +
        `see GET /v1/pipelines/${this.opts.pipeline}/conflicts`,
    );
    this.pending = [];
  }

  /** The target transaction rolled back: its conflicts are found again when the batch is redone. */
  rolledBack(): void {
    this.pending = [];
  }

  /** A whole source transaction was dropped (ours or suppress-sync). */
  sourceTransactionDropped(): void {
    this.droppedTransactions++;
    channelMetrics.droppedTransactions.inc({ pipeline: this.opts.pipeline });
  }

  private async peerSite(): Promise<PeerSite | undefined> {
    // Looked up once per run, when the first conflict needs it (conflicts are rare).
    if (!this.peerLookedUp) {
      this.peer = await readPeerSite(this.opts.source, this.opts.channel.id, this.opts.pipeline);
      this.peerLookedUp = this.peer !== undefined;
    }
    return this.peer;
  }
}
