import type { PlannedChunk } from '../backfill/chunk-plan';
import type { IndexRebuildProgress } from '../backfill/contract';
import type { BinlogPosition } from '../binlog/types';
import type { ResolvedDatasource } from '../config/datasources';
import type { PipelineConfig } from '../pipeline/config';
import type { Mapper } from '../pipeline/mapping/mapper';
import type { TableRef } from '../pipeline/model';
import type { RowFailure } from './dialect';
import type { ResyncRequest } from './target';

/**
 * A chunk's rows that the target refuses for what they are (a value too long for its column, a NULL
 * in a NOT NULL column, a duplicate of another unique key): copying the chunk again would fail the
 * same way, so the backfill fails at once, naming the row, instead of retrying forever.
 */
export class ChunkDataError extends Error {
  override readonly name = 'ChunkDataError';
  constructor(
    readonly backfillId: string,
    readonly chunkNo: number,
    /** The row that failed, when the copier could single it out. */
    readonly failure: RowFailure | undefined,
    cause: unknown,
  ) {
    const what = failure
      ? `${failure.table}: the target refused the row with key ${JSON.stringify(failure.key)}: ${failure.message}`
      : `the target refused a row: ${(cause as Error)?.message ?? String(cause)}`;
    super(
      `backfill ${backfillId} chunk ${chunkNo}: ${what} (copying again cannot help: change the target column or the mapping, then run the backfill again; chunks already copied stay copied)`,
      { cause },
    );
  }
}

/**
 * What initial loads and re-syncs need from a TARGET database besides a replication session: where
 * their progress lives (plans, chunks, re-sync requests, deferred indexes) and how a chunk of source
 * rows is written. A target connector offers it as `TargetConnector.backfill`; the backfill activities
 * use only these types. Bulk loading (LOAD DATA for MySQL/MariaDB) is the copier's business: the
 * capability `bulkLoad` says whether it has such a path.
 */
export interface BackfillConnector {
  /**
   * The store can take plain secondary indexes off empty target tables for a load and build them after
   * (`deferSecondaryIndexes`). False: every index stays; the store lists each table as kept, with why.
   */
  readonly deferredIndexes: boolean;
  /** Opens the backfill bookkeeping on the target (creating its tables when needed). */
  openStore(target: ResolvedDatasource): Promise<BackfillStore>;
  /**
   * Opens a chunk copier: it reads a chunk from `source`, maps the rows, and writes them on the target in
   * ONE transaction that also marks the chunk done (a done chunk is left alone).
   */
  openCopier(
    source: ResolvedDatasource,
    target: ResolvedDatasource,
    mapper: Mapper,
    config: PipelineConfig,
  ): Promise<ChunkCopy>;
}

export interface ChunkCopy {
  /** Copies chunk `chunkNo` unless done. `signal` aborts before the commit (nothing of the chunk stays). */
  copy(backfillId: string, chunkNo: number, signal?: AbortSignal): Promise<CopyResult>;
  close(): Promise<void>;
}

export interface CopyResult {
  /** Source rows read. */
  rows: number;
  /** Target rows written (fan-out and filters make it differ from `rows`). */
  written: number;
  /** The chunk was already done: nothing read or written. */
  skipped: boolean;
  /** Empty strings the target stored as NULL (Oracle), per target column. */
  emptyAsNull?: Record<string, number>;
}

/** The backfill bookkeeping on one target. Every method runs on its own (no open transaction). */
export interface BackfillStore {
  readPlan(backfillId: string): Promise<StoredPlan | undefined>;
  /** Stores a complete plan atomically (leftovers of an interrupted attempt are replaced). */
  storePlan(
    backfillId: string,
    pipeline: string,
    plan: TableChunks[],
    estimatedRows: number,
    position: BinlogPosition,
  ): Promise<StoredPlan>;
  pendingChunks(backfillId: string): Promise<number[]>;
  chunkRangesBySourceTable(backfillId: string): Promise<{ table: TableRef; first: number; last: number }[]>;
  /**
   * Takes the plain secondary indexes off the given empty target tables for the load (repeat calls
   * return what was decided first). Targets without such a step keep every index.
   */
  deferSecondaryIndexes(backfillId: string, targets: readonly TableRef[]): Promise<Deferral>;
  /**
   * Puts deferred indexes back (one table, or all); `onProgress` hears what the server says of the
   * rebuild while it runs. Safe to repeat.
   */
  restoreSecondaryIndexes(
    backfillId: string,
    table: TableRef | undefined,
    onProgress: (p: IndexRebuildProgress | undefined) => void,
  ): Promise<{ restored: number }>;
  /** Inserts a backfill's re-sync requests (an existing request id is left as it is). */
  insertResyncRequests(requests: NewResyncRequest[]): Promise<void>;
  resyncRequestsOf(backfillId: string): Promise<ResyncRequest[]>;
  cancelResyncRequests(backfillId: string): Promise<void>;
  close(): Promise<void>;
}

export interface StoredPlan {
  chunks: number;
  tables: number;
  estimatedRows: number;
}

export interface TableChunks {
  table: TableRef;
  chunks: PlannedChunk[];
}

export interface NewResyncRequest {
  requestId: string;
  backfillId: string;
  pipeline: string;
  seq: number;
  table: TableRef;
  where?: string;
  /** Keys as JSON text (an array of key tuples). */
  keysJson?: string;
  chunkSize: number;
  maxRowsPerSecond?: number;
  estimatedRows: number;
}

export interface DeferredTable {
  target: TableRef;
  /** Index names taken off (or to be taken off) this table. */
  indexes: string[];
  /** All of them are back. */
  restored: boolean;
}

export interface Deferral {
  tables: DeferredTable[];
  /** Tables that keep their indexes during the load, with why ("schema.table: reason"). */
  kept: string[];
}
