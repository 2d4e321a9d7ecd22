import type { Client } from '@temporalio/client';
import type mysql from 'mysql2/promise';
import { stringifyKey } from '../../src/backfill/keys';
import type { PipelineConfig } from '../../src/pipeline/config';
import {
  type VerificationInput,
  type VerificationStatus,
  verificationWorkflowId,
} from '../../src/verification/contract';
import { readDifferences, readReport } from '../../src/verification/report-store';
import { connectTo, uniqueName } from './stack';

/** Runs a verification workflow to its end on the caller's task queue. */
export async function runVerification(
  client: Client,
  taskQueue: string,
  config: PipelineConfig,
  extra: Partial<VerificationInput> = {},
): Promise<VerificationStatus> {
  const id = `${config.name}.verify-${uniqueName('t')}`;
  return (await client.workflow.execute('verificationWorkflow', {
    taskQueue,
    workflowId: verificationWorkflowId(id),
    args: [{ id, config, ...extra }],
  })) as VerificationStatus;
}

/** The differences of a verification as sorted `kind table key [columns]` strings. */
export async function differencesOf(id: string): Promise<string[]> {
  const conn: mysql.Connection = await connectTo('target');
  try {
    const { differences } = await readDifferences(conn, id, 0, 100_000);
    return differences
      .map((d) => `${d.kind} ${d.table.table} ${stringifyKey(d.key)} ${d.columns.join(',')}`.trim())
      .sort();
  } finally {
    await conn.end();
  }
}

/** The report of a verification as stored on the target. */
export async function reportOf(id: string) {
  const conn: mysql.Connection = await connectTo('target');
  try {
    return await readReport(conn, id);
  } finally {
    await conn.end();
  }
}
