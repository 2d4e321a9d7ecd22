import { randomUUID } from 'node:crypto';
import type mysql from 'mysql2/promise';
import type { CellValue, RowChange, RowImage, TableSchema } from '../binlog/types';
import type { ResolvedDatasource } from '../config/datasources';
import type { ResyncRequest as ResyncRequestRow } from '../connectors/target';
import { SYSTEM_SCHEMA, type TargetSession } from '../connectors/target';
import type { Mapper } from '../pipeline/mapping/mapper';
import type { MappedChange } from '../pipeline/model';
import { encodeKey } from '../pipeline/values';
import type { CommittingBatch, ReplicationHooks } from '../replication/hooks';
import { parseKey, stringifyKey } from './keys';
import {
  type ChunkBounds,
  keyOf,
  openSourceReader,
  readChunk,
  readSourceTable,
  type SourceTable,
} from './source-table';

/**
 * Online re-sync inside the CDC consumer, after Netflix's DBLog (watermark-based chunk selection):
 *
 *   1. between two source transactions, with no chunk in flight, write a LOW watermark row on the
 *      source, SELECT the next chunk (keyset range, or the requested keys, or a condition), write a
 *      HIGH watermark row;
 *   2. while the stream is between LOW and HIGH, every change to a key of the chunk removes that key
 *      from the chunk: the change is newer than (or as new as) what the SELECT saw, and it is applied
 *      in stream order anyway — so a chunk row never overwrites a newer row and never brings a deleted
 *      row back;
 *   3. at HIGH, the chunk rows left are mapped as inserts and join the batch in stream order, and the
 *      request's progress is written in the same target transaction as the batch and its checkpoint.
 *
 * No table locks and no source-side snapshot beyond one short SELECT. Requests live in the target's
 * `otterflow.resync_requests` (inserted by the backfill workflow); the watermark rows in the source's
 * `otterflow.watermarks` (the pipeline needs write access there, as for its lag heartbeat).
 * A run that dies between LOW and the commit leaves no progress: the next run repeats the chunk and
 * ignores the old watermarks it replays (their token is unknown to it).
 *
 * No Temporal imports: the coordinator is a set of replication hooks (src/replication/hooks.ts).
 */
export const WATERMARK_TABLE = 'watermarks';

export interface ResyncCoordinatorOptions {
  pipeline: string;
  source: ResolvedDatasource;
  /**
   * Opens a target session of its own for the request bookkeeping outside batches (the run's session
   * may be busy with a batch in flight); called on first need.
   */
  openTarget: () => Promise<TargetSession>;
  /** The replicator's mapper: chunk rows are mapped exactly like streamed rows. */
  mapper: Mapper;
  /** How often to look for a request when there is none (ms). */
  pollEveryMs?: number;
  now?: () => number;
}

/** A chunk whose HIGH watermark has not come through this long after LOW is dropped and re-read. */
const CHUNK_STALE_MS = 5 * 60_000;
const NONE: MappedChange[] = [];

interface Chunk {
  token: string;
  request: ResyncRequestRow;
  table: SourceTable;
  /** Chunk rows by exact key. */
  rows: Map<string, RowImage>;
  inWindow: boolean;
  skipped: number;
  lastKey?: CellValue[];
  keysDone: number;
  finished: boolean;
  startedAt: number;
}

interface HandedOver {
  requestId: string;
  lastKey?: string;
  keysDone: number;
  rows: number;
  skipped: number;
  finished: boolean;
  maxRowsPerSecond?: number;
}

export class ResyncCoordinator implements ReplicationHooks {
  private source: mysql.Connection | undefined;
  private target: TargetSession | undefined;
  private readonly tables = new Map<string, SourceTable>();
  private readonly streamKeyOrdinals = new WeakMap<TableSchema, number[]>();
  private chunk: Chunk | undefined;
  private handed: HandedOver | undefined;
  private lastPollAt = Number.NEGATIVE_INFINITY;
  private nextChunkAt = 0;
  private active = false;
  private readonly now: () => number;
  private readonly pollEveryMs: number;

  constructor(private readonly opts: ResyncCoordinatorOptions) {
    this.now = opts.now ?? Date.now;
    this.pollEveryMs = opts.pollEveryMs ?? 1000;
  }

  /**
   * Hook for EVERY source row change, before it is mapped (system-schema rows included). Returns the
   * chunk rows to add to the batch right after this change (only at this run's HIGH watermark).
   */
  onRow(change: RowChange): MappedChange[] {
    const chunk = this.chunk;
    if (!chunk) return NONE;
    const t = change.table;
    if (t.schema === SYSTEM_SCHEMA) {
      if (t.table !== WATERMARK_TABLE || change.kind === 'delete') return NONE;
      const mark = readWatermark(change.table, change.after);
      if (!mark || mark.pipeline !== this.opts.pipeline || mark.token !== chunk.token) return NONE;
      if (mark.kind === 'low') chunk.inWindow = true;
      else if (mark.kind === 'high' && chunk.inWindow) return this.handOver(chunk);
      return NONE;
    }
    if (!chunk.inWindow || t.schema !== chunk.table.ref.schema || t.table !== chunk.table.ref.table)
      return NONE;
    const ords = this.keyOrdinalsIn(t, chunk.table);
    if (change.kind !== 'insert') this.drop(chunk, ords, change.before);
    if (change.kind !== 'delete') this.drop(chunk, ords, change.after);
    return NONE;
  }

  /** True while a chunk's rows are in the open batch: commit at the next transaction boundary. */
  wantsCommit(): boolean {
    return this.handed !== undefined;
  }

  /**
   * Hook inside the batch transaction, before the checkpoint: the handed-over chunk's progress, in the
   * batch that holds its rows (the one this coordinator asked for).
   */
  async beforeCommit(session: TargetSession, batch: CommittingBatch): Promise<void> {
    const h = this.handed;
    if (!h || !batch.wantedBy.has(this)) return;
    await session.resyncRequests.recordChunk({
      requestId: h.requestId,
      ...(h.lastKey !== undefined ? { lastKey: h.lastKey } : {}),
      keysDone: h.keysDone,
      rows: h.rows,
      skipped: h.skipped,
      finished: h.finished,
    });
  }

  /** Hook after the batch transaction committed. */
  afterCommit(batch: CommittingBatch): void {
    const h = this.handed;
    if (!h || !batch.wantedBy.has(this)) return;
    this.handed = undefined;
    if (h.maxRowsPerSecond) this.nextChunkAt = this.now() + Math.ceil((h.rows * 1000) / h.maxRowsPerSecond);
  }

  /**
   * Hook between source transactions, with no target transaction open: starts the next chunk of the
   * oldest unfinished request when nothing is in flight (LOW, SELECT, HIGH on the source).
   */
  async betweenTransactions(): Promise<void> {
    const now = this.now();
    if (this.chunk) {
      if (now - this.chunk.startedAt < CHUNK_STALE_MS) return;
      this.chunk = undefined; // its watermarks never came through: select it again
    }
    if (this.handed || now < this.nextChunkAt) return;
    if (!this.active && now - this.lastPollAt < this.pollEveryMs) return;
    this.lastPollAt = now;
    const target = await this.targetSession();
    const request = await target.resyncRequests.next();
    this.active = request !== undefined;
    if (!request) return;
    try {
      await this.startChunk(request);
    } catch (err) {
      const e = err as { errno?: number; message?: string };
      // A SQL error about the request itself (table dropped, condition no longer valid) fails the
      // request; connection trouble is the run's problem and is retried with it.
      if (e.errno !== undefined && e.errno < 2000) {
        this.chunk = undefined;
        await target.resyncRequests.fail(request.requestId, e.message ?? String(err));
        return;
      }
      throw err;
    }
  }

  async close(): Promise<void> {
    await this.source?.end().catch(() => {});
    await this.target?.close();
    this.source = undefined;
    this.target = undefined;
  }

  // ---- internals ----

  private async startChunk(request: ResyncRequestRow): Promise<void> {
    const source = await this.sourceConn();
    const table = await this.tableOf(request);
    const token = randomUUID();
    let bounds: ChunkBounds;
    let keys: CellValue[][] | undefined;
    if (request.keysJson !== undefined) {
      const all = (JSON.parse(request.keysJson) as unknown[]).map((k) => parseKey(JSON.stringify(k)));
      keys = all.slice(request.keysDone, request.keysDone + request.chunkSize);
      bounds = { keys };
      if (keys.length === 0) {
        // Nothing left (an empty key list): finish through the normal commit path.
        this.handed = {
          requestId: request.requestId,
          keysDone: all.length,
          rows: 0,
          skipped: 0,
          finished: true,
        };
        return;
      }
      bounds.limit = keys.length;
      const done = request.keysDone + keys.length;
      await this.watermark(source, token, 'low');
      const rows = await readChunk(source, table, bounds);
      await this.watermark(source, token, 'high');
      this.acceptChunk(token, request, table, rows, { keysDone: done, finished: done >= all.length });
      return;
    }
    bounds = { limit: request.chunkSize };
    if (request.lastKey !== undefined) bounds.after = parseKey(request.lastKey);
    if (request.where !== undefined) bounds.where = request.where;
    await this.watermark(source, token, 'low');
    const rows = await readChunk(source, table, bounds);
    await this.watermark(source, token, 'high');
    const last = rows[rows.length - 1];
    this.acceptChunk(token, request, table, rows, {
      keysDone: 0,
      finished: rows.length < request.chunkSize,
      ...(last ? { lastKey: keyOf(table, last) } : {}),
    });
  }

  /**
   * Takes a chunk read between the watermarks `token` (startChunk does the I/O; tests call this
   * directly to drive the window logic with synthetic stream changes).
   */
  acceptChunk(
    token: string,
    request: ResyncRequestRow,
    table: SourceTable,
    rows: RowImage[],
    p: { keysDone: number; finished: boolean; lastKey?: CellValue[] },
  ): void {
    const byKey = new Map<string, RowImage>();
    for (const r of rows) byKey.set(encodeKey(keyOf(table, r)), r);
    this.chunk = {
      token,
      request,
      table,
      rows: byKey,
      inWindow: false,
      skipped: 0,
      keysDone: p.keysDone,
      finished: p.finished,
      ...(p.lastKey ? { lastKey: p.lastKey } : {}),
      startedAt: this.now(),
    };
  }

  /** The progress waiting for the next commit (tests, status). */
  pendingProgress(): Readonly<HandedOver> | undefined {
    return this.handed;
  }

  private handOver(chunk: Chunk): MappedChange[] {
    const out: MappedChange[] = [];
    for (const after of chunk.rows.values()) {
      for (const m of this.opts.mapper.map({ kind: 'insert', table: chunk.table.schema, after }))
        out.push(m.kind === 'insert' ? { ...m, resync: true } : m);
    }
    this.handed = {
      requestId: chunk.request.requestId,
      ...(chunk.lastKey ? { lastKey: stringifyKey(chunk.lastKey) } : {}),
      keysDone: chunk.keysDone,
      rows: chunk.rows.size,
      skipped: chunk.skipped,
      finished: chunk.finished,
      ...(chunk.request.maxRowsPerSecond ? { maxRowsPerSecond: chunk.request.maxRowsPerSecond } : {}),
    };
    this.chunk = undefined;
    return out;
  }

  private drop(chunk: Chunk, ords: number[], image: RowImage): void {
    const key: CellValue[] = [];
    for (const i of ords) {
      const v = image[i];
      if (v === undefined) return; // key column absent from the image: cannot be this chunk's row
      key.push(v);
    }
    if (chunk.rows.delete(encodeKey(key))) chunk.skipped++;
  }

  /** Ordinals of the copy key in the STREAM's table definition (by name; same ordinals if unnamed). */
  private keyOrdinalsIn(t: TableSchema, table: SourceTable): number[] {
    let ords = this.streamKeyOrdinals.get(t);
    if (!ords) {
      const byName = new Map(t.columns.map((c, i) => [c.name, i]));
      ords = table.keyColumns.map((name, j) => byName.get(name) ?? (table.keyOrdinals[j] as number));
      this.streamKeyOrdinals.set(t, ords);
    }
    return ords;
  }

  private async tableOf(request: ResyncRequestRow): Promise<SourceTable> {
    let t = this.tables.get(request.requestId);
    if (!t) {
      t = await readSourceTable(await this.sourceConn(), request.table);
      if (t.keyColumns.length === 0)
        throw Object.assign(
          new Error(`${request.table.schema}.${request.table.table} has no key to page by`),
          {
            errno: 1,
          },
        );
      this.tables.set(request.requestId, t);
    }
    return t;
  }

  private async watermark(source: mysql.Connection, token: string, kind: 'low' | 'high'): Promise<void> {
    await source.query(
      `INSERT INTO \`${SYSTEM_SCHEMA}\`.\`${WATERMARK_TABLE}\` (pipeline, token, kind, written_at_ms) VALUES (?, ?, ?, ?)
       ON DUPLICATE KEY UPDATE token = VALUES(token), kind = VALUES(kind), written_at_ms = VALUES(written_at_ms)`,
      [this.opts.pipeline, token, kind, Date.now()],
    );
  }

  private async sourceConn(): Promise<mysql.Connection> {
    if (!this.source) {
      const conn = await openSourceReader(this.opts.source);
      await conn.query(`CREATE DATABASE IF NOT EXISTS \`${SYSTEM_SCHEMA}\``);
      await conn.query(
        `CREATE TABLE IF NOT EXISTS \`${SYSTEM_SCHEMA}\`.\`${WATERMARK_TABLE}\` (
          pipeline VARCHAR(64) NOT NULL PRIMARY KEY,
          token CHAR(36) NOT NULL,
          kind VARCHAR(4) NOT NULL,
          written_at_ms BIGINT NOT NULL
        ) ENGINE=InnoDB`,
      );
      this.source = conn;
    }
    return this.source;
  }

  private async targetSession(): Promise<TargetSession> {
    this.target ??= await this.opts.openTarget();
    return this.target;
  }
}

/** The pipeline, token and kind of a watermark row image (by column name), if it is one. */
export function readWatermark(
  table: TableSchema,
  image: RowImage,
): { pipeline: string; token: string; kind: string } | undefined {
  let pipeline: unknown;
  let token: unknown;
  let kind: unknown;
  table.columns.forEach((c, i) => {
    if (c.name === 'pipeline') pipeline = image[i];
    else if (c.name === 'token') token = image[i];
    else if (c.name === 'kind') kind = image[i];
  });
  if (typeof pipeline !== 'string' || typeof token !== 'string' || typeof kind !== 'string') return undefined;
  return { pipeline, token, kind };
}
