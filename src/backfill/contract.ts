import { defineQuery } from '@temporalio/workflow';
import type { PipelineConfig } from '../pipeline/config';
import type { TableRef } from '../pipeline/model';

/**
 * The contract between the backfill workflow, its activities and the clients (API, CLI, the
 * pipeline workflow that starts the initial load). Only names, counters and small key lists travel
 * here; rows never do.
 */

export const BACKFILL_WORKFLOW_TYPE = 'backfillWorkflow';

/** `initial`: copy every mapped table before CDC starts. `resync`: re-copy chosen rows while CDC runs. */
export type BackfillKind = 'initial' | 'resync';

/** A key value as JSON can carry it (a BIGINT beyond 2^53 as a decimal string). */
export type KeyValueInput = string | number | null;

export interface BackfillInput {
  /** Unique per backfill; progress rows in the target are keyed by it. */
  id: string;
  kind: BackfillKind;
  config: PipelineConfig;
  /** resync: source tables to re-copy (each must be mapped and have a primary or NOT NULL unique key). */
  tables?: TableRef[];
  /** resync: only rows matching this condition (validated with EXPLAIN before anything runs). */
  where?: string;
  /** resync: only these keys (one table only), each a tuple in key column order. */
  keys?: KeyValueInput[][];
  /**
   * Rows per chunk. Default: initial, chosen per table (about 4 MiB of rows, at most 25,000, at most a
   * second of a throttled lane: chunk-plan.ts rowsPerChunk); resync, 2000.
   */
  chunkSize?: number;
  /** initial: chunks copied at once (default 4). */
  parallelism?: number;
  /** Cap on rows copied per second (undefined / 0: none). */
  maxRowsPerSecond?: number;
  /**
   * initial: `defer` (default) takes the plain secondary indexes off EMPTY target tables and builds
   * them when the table's chunks are done (src/connectors/mysql/backfill/deferred-indexes.ts); `keep` leaves them.
   */
  secondaryIndexes?: SecondaryIndexPolicy;
  /** initial: chunk activities per workflow run before continue-as-new (default 1500; tests use less). */
  chunksPerRun?: number;
  /** Present after continue-as-new. */
  carried?: Pick<
    BackfillStatus,
    'startedAt' | 'rowsCopied' | 'chunksDone' | 'chunksSkipped' | 'emptyAsNull'
  > & {
    /** Tables that keep their indexes, with why (decided by the first run only). */
    keptIndexes?: string[];
  };
}

export type SecondaryIndexPolicy = 'defer' | 'keep';

/** `indexing`: every chunk is copied, deferred secondary indexes are being rebuilt. */
export type BackfillState = 'planning' | 'copying' | 'indexing' | 'done' | 'cancelled' | 'failed';

export interface BackfillStatus {
  id: string;
  kind: BackfillKind;
  pipeline: string;
  state: BackfillState;
  chunksTotal: number;
  chunksDone: number;
  /** Chunks found already done when the workflow came to them (resumed after a crash). */
  chunksSkipped: number;
  rowsCopied: number;
  /** information_schema estimate (InnoDB samples it; resync with a condition: EXPLAIN's estimate). */
  estimatedRows: number;
  rowsPerSecond: number;
  /** Seconds left at the current rate; undefined until there is a rate. */
  etaSeconds?: number;
  /** initial: secondary indexes taken off empty target tables for the load, and put back so far. */
  secondaryIndexes?: { deferred: number; restored: number; tables: string[]; kept: string[] };
  /**
   * Empty strings stored as NULL by a target that does not tell them apart (Oracle), per target
   * column (`schema.table.column` as the target names it): the rows are copied, these values are not exact.
   */
  emptyAsNull?: Record<string, number>;
  /** resync: per-table request state, as the pipeline's replicator reports it. */
  requests?: ResyncRequestProgress[];
  lastError?: string;
  startedAt: string;
  updatedAt: string;
}

export interface ResyncRequestProgress {
  requestId: string;
  table: string;
  status: 'pending' | 'running' | 'done' | 'cancelled' | 'failed';
  rowsCopied: number;
  /** Chunk rows dropped because the stream changed them inside the watermark window (the change was newer). */
  rowsSkipped: number;
  chunksDone: number;
  estimatedRows: number;
  error?: string;
}

/** Adds one chunk's (or activity's) `emptyAsNull` counts to a total. */
export function addEmptyAsNull(
  total: Record<string, number> | undefined,
  more: Record<string, number>,
): Record<string, number> {
  const out = { ...total };
  for (const [column, n] of Object.entries(more)) out[column] = (out[column] ?? 0) + n;
  return out;
}

export const backfillStatusQuery = defineQuery<BackfillStatus>('backfillStatus');

/** Workflow id of a backfill: `backfill:<id>` (ids start with the pipeline name, see newBackfillId). */
export function backfillWorkflowId(id: string): string {
  return `backfill:${id}`;
}

/** Backfill ids: what the API and the CLI take (`/v1/backfills/:id`). */
export const BACKFILL_ID_PATTERN = /^[A-Za-z][A-Za-z0-9_.-]{0,150}$/;

/** The id of a pipeline's initial load (one per pipeline: a finished load is not redone). */
export function initialLoadId(pipeline: string): string {
  return `${pipeline}.initial`;
}

// ---- activity inputs and results ----

export interface PlanInput {
  backfillId: string;
  config: PipelineConfig;
  /** Rows per chunk as the caller asked; undefined: chosen per table. */
  chunkSize?: number;
  /** The rows/s cap of one copy lane, when throttled (bounds the chosen chunk size). */
  laneRowsPerSecond?: number;
}

export interface PlanResult {
  chunks: number;
  tables: number;
  estimatedRows: number;
  /** Where CDC will start: the pipeline checkpoint (created here when the pipeline had none). */
  position: { file: string; pos: number; gtid?: string };
}

export interface CopyChunksInput {
  backfillId: string;
  config: PipelineConfig;
  chunkNos: number[];
  maxRowsPerSecond?: number;
}

export interface CopyChunksResult {
  rows: number;
  written: number;
  copied: number;
  skipped: number;
  /** Empty strings the target stored as NULL (Oracle), per target column. */
  emptyAsNull?: Record<string, number>;
}

export interface IndexDeferralInput {
  backfillId: string;
  config: PipelineConfig;
  /**
   * The first run of the load (nothing copied yet) decides which tables defer; later runs only finish
   * what was recorded, so a table loaded meanwhile is never judged again.
   */
  decide: boolean;
}

/** A target table whose secondary indexes are off for the load, and the chunks that fill it. */
export interface DeferredIndexTable {
  table: TableRef;
  /** Inclusive chunk-number ranges of the source tables mapped to it. */
  chunkRanges: [number, number][];
  indexes: number;
  restored: boolean;
}

export interface IndexDeferralResult {
  tables: DeferredIndexTable[];
  /** Target tables that keep their indexes, with why. */
  kept: string[];
}

/**
 * What a running index rebuild reports in its heartbeat (Temporal Web UI: pending activity details;
 * API: `indexRebuild` of a backfill): the server's own view of the ALTER TABLE.
 */
export interface IndexRebuildProgress {
  /** The statement, shortened. */
  statement: string;
  /** information_schema.PROCESSLIST.STATE, e.g. "Waiting for table metadata lock". */
  state: string;
  /** MariaDB's PROGRESS column (0–100) when it reports one. */
  progressPercent?: number;
  /** Seconds the statement has run. */
  seconds: number;
}

export interface IndexRestoreInput {
  backfillId: string;
  config: PipelineConfig;
  /** One target table; every deferred table when omitted. */
  table?: TableRef;
}

export interface ResyncRequestInput {
  backfillId: string;
  config: PipelineConfig;
  tables: TableRef[];
  where?: string;
  keys?: KeyValueInput[][];
  chunkSize: number;
  maxRowsPerSecond?: number;
}
