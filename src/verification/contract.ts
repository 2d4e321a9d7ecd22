import { defineQuery } from '@temporalio/workflow';
import type { PipelineConfig } from '../pipeline/config';
import type { TableRef } from '../pipeline/model';

/**
 * The contract between the verification workflows, their activities and the clients (API, CLI).
 * Only names, counters and small key lists travel here; rows never do (docs/verification.md).
 */

export const VERIFICATION_WORKFLOW_TYPE = 'verificationWorkflow';
export const REPAIR_WORKFLOW_TYPE = 'verificationRepairWorkflow';

/** Verification ids: what the API and the CLI take (`/v1/verifications/:id`). */
export const VERIFICATION_ID_PATTERN = /^[A-Za-z][A-Za-z0-9_.-]{0,150}$/;

export function verificationWorkflowId(id: string): string {
  return `verification:${id}`;
}

export function repairWorkflowId(id: string): string {
  return `verification-repair:${id}`;
}

/** How a target row differs from what the source says it should hold. */
export type DifferenceKind = 'missing' | 'extra' | 'different';

/**
 * Bounds on the TARGET key, values in the target key's column order, both inclusive; applied to both
 * sides, so rows only on the target inside the range are found too (docs/verification.md, "Key range").
 */
export interface KeyRange {
  from?: (string | number)[];
  to?: (string | number)[];
}

/** One direction of a bidirectional channel: its id and the opposite pipeline (docs/verification.md). */
export interface ChannelDirection {
  id: string;
  /** The pipeline replicating the other way (its checkpoint is on this pipeline's source). */
  peer: string;
}

export interface VerificationInput {
  id: string;
  config: PipelineConfig;
  /** The pipeline is one direction of a channel: both sites are treated as sources. */
  channel?: ChannelDirection;
  /** SOURCE tables to verify (each mapped); all mapped tables when omitted. */
  tables?: TableRef[];
  /** Only source rows matching this condition (source column names; checked with EXPLAIN first). */
  where?: string;
  /** Only target keys in this range (and the source rows that map into it). */
  keyRange?: KeyRange;
  /** Rows per chunk (default: chosen per table, as the initial load does). */
  chunkSize?: number;
  /** Chunks compared at once (default 4). */
  parallelism?: number;
  /** Cap on rows read per second from each side (undefined / 0: none). */
  maxRowsPerSecond?: number;
  /** How long a differing chunk waits for the pipeline to apply what the source showed (default 120 s). */
  catchUpSeconds?: number;
  /** Chunk activities per workflow run before continue-as-new (default 1500). */
  chunksPerRun?: number;
  /** Present after continue-as-new. */
  carried?: { startedAt: string };
}

export type VerificationState = 'planning' | 'comparing' | 'done' | 'failed' | 'cancelled';

export interface TableVerification {
  /** Target table, schema.table. */
  table: string;
  /** Source tables compared against it (several for merged shards). */
  sources: string[];
  chunks: number;
  chunksDone: number;
  rowsSource: number;
  rowsTarget: number;
  missing: number;
  extra: number;
  different: number;
  /** Keys that kept changing on the source through every re-compare (not reported as differences). */
  unsettled: number;
  /** Channels: differing keys that conflict resolution decided (listed apart, not differences). */
  decidedByPolicy?: number;
}

export interface RepairStatus {
  state: 'running' | 'done' | 'failed';
  /** Differences re-synced (missing, different) or deleted on the target (extra). */
  requested: number;
  /** Compared again after the repair and now equal. */
  repaired: number;
  /** Compared again after the repair and still differing. */
  remaining: number;
  lastError?: string;
  startedAt: string;
  finishedAt?: string;
}

export interface VerificationStatus {
  id: string;
  pipeline: string;
  state: VerificationState;
  chunksTotal: number;
  chunksDone: number;
  rowsCompared: number;
  rowsPerSecond: number;
  differences: number;
  tables: TableVerification[];
  repair?: RepairStatus;
  lastError?: string;
  startedAt: string;
  updatedAt: string;
  finishedAt?: string;
}

export const verificationStatusQuery = defineQuery<VerificationStatus>('verificationStatus');

// ---- activity inputs and results ----

export interface VerifyPlanInput {
  verificationId: string;
  config: PipelineConfig;
  tables?: TableRef[];
  where?: string;
  keyRange?: KeyRange;
  chunkSize?: number;
  laneRowsPerSecond?: number;
}

export interface VerifyChunkInput {
  verificationId: string;
  config: PipelineConfig;
  /** Chunks compared one after the other by one activity (fewer round trips than one each). */
  chunkNos: number[];
  keyRange?: KeyRange;
  maxRowsPerSecond?: number;
  catchUpSeconds?: number;
  channel?: ChannelDirection;
}

export interface VerifyChunkResult {
  chunkNo: number;
  /** Target table, schema.table. */
  table: string;
  rowsSource: number;
  rowsTarget: number;
  differences: number;
  /** The chunk was found compared already (a retried activity, a resumed workflow). */
  skipped: boolean;
}

export interface VerifyFinishInput {
  verificationId: string;
  config: PipelineConfig;
  state: VerificationState;
  error?: string;
}

export interface RepairInput {
  verificationId: string;
  config: PipelineConfig;
  catchUpSeconds?: number;
  channel?: ChannelDirection;
}

/** One re-sync to run for the repair: source table and its keys in source key column order. */
export interface RepairResync {
  table: TableRef;
  keys: (string | number | null)[][];
}
