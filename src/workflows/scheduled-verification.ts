import { executeChild, upsertSearchAttributes, uuid4, workflowInfo } from '@temporalio/workflow';
import { VERIFICATION_WORKFLOW_TYPE, verificationWorkflowId } from '../verification/contract';
import {
  SCHEDULED_VERIFICATION_KIND,
  type ScheduledVerificationInput,
  type ScheduledVerificationResult,
  scheduledVerificationId,
  tableRefs,
} from '../verification/schedule-contract';
import { OTTERFLOW_KIND, OTTERFLOW_PIPELINE, OTTERFLOW_STATUS } from './search-attributes';
import type { verificationWorkflow } from './verification';

/**
 * One run of a pipeline's verification schedule: a verification of the pipeline as the schedule's
 * argument defines it (the API rewrites that argument whenever the pipeline changes), run as a child
 * on the same task queue. The run lasts as long as its verification, so the schedule's overlap policy
 * (skip) leaves out a run while the previous one still compares.
 */
export async function scheduledVerificationWorkflow(
  input: ScheduledVerificationInput,
): Promise<ScheduledVerificationResult> {
  const info = workflowInfo();
  const id =
    scheduledVerificationId(input.pipeline, info.workflowId) ??
    `${input.pipeline}.verify-${uuid4().replace(/-/g, '').slice(0, 8)}`;
  upsertSearchAttributes([
    { key: OTTERFLOW_KIND, value: SCHEDULED_VERIFICATION_KIND },
    { key: OTTERFLOW_PIPELINE, value: input.pipeline },
    { key: OTTERFLOW_STATUS, value: 'running' },
  ]);
  const o = input.options;
  const tables = tableRefs(o.tables);
  const status = await executeChild<typeof verificationWorkflow>(VERIFICATION_WORKFLOW_TYPE, {
    workflowId: verificationWorkflowId(id),
    args: [
      {
        id,
        config: input.config,
        ...(input.channel ? { channel: input.channel } : {}),
        ...(tables ? { tables } : {}),
        ...(o.where !== undefined ? { where: o.where } : {}),
        ...(o.keyRange ? { keyRange: o.keyRange } : {}),
        ...(o.chunkSize ? { chunkSize: o.chunkSize } : {}),
        ...(o.parallelism ? { parallelism: o.parallelism } : {}),
        ...(o.maxRowsPerSecond ? { maxRowsPerSecond: o.maxRowsPerSecond } : {}),
        ...(o.catchUpSeconds ? { catchUpSeconds: o.catchUpSeconds } : {}),
      },
    ],
    typedSearchAttributes: [
      { key: OTTERFLOW_KIND, value: 'verification' },
      { key: OTTERFLOW_PIPELINE, value: input.pipeline },
      { key: OTTERFLOW_STATUS, value: 'planning' },
    ],
  }).catch((err: unknown) => {
    upsertSearchAttributes([{ key: OTTERFLOW_STATUS, value: 'failed' }]);
    throw err;
  });
  upsertSearchAttributes([{ key: OTTERFLOW_STATUS, value: status.state }]);
  return {
    verificationId: id,
    state: status.state,
    differences: status.differences,
    rowsCompared: status.rowsCompared,
  };
}
