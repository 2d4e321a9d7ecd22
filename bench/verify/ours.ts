/**
 * Otterflow's side of the verification benchmark: a verification workflow of an identity-mapped,
 * caught-up pipeline, run on a worker in this process that is already polling (as in production),
 * timed from the start request to its result. Its report (on the target) gives the differing keys
 * and where the time went.
 */
import type { Client } from '@temporalio/client';
import type mysql from 'mysql2/promise';
import type { PipelineConfig } from '../../src/pipeline/config';
import { type VerificationStatus, verificationWorkflowId } from '../../src/verification/contract';
import { readDifferences } from '../../src/verification/report-store';
import { byNumber } from './stack';

export interface OursRun {
  seconds: number;
  state: string;
  chunks: number;
  rowsCompared: number;
  keys: string[];
  /** Wall seconds: start → first chunk recorded, first → last chunk, last chunk → end. */
  phases: { startToFirstChunk: number; chunks: number; lastChunkToEnd: number };
}

export interface OursOptions {
  client: Client;
  taskQueue: string;
  config: PipelineConfig;
  /** Where the report is (the target). */
  target: mysql.Connection;
  parallelism?: number;
  chunkSize?: number;
}

let seq = 0;

export async function runVerification(o: OursOptions): Promise<OursRun> {
  const id = `bench_verify.v${Date.now()}-${seq++}`;
  const t0 = process.hrtime.bigint();
  const status = (await o.client.workflow.execute('verificationWorkflow', {
    taskQueue: o.taskQueue,
    workflowId: verificationWorkflowId(id),
    args: [
      {
        id,
        config: o.config,
        ...(o.parallelism ? { parallelism: o.parallelism } : {}),
        ...(o.chunkSize ? { chunkSize: o.chunkSize } : {}),
      },
    ],
  })) as VerificationStatus;
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  const keys: string[] = [];
  for (const d of (await readDifferences(o.target, id, 0, 100_000)).differences) keys.push(String(d.key[0]));
  const [rows] = await o.target.query<mysql.RowDataPacket[]>(
    `SELECT UNIX_TIMESTAMP(v.started_at) AS started, UNIX_TIMESTAMP(MIN(c.done_at)) AS first,
            UNIX_TIMESTAMP(MAX(c.done_at)) AS last, UNIX_TIMESTAMP(v.finished_at) AS finished
       FROM otterflow.verifications v JOIN otterflow.verification_chunks c USING (verification_id)
      WHERE v.verification_id = ? GROUP BY v.verification_id`,
    [id],
  );
  const p = (rows[0] ?? {}) as Record<string, unknown>;
  const span = (a: unknown, b: unknown) => Number((Number(b) - Number(a)).toFixed(2));
  return {
    seconds,
    state: status.state,
    chunks: status.chunksTotal,
    rowsCompared: status.rowsCompared,
    keys: [...new Set(keys)].sort(byNumber),
    phases: {
      startToFirstChunk: span(p.started, p.first),
      chunks: span(p.first, p.last),
      lastChunkToEnd: span(p.last, p.finished),
    },
  };
}
