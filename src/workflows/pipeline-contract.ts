import { defineQuery, defineUpdate } from '@temporalio/workflow';
import type { BinlogPosition } from '../binlog/types';
import type { PipelineConfig } from '../pipeline/config';

/**
 * The contract between the pipeline workflow, its replicate activity and the clients (API, CLI).
 * Everything here travels through Temporal: small, and never a secret (datasources are names;
 * credentials are resolved on the worker).
 */

/** Workflow id of a pipeline: one running workflow per name, ever. */
export function pipelineWorkflowId(name: string): string {
  return `pipeline:${name}`;
}

export const PIPELINE_WORKFLOW_TYPE = 'pipelineWorkflow';

export type PipelineState = 'running' | 'paused' | 'failed' | 'stopped';

/** Counters accumulated over the pipeline's whole life (carried across continue-as-new). */
export interface PipelineCounters {
  transactions: number;
  /** Row changes of mapped tables read from the source, before per-key merging. */
  sourceRowChanges: number;
  rowsApplied: number;
  inserted: number;
  updated: number;
  deleted: number;
  missingOnUpdate: number;
  missingOnDelete: number;
  /** Empty strings a target stored as NULL (Oracle); absent until one did. */
  emptyAsNull?: number;
  ddlApplied: number;
  batches: number;
}

export function zeroCounters(): PipelineCounters {
  return {
    transactions: 0,
    sourceRowChanges: 0,
    rowsApplied: 0,
    inserted: 0,
    updated: 0,
    deleted: 0,
    missingOnUpdate: 0,
    missingOnDelete: 0,
    ddlApplied: 0,
    batches: 0,
  };
}

export interface PipelineError {
  message: string;
  /** Where it happened (binlog file:pos, table, statement) when known. */
  where?: string;
  at: string;
  retryable: boolean;
}

/** State kept by the workflow and returned by the status query. */
export interface PipelineStatus {
  name: string;
  state: PipelineState;
  configVersion: number;
  /** Last position committed on the target (the target's checkpoint is authoritative). */
  position?: BinlogPosition;
  /** Lag in ms measured from the source heartbeat row at the end of the last run. */
  lagMs?: number;
  /** Rows per second over the last completed activity run. */
  rowsPerSecond?: number;
  counters: PipelineCounters;
  lastError?: PipelineError;
  /** Things an operator should know: tables without a key, missing rows, skipped DDL. */
  warnings: string[];
  /** Identity of the worker that ran the last activity. */
  worker?: string;
  startedAt: string;
  updatedAt: string;
  /** options.loadExistingData: the initial load finished (backfill workflow; carried across continue-as-new). */
  initialLoadDone?: boolean;
}

export interface PipelineWorkflowInput {
  config: PipelineConfig;
  configVersion: number;
  /** Overrides for tests and tuning; defaults suit production. */
  tuning?: PipelineTuning;
  /** Present after continue-as-new. */
  carried?: Omit<PipelineStatus, 'name' | 'configVersion'>;
}

export interface PipelineTuning {
  /** Length of one replicate activity run (default 30 s). */
  runSeconds?: number;
  /** Continue-as-new after this many runs even if the server does not suggest it (default 500). */
  runsPerHistory?: number;
}

export type { ReplicateInput, ReplicateProgress, ReplicateResult } from '../replication/contract';

export const pauseUpdate = defineUpdate<PipelineStatus>('pause');
export const resumeUpdate = defineUpdate<PipelineStatus>('resume');
export const stopUpdate = defineUpdate<PipelineStatus>('stop');
export const updateConfigUpdate = defineUpdate<PipelineStatus, [PipelineConfig]>('updateConfig');
export const statusQuery = defineQuery<PipelineStatus>('status');
