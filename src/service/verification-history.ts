import type { Client } from '@temporalio/client';
import { VERIFICATION_WORKFLOW_TYPE } from '../verification/contract';
import { scheduledRunWorkflowIdPrefix } from '../verification/schedule-contract';
import { OTTERFLOW_STATUS } from '../workflows/search-attributes';

/** A verification workflow of a pipeline as Temporal visibility lists it. */
export interface VerificationRun {
  /** The verification id (`/v1/verifications/:id`). */
  id: string;
  workflowStatus: string;
  /** OtterflowStatus: the verification's state as the workflow last set it. */
  state?: string;
  scheduled: boolean;
  startTime: Date;
}

/** How many of a pipeline's newest verification workflows one listing looks at. */
const LISTED = 50;

/**
 * The newest verifications of a pipeline, newest first, scheduled or started by hand (search
 * attributes OtterflowKind = 'verification' and OtterflowPipeline). Visibility lists running
 * workflows first and then by close time, so the newest start is among the first page.
 */
export async function recentVerifications(client: Client, pipeline: string): Promise<VerificationRun[]> {
  const query =
    `WorkflowType = '${VERIFICATION_WORKFLOW_TYPE}' AND OtterflowKind = 'verification' ` +
    `AND OtterflowPipeline = '${pipeline.replace(/'/g, "''")}'`;
  const runs: VerificationRun[] = [];
  const scheduledPrefix = `${scheduledRunWorkflowIdPrefix(pipeline)}-`;
  for await (const info of client.workflow.list({ query, pageSize: LISTED })) {
    const state = info.typedSearchAttributes.get(OTTERFLOW_STATUS);
    runs.push({
      id: info.workflowId.replace(/^verification:/, ''),
      workflowStatus: info.status.name,
      ...(state ? { state } : {}),
      scheduled: info.parentExecution?.workflowId?.startsWith(scheduledPrefix) ?? false,
      startTime: info.startTime,
    });
    if (runs.length >= LISTED) break;
  }
  return runs.sort((a, b) => b.startTime.getTime() - a.startTime.getTime());
}
