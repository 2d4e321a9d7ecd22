import type mysql from 'mysql2/promise';
import type { CellValue } from '../binlog/types';
import { MysqlVerificationReport } from '../connectors/mysql/verification/report-store';
import type { TableRef } from '../pipeline/model';
import type { DifferenceKind, RepairStatus, VerificationState, VerificationStatus } from './contract';

/**
 * The verification report lives in the TARGET, next to the pipeline's checkpoint (MySQL/MariaDB: the
 * `otterflow` schema; Oracle: `OTTERFLOW_…` tables in the checkpoint's schema):
 * - verifications: one row per verification (state, request, error, repair outcome);
 * - chunks: the chunk plan by target key range, each chunk marked compared together with its
 *   differences in one transaction, so a resumed verification never compares a chunk twice nor loses
 *   one's differences;
 * - differences: the differing keys (target key order) with kind and target columns.
 * No row values are stored: keys, kinds and column names only.
 *
 * {@link VerificationReportStore} is the seam; each target connector implements it with its own SQL.
 * The functions below take a store (or, for MySQL/MariaDB callers, a plain connection).
 */

/** One chunk of the plan: a key range (after, upTo] of one target table, in target key order. */
export interface StoredChunk {
  chunkNo: number;
  table: TableRef;
  sources: TableRef[];
  keyColumns: string[];
  after?: CellValue[];
  upTo?: CellValue[];
  done: boolean;
}

export interface Difference {
  table: TableRef;
  key: CellValue[];
  kind: DifferenceKind;
  columns: string[];
  repair?: 'repaired' | 'remaining';
}

export interface StoredDifference extends Difference {
  chunkNo: number;
  seq: number;
  keyColumns: string[];
}

export type ChunkCounts = { rowsSource: number; rowsTarget: number; unsettled: number };

/** The report on one target. Every method runs on its own (commits what it writes). */
export interface VerificationReportStore {
  /** Records that a verification exists (state planning); a repeat call leaves the row as it is. */
  beginVerification(id: string, pipeline: string, request: unknown): Promise<void>;
  /** True when the verification's chunk plan is stored already (a retried plan activity). */
  hasPlan(id: string): Promise<boolean>;
  /** A verification run again under its id (resumed): comparing again, its chunks compared so far kept. */
  resumeVerification(id: string): Promise<void>;
  /** Stores the whole plan in one transaction, and sets the state to comparing. */
  storeChunks(id: string, chunks: readonly Omit<StoredChunk, 'chunkNo' | 'done'>[]): Promise<void>;
  readStoredChunk(id: string, chunkNo: number): Promise<StoredChunk | undefined>;
  /** Chunk numbers not compared yet, ascending, and how many chunks there are in all. */
  pendingChunks(id: string): Promise<{ pending: number[]; total: number }>;
  /** Marks a chunk compared with its counts and differences, in one transaction (idempotent). */
  recordChunk(
    id: string,
    chunk: StoredChunk,
    counts: ChunkCounts,
    differences: readonly Omit<Difference, 'table'>[],
  ): Promise<void>;
  finishVerification(id: string, state: VerificationState, error?: string): Promise<void>;
  storeRepairStatus(id: string, repair: RepairStatus): Promise<void>;
  /** Records the outcome of a repair for differences, by (chunk, seq). */
  markRepair(
    id: string,
    outcomes: readonly { chunkNo: number; seq: number; repaired: boolean }[],
  ): Promise<void>;
  /** Differences in report order (chunk, then seq), paged. */
  readDifferences(
    id: string,
    offset: number,
    limit: number,
  ): Promise<{ total: number; differences: StoredDifference[] }>;
  /** The report as a status: state, per-table counts (from chunks and differences), repair outcome. */
  readReport(id: string): Promise<VerificationStatus | undefined>;
  /** The request stored with the verification (its `where`), or undefined for an unknown id. */
  readRequest(id: string): Promise<{ where?: string } | undefined>;
}

/** A report store, or a MySQL/MariaDB connection to use as one. */
export type ReportTarget = VerificationReportStore | mysql.Connection;

export function reportStoreOf(target: ReportTarget): VerificationReportStore {
  return 'readReport' in target ? target : new MysqlVerificationReport(target);
}

export function beginVerification(t: ReportTarget, id: string, pipeline: string, request: unknown) {
  return reportStoreOf(t).beginVerification(id, pipeline, request);
}

export function hasPlan(t: ReportTarget, id: string) {
  return reportStoreOf(t).hasPlan(id);
}

export function resumeVerification(t: ReportTarget, id: string) {
  return reportStoreOf(t).resumeVerification(id);
}

export function storeChunks(
  t: ReportTarget,
  id: string,
  chunks: readonly Omit<StoredChunk, 'chunkNo' | 'done'>[],
) {
  return reportStoreOf(t).storeChunks(id, chunks);
}

export function readStoredChunk(t: ReportTarget, id: string, chunkNo: number) {
  return reportStoreOf(t).readStoredChunk(id, chunkNo);
}

export function pendingChunks(t: ReportTarget, id: string) {
  return reportStoreOf(t).pendingChunks(id);
}

export function recordChunk(
  t: ReportTarget,
  id: string,
  chunk: StoredChunk,
  counts: ChunkCounts,
  differences: readonly Omit<Difference, 'table'>[],
) {
  return reportStoreOf(t).recordChunk(id, chunk, counts, differences);
}

export function finishVerification(t: ReportTarget, id: string, state: VerificationState, error?: string) {
  return reportStoreOf(t).finishVerification(id, state, error);
}

export function storeRepairStatus(t: ReportTarget, id: string, repair: RepairStatus) {
  return reportStoreOf(t).storeRepairStatus(id, repair);
}

export function markRepair(
  t: ReportTarget,
  id: string,
  outcomes: readonly { chunkNo: number; seq: number; repaired: boolean }[],
) {
  return reportStoreOf(t).markRepair(id, outcomes);
}

export function readDifferences(t: ReportTarget, id: string, offset: number, limit: number) {
  return reportStoreOf(t).readDifferences(id, offset, limit);
}

export function readReport(t: ReportTarget, id: string) {
  return reportStoreOf(t).readReport(id);
}
