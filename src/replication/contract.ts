import type { BinlogPosition } from '../binlog/types';
import type { PipelineConfig } from '../pipeline/config';

/**
 * The contract of the replicate activity, shared by the engine (which produces these) and the pipeline
 * workflow (which schedules the activity and keeps the results). Plain data, no Temporal imports:
 * everything here travels through Temporal, so it stays small and never holds a secret.
 */

/** Input of one replicate activity run. */
export interface ReplicateInput {
  config: PipelineConfig;
  configVersion: number;
  /** Stop and return after this many seconds (the workflow then starts the next run). */
  maxSeconds: number;
}

/** What one replicate run reports back: a few hundred bytes. */
export interface ReplicateResult {
  position?: BinlogPosition;
  transactions: number;
  sourceRowChanges: number;
  batches: number;
  inserted: number;
  updated: number;
  deleted: number;
  missingOnUpdate: number;
  missingOnDelete: number;
  /** Empty strings the target stored as NULL (Oracle). */
  emptyAsNull?: number;
  ddlApplied: number;
  lagMs?: number;
  elapsedMs: number;
  warnings: string[];
  worker: string;
}

/** Progress the replicate activity heartbeats (read by `describe()` for a live status). */
export interface ReplicateProgress {
  position?: BinlogPosition;
  rowsApplied: number;
  transactions: number;
  lagMs?: number;
  at: string;
  worker: string;
}
