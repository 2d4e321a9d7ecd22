import { setImmediate as yieldToIo } from 'node:timers/promises';
import type mysql from 'mysql2/promise';
import { ResyncCoordinator } from '../backfill/resync-coordinator';
import { BinlogDecoder } from '../binlog/decoder'; // [binlog decoder]
import type { BinlogEvent } from '../binlog/events';
import { openBinlogStream } from '../binlog/replica/stream';
import { InformationSchemaResolver } from '../binlog/schema-resolver'; // [binlog decoder]
import type { BinlogPosition, RowChange } from '../binlog/types';
import type { ResolvedDatasource } from '../config/datasources';
import { RetryableTargetError } from '../connectors/dialect';
import { MysqlApplier } from '../connectors/mysql/applier';
import { claimCheckpoint, fenceBatch, SYSTEM_SCHEMA, writeCheckpoint } from '../connectors/mysql/checkpoint';
import { checkCheckpointSource, readSourceIdentity } from '../connectors/mysql/checkpoint-source';
import { mysqlTlsOptions, openMysql } from '../connectors/mysql/connection';
import { TargetTableMissingError } from '../connectors/mysql/table-info';
import { findUnsupportedColumns } from '../connectors/mysql/type-support';
import { DEFAULT_MAX_BATCH_BYTES, type PipelineConfig } from '../pipeline/config';
import { compileMapper, type Mapper } from '../pipeline/mapping/mapper';
import type { TransformRegistry } from '../pipeline/mapping/transform';
import { BatchMerger } from '../pipeline/merge';
import {
  type ApplyPlan,
  type ApplyStats,
  emptyStats,
  type KeyKind,
  type MappedChange,
  type TableRef,
  tableKey,
} from '../pipeline/model';
import type { ReplicateProgress, ReplicateResult } from '../workflows/pipeline-contract';
import { ChannelSession } from './channel-session'; // [bidirectional]
import { DdlHandler } from './ddl-handler';
import { PipelineHaltError } from './errors';
import { ensureHeartbeatTable, HEARTBEAT_TABLE, HeartbeatWriter } from './heartbeat';
import { replicationMetrics as metrics } from './metrics';
import { formatPosition, initialPosition, replicaServerId } from './positions';

export interface ReplicatorOptions {
  config: PipelineConfig;
  source: ResolvedDatasource;
  target: ResolvedDatasource;
  /** Return at the first transaction boundary after this many seconds. */
  maxSeconds: number;
  /** Aborting stops at once: the open target transaction rolls back, the checkpoint stays where it was. */
  signal?: AbortSignal;
  /** Called at most every `progressEveryMs` with where the run is (the activity heartbeats it). */
  onProgress?: (p: ReplicateProgress) => void;
  progressEveryMs?: number;
  transforms?: TransformRegistry;
  /** Identity for status and logs. */
  worker: string;
  /** Server heartbeat period on the replication connection (stall detection after 3 periods). */
  streamHeartbeatSeconds?: number;
  /** Write the lag heartbeat row on the source (needs write access to the `otterflow` schema there). */
  sourceHeartbeat?: boolean;
}

const MAX_WARNINGS = 20;
/** Without mapped rows, the checkpoint still advances this often so a restart does not re-read much. */
const IDLE_CHECKPOINT_MS = 1000;
/** While a batch commits in the background, the reading loop lets I/O run at least this often. */
const YIELD_EVERY_MS = 1;
const NO_CHANGES: MappedChange[] = [];

/**
 * One replicate run: claim the checkpoint (a new epoch), stream the source binlog from it, map and
 * merge row changes per key, and apply each batch in ONE target transaction together with its
 * checkpoint. Batches end on source transaction boundaries only; a transaction larger than a batch is
 * applied in bounded slices inside a single open target transaction, so the target never shows half
 * a source transaction and memory stays bounded.
 *
 * Data plane only: no Temporal imports. The replicate activity wraps it with heartbeats and
 * cancellation.
 */
export async function replicate(opts: ReplicatorOptions): Promise<ReplicateResult> {
  const run = new ReplicationRun(opts);
  try {
    return await run.execute();
  } finally {
    await run.close();
  }
}

class ReplicationRun {
  private readonly config: PipelineConfig;
  private readonly name: string;
  private readonly startedAt = Date.now();
  private target: mysql.Connection | undefined;
  private source: mysql.Connection | undefined;
  private heartbeat: HeartbeatWriter | undefined;
  private stream: Awaited<ReturnType<typeof openBinlogStream>> | undefined;
  private applier!: MysqlApplier;
  private mapper!: Mapper;
  private merger!: BatchMerger;
  private ddl!: DdlHandler;
  /** Online re-sync (backfill, issue 6): DBLog watermarks handled inside the stream. */
  private resync: ResyncCoordinator | undefined;
  /** [bidirectional] Loop prevention and conflict checks; only when options.channel is set. */
  private channel: ChannelSession | undefined;
  private readonly keyColumns = new Map<string, readonly string[]>();
  private readonly keyKinds = new Map<string, KeyKind>();
  /**
   * Target table objects (by identity) whose key columns are in `keyColumns`: the per-row check
   * without building a name string. Weak: a transform may return a new TableRef per row.
   */
  private knownTargets = new WeakSet<TableRef>();
  private epoch = 0;

  /** A target transaction is open (a batch commit in flight, or slices of a huge source transaction). */
  private txOpen = false;
  /** The checkpoint the open transaction's fence already wrote (see openTransaction). */
  private checkpointInTransaction: BinlogPosition | undefined;
  /** Slices of the batch being read (a source transaction larger than a batch) are in the open transaction. */
  private slicesInBatch = false;
  /** Position after the last source transaction whose changes are in the merger / open transaction. */
  private pending: BinlogPosition | undefined;
  private committed: BinlogPosition | undefined;
  private lastCheckpointAt = 0;
  private batchOpenedAt = 0;
  private changesInBatch = 0;
  /** Bytes of the mapped tables' row events whose changes are in the merger (options.maxBatchBytes). */
  private bytesHeld = 0;
  /**
   * Changes and row-event bytes of the source transaction being read, since it began or since its
   * last slice. Only these decide a slice: a batch that fills up in the middle of an ordinary
   * transaction waits for its end and commits in the background, instead of applying a slice inline.
   */
  private changesInTransaction = 0;
  private bytesInTransaction = 0;
  /** The source heartbeat value carried by the current batch (ms since epoch). */
  private heartbeatInBatch: number | undefined;
  /**
   * The commit of the previous batch, still running while the loop decodes and merges the next one
   * (one batch in flight). Every other use of the target connection settles it first.
   */
  private inflight: Promise<void> | undefined;
  /** A DDL was applied: its position must reach the checkpoint at once (DDL is not transactional). */
  private checkpointNow = false;

  private readonly totals: ApplyStats = emptyStats();
  private transactions = 0;
  private sourceChanges = 0;
  private batches = 0;
  private ddlApplied = 0;
  private lagMs: number | undefined;
  private readonly warnings = new Set<string>();
  private lastProgressAt = 0;

  constructor(private readonly opts: ReplicatorOptions) {
    this.config = opts.config;
    this.name = opts.config.name;
  }

  async execute(): Promise<ReplicateResult> {
    const { config, opts } = this;
    this.target = await openMysql(opts.target);
    this.source = await openMysql(opts.source);
    const claim = await claimCheckpoint(this.target, this.name, () =>
      initialPosition(this.source!, config.start),
    );
    this.epoch = claim.epoch;
    const identity = await readSourceIdentity(this.source);
    const foreign = await checkCheckpointSource(
      this.target,
      this.name,
      identity,
      claim.created,
      config.source,
    );
    if (foreign) throw new PipelineHaltError(foreign);
    this.committed = claim.position;
    this.lastCheckpointAt = Date.now();

    this.applier = new MysqlApplier(this.target);
    await this.applier.prepareSession();
    this.mapper = compileMapper(config, opts.transforms);
    const unsupported = await findUnsupportedColumns(this.source, this.target, this.mapper, config);
    if (unsupported.length > 0) throw new PipelineHaltError(unsupported.join('\n'));
    this.merger = new BatchMerger(
      (t) => this.keyColumns.get(tableKey(t)) ?? [],
      (t) => this.mapper.weightOf(t),
      // Key-less tables may hold identical rows: the merger must not collapse their changes.
      (t) => this.keyKinds.get(tableKey(t)) ?? 'primary',
      config.options.channel !== undefined, // [bidirectional] first before images for conflict checks
    );
    if (config.options.channel) {
      // [bidirectional] docs/bidirectional.md
      this.channel = new ChannelSession({
        pipeline: this.name,
        channel: config.options.channel,
        target: this.target,
        source: this.source,
        tables: this.applier.tables,
        holdLimit: config.options.batchSize,
        warn: (m) => this.warn(m),
      });
      await this.channel.prepare();
    }
    this.ddl = new DdlHandler(config, this.mapper, this.target, this.applier.tables);
    this.resync = new ResyncCoordinator({
      pipeline: this.name,
      source: opts.source,
      target: opts.target,
      mapper: this.mapper,
    });

    if (opts.sourceHeartbeat !== false) {
      try {
        await ensureHeartbeatTable(this.source);
        this.heartbeat = new HeartbeatWriter(this.source, this.name);
        this.heartbeat.start();
      } catch (err) {
        this.warn(
          `lag heartbeat disabled: cannot write ${SYSTEM_SCHEMA}.${HEARTBEAT_TABLE} on the source (${(err as Error).message})`,
        );
      }
    }

    // [binlog decoder] Table maps completed from the source's information_schema over our own source
    // connection (the dump connection is busy): names under binlog_row_metadata=MINIMAL, UUID/INET.
    const decoder = new BinlogDecoder({ schemaResolver: new InformationSchemaResolver(this.source) });
    this.stream = await openBinlogStream({
      decoder, // [binlog decoder]
      host: opts.source.host,
      port: opts.source.port,
      user: opts.source.user,
      password: opts.source.password,
      ssl: mysqlTlsOptions(opts.source),
      serverId: replicaServerId(this.name),
      start: claim.position.file ? claim.position : { gtid: claim.position.gtid ?? '' },
      heartbeatSeconds: opts.streamHeartbeatSeconds ?? 2,
    });

    const deadline = this.startedAt + opts.maxSeconds * 1000;
    let lastYield = performance.now();
    try {
      for await (const ev of this.stream) {
        if (opts.signal?.aborted) break;
        const kind = ev.event.kind;
        if (kind === 'tableMap' || kind === 'query' || kind === 'transactionPayload') {
          await decoder.resolveSchema(ev.event); // [binlog decoder] before the next event is decoded
        }
        await this.handle(ev.event, ev.file, ev.pos);
        // With queued events the loop continues through promise jobs only, which starve I/O: the batch
        // commit in flight would get its statement results (and send its next statement) only once
        // this loop awaits the target itself. Letting I/O run every millisecond overlaps the two.
        if (this.inflight && performance.now() - lastYield >= YIELD_EVERY_MS) {
          await yieldToIo();
          lastYield = performance.now();
        }
        if (ev.commit) {
          await this.endOfSourceTransaction(ev.commit, ev.event);
          if (Date.now() >= deadline) break;
        }
        this.maybeProgress();
      }
      if (opts.signal?.aborted) {
        await this.settle();
        await this.rollback();
      } else {
        await this.commitBatch(true);
        await this.settle();
      }
    } catch (err) {
      await this.settle().catch(() => {});
      await this.rollback();
      const classified = this.classify(err);
      metrics.errors.inc({
        pipeline: this.name,
        kind: classified instanceof PipelineHaltError ? 'halt' : 'retry',
      });
      throw classified;
    }
    return this.result();
  }

  private async handle(event: BinlogEvent, file: string | undefined, pos: number | undefined): Promise<void> {
    switch (event.kind) {
      case 'rows': {
        if (this.mapper.isMapped(event.table.schema, event.table.table)) {
          this.bytesHeld += event.header.eventSize;
          this.bytesInTransaction += event.header.eventSize;
        }
        // Most rows are taken synchronously (addChange returns undefined): no promise per row.
        const rows = event.rows;
        for (let i = 0; i < rows.length; i++) {
          const change = rows[i] as RowChange;
          const pending = this.channel
            ? this.offerChange(change, file, pos)
            : this.addChange(change, file, pos);
          if (pending) await pending;
        }
        return;
      }
      case 'transactionPayload':
        for (const inner of event.events) await this.handle(inner, file, pos);
        return;
      case 'query':
        if (event.statement === 'ddl') {
          // A DDL commits implicitly: everything before it is one finished batch.
          await this.commitBatch(true);
          await this.settle();
          const done = await this.ddl.handle(event.schema, event.query, `${file}:${pos}`, this.committed);
          if (done.applied) this.ddlApplied++;
          this.checkpointNow = true;
          for (const table of done.invalidated) {
            this.keyColumns.delete(table);
            this.keyKinds.delete(table);
          }
          if (done.invalidated.length > 0) this.knownTargets = new WeakSet();
          if (done.warning) this.warn(done.warning);
        }
        return;
      default:
        return;
    }
  }

  /** [bidirectional] A channel pipeline holds a transaction's changes until its gate knows it is not marked. */
  private async offerChange(
    change: RowChange,
    file: string | undefined,
    pos: number | undefined,
  ): Promise<void> {
    if (!this.channel) return this.addChange(change, file, pos);
    for (const it of this.channel.gate.offer({ change, file, pos })) {
      const pending = this.addChange(it.change, it.file, it.pos);
      if (pending) await pending;
    }
  }

  /** [bidirectional] The gate's verdict at a commit: releases held changes; true when the transaction was dropped. */
  private async channelVerdict(commit: BinlogPosition): Promise<boolean> {
    if (!this.channel) return false;
    const v = this.channel.gate.endTransaction();
    for (const it of v.release) {
      const pending = this.addChange(it.change, it.file, it.pos);
      if (pending) await pending;
    }
    if (v.lateMark)
      this.warn(
        `the transaction ending at ${formatPosition(commit)} carries a channel mark after ${this.config.options.batchSize} row changes: ` +
          'it was replicated whole (write otterflow.marks first in the transaction)',
      );
    if (v.dropped) this.channel.transactionDropped();
    return v.dropped;
  }

  /**
   * Takes one source row change into the batch. Hot path (once per row): everything is synchronous
   * and it returns undefined, unless it must wait for the target (a table's key columns not yet
   * known, a slice to apply, re-sync rows joining); then it returns the promise of the rest of the
   * work, which the caller awaits before the next row.
   */
  private addChange(
    change: RowChange,
    file: string | undefined,
    pos: number | undefined,
  ): Promise<void> | undefined {
    // Online re-sync (backfill, issue 6): at a HIGH watermark the chunk rows join the batch, in stream order.
    const resynced = this.resync ? this.resync.onRowChange(change) : NO_CHANGES;
    if (resynced.length > 0) return this.addResyncedThen(resynced, change, file, pos);
    return this.addSourceChange(change, file, pos);
  }

  private async addResyncedThen(
    resynced: MappedChange[],
    change: RowChange,
    file: string | undefined,
    pos: number | undefined,
  ): Promise<void> {
    for (const m of resynced) await this.ensureKeyColumns(m);
    this.merger.addAll(resynced);
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
      mapped = this.mapper.map(change);
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
    this.sourceChanges++;
    const o = this.config.options;
    if (this.changesInTransaction >= o.batchSize || this.bytesInTransaction >= maxBatchBytesOf(o)) {
      // A source transaction that by itself outgrew a batch: apply a slice, keep the transaction open.
      // (The merger then holds at most about twice the limits: earlier whole transactions below them,
      // plus this one's slice.)
      return this.applySlice();
    }
    return undefined;
  }

  private async ensureKeyColumns(m: MappedChange): Promise<void> {
    if (this.knownTargets.has(m.target)) return;
    const key = tableKey(m.target);
    if (this.keyColumns.has(key)) {
      this.knownTargets.add(m.target);
      return;
    }
    try {
      const info = await this.applier.tables.get(m.target);
      this.keyColumns.set(key, info.keyColumns);
      this.keyKinds.set(key, info.keyKind);
      this.knownTargets.add(m.target);
      if (info.keyKind !== 'primary') {
        this.warn(
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
    const dropped = await this.channelVerdict(commit); // [bidirectional]
    this.changesInTransaction = 0;
    this.bytesInTransaction = 0;
    if (event.kind !== 'rotate' && !dropped) {
      this.transactions++;
      metrics.transactions.inc({ pipeline: this.name });
    }
    this.pending = commit;
    const o = this.config.options;
    const now = Date.now();
    const full =
      this.merger.size() >= o.batchSize || this.bytesHeld >= maxBatchBytesOf(o) || this.slicesInBatch;
    const due = this.changesInBatch > 0 && now - this.batchOpenedAt >= o.maxBatchDelayMs;
    // Caught up with the source: nothing is waiting, so committing now costs no batching and gives the lowest lag.
    const caughtUp = (this.stream?.stats().queue.length ?? 0) === 0;
    // [bidirectional] A dropped transaction alone never opens a target transaction: two idle opposite
    // pipelines would otherwise bounce checkpoint-only transactions between them forever.
    const onlyDropped = dropped && this.merger.size() === 0 && !this.slicesInBatch;
    if (this.checkpointNow) {
      this.checkpointNow = false;
      await this.commitBatch(true);
    } else if (onlyDropped) {
      // the position advances with the next batch (or at the end of the run)
    } else if (full || due || caughtUp || this.heartbeatInBatch !== undefined || this.resync?.wantsCommit()) {
      await this.commitBatch(false, { background: true });
    }
    await this.resync?.betweenTransactions(); // backfill (issue 6): may start the next re-sync chunk
  }

  private drainMerger(): ApplyPlan {
    this.bytesHeld = 0;
    this.changesInTransaction = 0;
    this.bytesInTransaction = 0;
    return this.merger.drain();
  }

  /** Applies what the merger holds into the open target transaction (opening it if needed). */
  private async applySlice(): Promise<void> {
    await this.settle();
    const plan = this.drainMerger();
    if (plan.tables.length === 0) return;
    await this.openTransaction();
    this.slicesInBatch = true;
    metrics.slices.inc({ pipeline: this.name });
    try {
      await this.applyPlan(this.channel ? await this.channel.resolve(plan) : plan, this.pending); // [bidirectional]
    } catch (err) {
      // Earlier slices of this source transaction are in the same target transaction: no row-by-row redo.
      throw isDataError(err) ? this.dataErrorHalt(err, this.pending) : err;
    }
  }

  /**
   * Opens the target transaction with its fence. Given the batch's `checkpoint` (a batch whose end is
   * known when it opens, i.e. not slices of a transaction still being read), the fence writes it too.
   */
  private async openTransaction(checkpoint?: BinlogPosition): Promise<void> {
    if (this.txOpen) return;
    await this.target!.query('START TRANSACTION');
    this.txOpen = true;
    this.checkpointInTransaction = undefined;
    await fenceBatch(this.target!, this.name, this.epoch, checkpoint);
    this.checkpointInTransaction = checkpoint;
    await this.channel?.transactionOpened(); // [bidirectional] the mark comes before any replicated row
  }

  private async applyPlan(plan: ApplyPlan, position: BinlogPosition | undefined): Promise<void> {
    // Every apply runs inside the transaction openTransaction() began.
    const res = await this.applier.apply(plan, { inTransaction: this.txOpen });
    addStats(this.totals, res.stats);
    const p = this.name;
    metrics.rowsApplied.inc({ pipeline: p, op: 'insert' }, res.stats.inserted);
    metrics.rowsApplied.inc({ pipeline: p, op: 'update' }, res.stats.updated);
    metrics.rowsApplied.inc({ pipeline: p, op: 'delete' }, res.stats.deleted);
    metrics.missingRows.inc({ pipeline: p, op: 'update' }, res.stats.missingOnUpdate);
    metrics.missingRows.inc({ pipeline: p, op: 'delete' }, res.stats.missingOnDelete);
    if (res.missing.length > 0) {
      const sample = res.missing
        .slice(0, 3)
        .map((m) => `${m.op} ${m.table} ${JSON.stringify(m.key)}`)
        .join('; ');
      if (this.config.options.missingRow === 'stop') {
        throw new PipelineHaltError(
          `rows missing on the target (${res.stats.missingOnUpdate} updates, ${res.stats.missingOnDelete} deletes): ${sample}`,
          formatPosition(position),
        );
      }
      this.warn(
        `rows missing on the target (updates were written as inserts, deletes had nothing to delete): ${sample}`,
      );
    }
  }

  /** Waits for the batch commit in flight, if any; its error surfaces here. */
  private async settle(): Promise<void> {
    const p = this.inflight;
    if (!p) return;
    this.inflight = undefined;
    await p;
  }

  /**
   * Commits the batch: remaining merged changes, then the checkpoint, in the open transaction.
   * With nothing to apply, the checkpoint still advances now and then (or when `force`d) so an idle or
   * unmapped source does not leave a stale position behind. With `background`, the commit runs while
   * the caller goes on reading the next batch (the merger is drained first, so the batches are
   * distinct); a batch carrying a re-sync chunk always commits inline, with its progress hooks.
   */
  private async commitBatch(force: boolean, opts: { background?: boolean } = {}): Promise<void> {
    // A background commit comes right after a source transaction ended, so the merger holds whole
    // transactions only. While the batch before is still being applied, build this one's statements:
    // the target finds them ready when it is done instead of idling while they are built.
    let ahead: ApplyPlan | undefined;
    // (Not for channel pipelines: their conflict check may replace table plans before the apply.)
    if (opts.background && this.inflight && !this.channel && this.merger.size() > 0 && !this.slicesInBatch) {
      ahead = this.drainMerger();
      await this.applier.prebuild(ahead);
    }
    await this.settle();
    const position = this.pending;
    if (!position) {
      if (ahead) throw new Error('internal: a batch was drained without a position to commit it at');
      return;
    }
    const hasWork = ahead !== undefined || this.merger.size() > 0 || this.slicesInBatch;
    if (
      !hasWork &&
      !force &&
      Date.now() - this.lastCheckpointAt < IDLE_CHECKPOINT_MS &&
      this.heartbeatInBatch === undefined
    ) {
      return;
    }
    const batch: ClosingBatch = {
      plan: ahead ?? this.drainMerger(),
      position,
      hasWork,
      slicesApplied: this.slicesInBatch,
      changes: this.changesInBatch,
      heartbeat: this.heartbeatInBatch,
      carriesResync: this.resync?.wantsCommit() === true,
    };
    this.pending = undefined;
    this.changesInBatch = 0;
    this.heartbeatInBatch = undefined;
    this.slicesInBatch = false;
    const work = this.finishBatch(batch);
    if (opts.background && !batch.carriesResync) {
      work.catch(() => {}); // observed by settle(); never an unhandled rejection meanwhile
      this.inflight = work;
    } else {
      await work;
    }
  }

  private async finishBatch(b: ClosingBatch): Promise<void> {
    await this.openTransaction(b.position);
    if (b.plan.tables.length > 0) {
      if (this.channel) b.plan = await this.channel.resolve(b.plan); // [bidirectional] conflict check
      try {
        await this.applyPlan(b.plan, b.position);
      } catch (err) {
        if (!isDataError(err)) throw err;
        if (this.config.options.onError !== 'retryRowByRow' || b.slicesApplied) {
          throw this.dataErrorHalt(err, b.position);
        }
        await this.applyRowByRow(b.plan, b.position);
      }
    }
    if (b.carriesResync) await this.resync?.beforeCommit(this.target!); // backfill (issue 6): re-sync progress with its rows
    await this.channel?.beforeCommit(); // [bidirectional] conflict records commit with their rows
    if (this.checkpointInTransaction !== b.position)
      await writeCheckpoint(this.target!, this.name, this.epoch, b.position);
    await this.target!.query('COMMIT');
    this.txOpen = false;
    this.channel?.afterCommit(); // [bidirectional]
    if (b.carriesResync) this.resync?.afterCommit();
    this.committed = b.position;
    this.lastCheckpointAt = Date.now();
    if (b.hasWork) {
      this.batches++;
      metrics.batches.inc({ pipeline: this.name });
      metrics.batchSize.observe({ pipeline: this.name }, b.changes);
    }
    metrics.sourceChanges.inc({ pipeline: this.name }, b.changes);
    if (b.heartbeat !== undefined) {
      this.lagMs = Math.max(0, Date.now() - b.heartbeat);
      metrics.lagMs.set({ pipeline: this.name }, this.lagMs);
    }
  }

  /**
   * `onError: retryRowByRow`: the batch's multi-row statements failed on a row the target refuses
   * (a duplicate in a secondary unique key, a value too long, a foreign key): redo the batch one row
   * at a time in a fresh transaction, skip and report the rows that fail, apply all the others.
   */
  private async applyRowByRow(plan: ApplyPlan, position: BinlogPosition): Promise<void> {
    await this.target!.query('ROLLBACK');
    this.txOpen = false;
    await this.openTransaction(position);
    const res = await this.applier.applyRowByRow(plan, { skipFailures: true });
    addStats(this.totals, res.stats);
    for (const f of res.failures.slice(0, 5)) {
      this.warn(
        `row skipped at ${formatPosition(position)}: ${f.op} ${f.table} ${JSON.stringify(f.key)}: ${f.message}`,
      );
    }
    if (res.failures.length > 5)
      this.warn(`${res.failures.length - 5} more rows skipped at ${formatPosition(position)}`);
    metrics.errors.inc({ pipeline: this.name, kind: 'row-skipped' }, res.failures.length);
  }

  private dataErrorHalt(err: unknown, position: BinlogPosition | undefined): PipelineHaltError {
    return new PipelineHaltError(
      `the target refused a row: ${(err as Error).message}. Fix the target (or the mapping), or set options.onError to ` +
        '"retryRowByRow" to skip and report such rows',
      formatPosition(position),
      { cause: err },
    );
  }

  private async rollback(): Promise<void> {
    this.channel?.rolledBack(); // [bidirectional]
    if (!this.txOpen || !this.target) return;
    this.txOpen = false;
    await this.target.query('ROLLBACK').catch(() => {});
  }

  private classify(err: unknown): Error {
    if (err instanceof PipelineHaltError || err instanceof RetryableTargetError) return err;
    const e = err as Error & { name?: string; kind?: string };
    if (
      e?.name === 'BinlogDecodeError' ||
      (e?.name === 'BinlogStreamError' && (e.kind === 'decode-failed' || e.kind === 'position-purged'))
    ) {
      return new PipelineHaltError(e.message, formatPosition(this.committed), { cause: err });
    }
    return err instanceof Error ? err : new Error(String(err));
  }

  private warn(message: string): void {
    if (this.warnings.size < MAX_WARNINGS) this.warnings.add(message);
  }

  private maybeProgress(): void {
    const every = this.opts.progressEveryMs ?? 1000;
    const now = Date.now();
    if (!this.opts.onProgress || now - this.lastProgressAt < every) return;
    this.lastProgressAt = now;
    this.opts.onProgress({
      ...(this.committed ? { position: this.committed } : {}),
      rowsApplied: this.totals.inserted + this.totals.updated + this.totals.deleted,
      transactions: this.transactions,
      ...(this.lagMs !== undefined ? { lagMs: this.lagMs } : {}),
      at: new Date(now).toISOString(),
      worker: this.opts.worker,
    });
  }

  private result(): ReplicateResult {
    return {
      ...(this.committed ? { position: this.committed } : {}),
      transactions: this.transactions,
      sourceRowChanges: this.sourceChanges,
      batches: this.batches,
      ...this.totals,
      ddlApplied: this.ddlApplied,
      ...(this.lagMs !== undefined ? { lagMs: this.lagMs } : {}),
      elapsedMs: Date.now() - this.startedAt,
      warnings: [...this.warnings],
      worker: this.opts.worker,
    };
  }

  async close(): Promise<void> {
    this.heartbeat?.stop();
    await this.resync?.close();
    await this.stream?.close().catch(() => {});
    await this.rollback();
    await this.target?.end().catch(() => {});
    await this.source?.end().catch(() => {});
  }
}

/**
 * A pipeline started before maxBatchBytes existed carries a config without it (workflow inputs are
 * stored as they were parsed then): it gets the default, not "no limit".
 */
function maxBatchBytesOf(options: PipelineConfig['options']): number {
  return options.maxBatchBytes ?? DEFAULT_MAX_BATCH_BYTES;
}

function addStats(into: ApplyStats, s: ApplyStats): void {
  into.inserted += s.inserted;
  into.updated += s.updated;
  into.deleted += s.deleted;
  into.missingOnUpdate += s.missingOnUpdate;
  into.missingOnDelete += s.missingOnDelete;
}

/**
 * Errors about the data itself (SQLSTATE classes 22 "data exception" and 23 "integrity constraint"):
 * retrying the same batch cannot succeed, unlike a lost connection or a deadlock.
 */
export function isDataError(err: unknown): boolean {
  if (err instanceof RetryableTargetError) return false;
  const e = err as { sqlState?: string; cause?: unknown };
  if (typeof e?.sqlState === 'string') return e.sqlState.startsWith('22') || e.sqlState.startsWith('23');
  return e?.cause !== undefined && e.cause !== err ? isDataError(e.cause) : false;
}

/** A batch handed from the reading loop to its commit (possibly running in the background). */
interface ClosingBatch {
  plan: ApplyPlan;
  /** Position after the batch's last source transaction: its checkpoint. */
  position: BinlogPosition;
  hasWork: boolean;
  /** Slices of a huge source transaction are already in the open target transaction. */
  slicesApplied: boolean;
  changes: number;
  heartbeat: number | undefined;
  carriesResync: boolean;
}
