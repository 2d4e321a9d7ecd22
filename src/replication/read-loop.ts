import { setImmediate as yieldToIo } from 'node:timers/promises';
import type { BinlogEvent } from '../binlog/events';
import type { BinlogPosition, RowChange } from '../binlog/types';
import { type TableInfoSource, TargetTableMissingError } from '../connectors/dialect';
import { SYSTEM_SCHEMA } from '../connectors/target';
import { DEFAULT_MAX_BATCH_BYTES, type PipelineConfig } from '../pipeline/config';
import type { Mapper } from '../pipeline/mapping/mapper';
import { BatchMerger } from '../pipeline/merge';
import { type ApplyPlan, type KeyKind, type MappedChange, type TableRef, tableKey } from '../pipeline/model';
import type { BatchCommitter } from './committer';
import type { ReplicateProgress } from './contract';
import type { DdlOutcome } from './ddl-handler';
import { PipelineHaltError } from './errors';
import { HEARTBEAT_TABLE } from './heartbeat';
import type { HookList } from './hooks';
import { replicationMetrics as metrics } from './metrics';
import { formatPosition } from './positions';
import type { RunReport } from './run-report';

/** One source event as the read loop consumes it (the binlog stream's events have this shape). */
export interface SourceEvent {
  event: BinlogEvent;
  file: string | undefined;
  pos: number | undefined;
  /** Set on the event that ends a source transaction: the position right after it. */
  commit: BinlogPosition | undefined;
}

/** The source events, plus how many are already waiting (none waiting = caught up with the source). */
export interface SourceEvents extends AsyncIterable<SourceEvent> {
  backlog(): number;
}

/** Applies one source DDL statement to the target by the pipeline's policy (ddl-handler.ts). */
export interface DdlStep {
  handle(
    schema: string,
    sql: string,
    where: string,
    committed: BinlogPosition | undefined,
  ): Promise<DdlOutcome>;
}

export interface ReadLoopOptions {
  config: PipelineConfig;
  events: SourceEvents;
  /** Completes table definitions before the next event is decoded (table maps, DDL, compressed payloads). */
  resolveSchema?: (event: BinlogEvent) => Promise<void>;
  mapper: Mapper;
  /** Target key columns, read once per table. */
  tables: TableInfoSource;
  committer: BatchCommitter;
  hooks: HookList;
  ddl: DdlStep;
  report: RunReport;
  /** Return at the first transaction boundary after this time (ms since epoch). */
  deadline: number;
  signal?: AbortSignal;
  onProgress?: (p: ReplicateProgress) => void;
  progressEveryMs?: number;
}

/** Without mapped rows, the checkpoint still advances this often so a restart does not re-read much. */
const IDLE_CHECKPOINT_MS = 1000;
/** While a batch commits in the background, the reading loop lets I/O run at least this often. */
const YIELD_EVERY_MS = 1;

/**
 * The read side of a replicate run: source events → gate (hooks) → mapper → per-key merger, cut into
 * batches on source transaction boundaries and handed to the {@link BatchCommitter}. Decides when a
 * batch ends (size, bytes, age, caught up, a hook asking) and when a source transaction too large for
 * one batch is applied in slices (only a transaction that alone reaches the limits: a batch filling up
 * in the middle of an ordinary transaction waits for its end and commits in the background).
 */
export class ReadLoop {
  private readonly config: PipelineConfig;
  private readonly name: string;
  readonly merger: BatchMerger;
  private readonly keyColumns = new Map<string, readonly string[]>();
  private readonly keyKinds = new Map<string, KeyKind>();
  /**
   * Target table objects (by identity) whose key columns are in `keyColumns`: the per-row check
   * without building a name string. Weak: a transform may return a new TableRef per row.
   */
  private knownTargets = new WeakSet<TableRef>();
  private readonly maxBatchBytes: number;
  /** Position after the last source transaction whose changes are in the merger / open transaction. */
  private pending: BinlogPosition | undefined;
  private batchOpenedAt = 0;
  private changesInBatch = 0;
  /** Bytes of the mapped tables' row events whose changes are in the merger (options.maxBatchBytes). */
  private bytesHeld = 0;
  /** Changes and row-event bytes of the source transaction being read, since it began or its last slice. */
  private changesInTransaction = 0;
  private bytesInTransaction = 0;
  /** The source heartbeat value carried by the current batch (ms since epoch). */
  private heartbeatInBatch: number | undefined;
  /** A DDL was applied: its position must reach the checkpoint at once (DDL is not transactional). */
  private checkpointNow = false;
  private lastProgressAt = 0;

  constructor(private readonly o: ReadLoopOptions) {
    this.config = o.config;
    this.name = o.config.name;
    // A pipeline started before maxBatchBytes existed carries a config without it: the default applies.
    this.maxBatchBytes = o.config.options.maxBatchBytes ?? DEFAULT_MAX_BATCH_BYTES;
    this.merger = new BatchMerger(
      (t) => this.keyColumns.get(tableKey(t)) ?? [],
      (t) => o.mapper.weightOf(t),
      // Key-less tables may hold identical rows: the merger must not collapse their changes.
      (t) => this.keyKinds.get(tableKey(t)) ?? 'primary',
      o.config.options.channel !== undefined, // first before images, for conflict checks
    );
  }

  /** Reads until the deadline, the end of the events or an abort; commits (or rolls back) what it holds. */
  async run(): Promise<void> {
    const { o } = this;
    let lastYield = performance.now();
    try {
      for await (const ev of o.events) {
        if (o.signal?.aborted) break;
        const kind = ev.event.kind;
        if (o.resolveSchema && (kind === 'tableMap' || kind === 'query' || kind === 'transactionPayload')) {
          await o.resolveSchema(ev.event);
        }
        await this.handle(ev.event, ev.file, ev.pos);
        // With queued events the loop continues through promise jobs only, which starve I/O: the batch
        // commit in flight would get its statement results (and send its next statement) only once
        // this loop awaits the target itself. Letting I/O run every millisecond overlaps the two.
        if (o.committer.busy && performance.now() - lastYield >= YIELD_EVERY_MS) {
          await yieldToIo();
          lastYield = performance.now();
        }
        if (ev.commit) {
          await this.endOfSourceTransaction(ev.commit, ev.event);
          if (Date.now() >= o.deadline) break;
        }
        this.maybeProgress();
      }
      if (o.signal?.aborted) {
        await o.committer.settle();
        await o.committer.rollback();
      } else {
        await this.commitBatch(true);
        await o.committer.settle();
      }
    } catch (err) {
      await o.committer.settle().catch(() => {});
      await o.committer.rollback();
      throw err;
    }
  }

  private async handle(event: BinlogEvent, file: string | undefined, pos: number | undefined): Promise<void> {
    switch (event.kind) {
      case 'rows': {
        if (this.o.mapper.isMapped(event.table.schema, event.table.table)) {
          this.bytesHeld += event.header.eventSize;
          this.bytesInTransaction += event.header.eventSize;
        }
        // Most rows are taken synchronously (addChange returns undefined): no promise per row.
        const gate = this.o.hooks.gate;
        const rows = event.rows;
        for (let i = 0; i < rows.length; i++) {
          const change = rows[i] as RowChange;
          const pending = gate ? this.offerChange(change, file, pos) : this.addChange(change, file, pos);
          if (pending) await pending;
        }
        return;
      }
      case 'transactionPayload':
        for (const inner of event.events) await this.handle(inner, file, pos);
        return;
      case 'query':
        if (event.statement === 'ddl') await this.applyDdl(event.schema, event.query, `${file}:${pos}`);
        return;
      default:
        return;
    }
  }

  private async applyDdl(schema: string, sql: string, where: string): Promise<void> {
    const { committer, report } = this.o;
    // A DDL commits implicitly: everything before it is one finished batch.
    await this.commitBatch(true);
    await committer.settle();
    const done = await this.o.ddl.handle(schema, sql, where, report.committed);
    if (done.applied) report.ddlApplied++;
    this.checkpointNow = true;
    for (const table of done.invalidated) {
      this.keyColumns.delete(table);
      this.keyKinds.delete(table);
    }
    if (done.invalidated.length > 0) this.knownTargets = new WeakSet();
    if (done.warning) report.warn(done.warning);
  }

  /** The gate holds a transaction's changes until it knows the transaction is not to be dropped. */
  private async offerChange(
    change: RowChange,
    file: string | undefined,
    pos: number | undefined,
  ): Promise<void> {
    for (const it of this.o.hooks.gate!.offer({ change, file, pos })) {
      const pending = this.addChange(it.change, it.file, it.pos);
      if (pending) await pending;
    }
  }

  /** The gate's verdict at a commit: releases held changes; true when the transaction was dropped. */
  private async gateVerdict(commit: BinlogPosition): Promise<boolean> {
    const gate = this.o.hooks.gate;
    if (!gate) return false;
    const v = gate.endTransaction();
    for (const it of v.release) {
      const pending = this.addChange(it.change, it.file, it.pos);
      if (pending) await pending;
    }
    if (v.lateMark)
      this.o.report.warn(
        `the transaction ending at ${formatPosition(commit)} carries a channel mark after ${this.config.options.batchSize} row changes: ` +
          'it was replicated whole (write otterflow.marks first in the transaction)',
      );
    if (v.dropped) this.o.hooks.sourceTransactionDropped();
    return v.dropped;
  }

  /**
   * Takes one source row change into the batch. Hot path (once per row): everything is synchronous
   * and it returns undefined, unless it must wait for the target (a table's key columns not yet
   * known, a slice to apply, hook rows joining); then it returns the promise of the rest of the work,
   * which the caller awaits before the next row.
   */
  private addChange(
    change: RowChange,
    file: string | undefined,
    pos: number | undefined,
  ): Promise<void> | undefined {
    const joined = this.o.hooks.onRow(change);
    if (joined) return this.addJoinedThen(joined, change, file, pos);
    return this.addSourceChange(change, file, pos);
  }

  private async addJoinedThen(
    joined: readonly MappedChange[],
    change: RowChange,
    file: string | undefined,
    pos: number | undefined,
  ): Promise<void> {
    for (const m of joined) await this.ensureKeyColumns(m);
    this.merger.addAll(joined as MappedChange[]);
    const pending = this.addSourceChange(change, file, pos);
    if (pending) await pending;
  }

  private addSourceChange(
    change: RowChange,
    file: string | undefined,
    pos: number | undefined,
  ): Promise<void> | undefined {
    const table = change.table;
    if (table.schema === SYSTEM_SCHEMA) {
      this.noteHeartbeat(change);
      return undefined; // system tables are never replicated
    }
    let mapped: MappedChange[];
    try {
      mapped = this.o.mapper.map(change);
    } catch (err) {
      throw new PipelineHaltError((err as Error).message, `${file}:${pos} ${table.schema}.${table.table}`, {
        cause: err,
      });
    }
    if (mapped.length === 0) return undefined;
    for (let i = 0; i < mapped.length; i++) {
      if (!this.knownTargets.has((mapped[i] as MappedChange).target)) return this.addMappedAfterKeys(mapped);
    }
    return this.addMapped(mapped);
  }

  private async addMappedAfterKeys(mapped: MappedChange[]): Promise<void> {
    for (const m of mapped) await this.ensureKeyColumns(m);
    const pending = this.addMapped(mapped);
    if (pending) await pending;
  }

  /** Mapped changes whose target key columns are known: into the merger. */
  private addMapped(mapped: MappedChange[]): Promise<void> | undefined {
    if (this.changesInBatch === 0) this.batchOpenedAt = Date.now();
    this.merger.addAll(mapped);
    this.changesInBatch++;
    this.changesInTransaction++;
    this.o.report.sourceChanges++;
    if (
      this.changesInTransaction >= this.config.options.batchSize ||
      this.bytesInTransaction >= this.maxBatchBytes
    ) {
      // A source transaction that by itself outgrew a batch: apply a slice, keep the transaction open.
      // (The merger then holds at most about twice the limits: earlier whole transactions below them,
      // plus this one's slice.)
      return this.applySlice();
    }
    return undefined;
  }

  private async applySlice(): Promise<void> {
    await this.o.committer.settle();
    await this.o.committer.applySlice(this.drainMerger(), this.pending);
  }

  private async ensureKeyColumns(m: MappedChange): Promise<void> {
    if (this.knownTargets.has(m.target)) return;
    const key = tableKey(m.target);
    if (this.keyColumns.has(key)) {
      this.knownTargets.add(m.target);
      return;
    }
    try {
      const info = await this.o.tables.get(m.target);
      this.keyColumns.set(key, info.keyColumns);
      this.keyKinds.set(key, info.keyKind);
      this.knownTargets.add(m.target);
      if (info.keyKind !== 'primary') {
        this.o.report.warn(
          info.keyKind === 'unique'
            ? `${key} has no primary key: rows are matched by unique key (${info.keyColumns.join(', ')})`
            : `${key} has neither a primary nor a unique key: rows are matched on all columns (slow; duplicates are ambiguous)`,
        );
      }
    } catch (err) {
      if (err instanceof TargetTableMissingError) {
        throw new PipelineHaltError(`${err.message}: create it on the target or fix the mapping`, key, {
          cause: err,
        });
      }
      throw err;
    }
  }

  private noteHeartbeat(change: RowChange): void {
    if (change.kind === 'delete' || change.table.table !== HEARTBEAT_TABLE) return;
    const cols = change.table.columns;
    const p = cols.findIndex((c) => c.name === 'pipeline');
    const w = cols.findIndex((c) => c.name === 'written_at_ms');
    if (p < 0 || w < 0 || change.after[p] !== this.name) return;
    const v = change.after[w];
    if (typeof v === 'bigint' || typeof v === 'number') this.heartbeatInBatch = Number(v);
  }

  private async endOfSourceTransaction(commit: BinlogPosition, event: BinlogEvent): Promise<void> {
    const { committer, hooks } = this.o;
    const dropped = await this.gateVerdict(commit);
    this.changesInTransaction = 0;
    this.bytesInTransaction = 0;
    if (event.kind !== 'rotate' && !dropped) {
      this.o.report.transactions++;
      metrics.transactions.inc({ pipeline: this.name });
    }
    this.pending = commit;
    const o = this.config.options;
    const full =
      this.merger.size() >= o.batchSize || this.bytesHeld >= this.maxBatchBytes || committer.hasSlices;
    const due = this.changesInBatch > 0 && Date.now() - this.batchOpenedAt >= o.maxBatchDelayMs;
    // Caught up with the source: nothing is waiting, so committing now costs no batching and gives the lowest lag.
    const caughtUp = this.o.events.backlog() === 0;
    // A dropped transaction alone never opens a target transaction: two idle opposite channel
    // pipelines would otherwise bounce checkpoint-only transactions between them forever.
    const onlyDropped = dropped && this.merger.size() === 0 && !committer.hasSlices;
    if (this.checkpointNow) {
      this.checkpointNow = false;
      await this.commitBatch(true);
    } else if (onlyDropped) {
      // the position advances with the next batch (or at the end of the run)
    } else if (full || due || caughtUp || this.heartbeatInBatch !== undefined || hooks.anyWantsCommit()) {
      await this.commitBatch(false, { background: true });
    }
    await hooks.betweenTransactions();
  }

  private drainMerger(): ApplyPlan {
    this.bytesHeld = 0;
    this.changesInTransaction = 0;
    this.bytesInTransaction = 0;
    return this.merger.drain();
  }

  /**
   * Closes the batch and hands it to the committer. With nothing to apply, the checkpoint still
   * advances now and then (or when `force`d) so an idle or unmapped source does not leave a stale
   * position behind. With `background`, the commit runs while reading goes on (the merger is drained
   * first, so the batches are distinct); a batch a hook asked for always commits inline.
   */
  private async commitBatch(force: boolean, opts: { background?: boolean } = {}): Promise<void> {
    const { committer } = this.o;
    // A background commit comes right after a source transaction ended, so the merger holds whole
    // transactions only. While the batch before is still being applied, build this one's statements:
    // the target finds them ready when it is done instead of idling while they are built.
    let ahead: ApplyPlan | undefined;
    if (
      opts.background &&
      committer.busy &&
      committer.canPrebuild &&
      this.merger.size() > 0 &&
      !committer.hasSlices
    ) {
      ahead = this.drainMerger();
      await committer.prebuild(ahead);
    }
    await committer.settle();
    const position = this.pending;
    if (!position) {
      if (ahead) throw new Error('internal: a batch was drained without a position to commit it at');
      return;
    }
    const hasWork = ahead !== undefined || this.merger.size() > 0 || committer.hasSlices;
    if (
      !hasWork &&
      !force &&
      Date.now() - committer.lastCheckpointAt < IDLE_CHECKPOINT_MS &&
      this.heartbeatInBatch === undefined
    ) {
      return;
    }
    const batch = {
      plan: ahead ?? this.drainMerger(),
      position,
      hasWork,
      changes: this.changesInBatch,
      heartbeat: this.heartbeatInBatch,
      wantedBy: this.o.hooks.wantingCommit(),
    };
    this.pending = undefined;
    this.changesInBatch = 0;
    this.heartbeatInBatch = undefined;
    await committer.commit(batch, opts);
  }

  private maybeProgress(): void {
    const every = this.o.progressEveryMs ?? 1000;
    const now = Date.now();
    if (!this.o.onProgress || now - this.lastProgressAt < every) return;
    this.lastProgressAt = now;
    this.o.onProgress(this.o.report.progress(now));
  }
}
