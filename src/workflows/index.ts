// Workflow entry point bundled by the worker: deterministic code only, no I/O imports.

export { backfillWorkflow } from './backfill';
export { pipelineWorkflow } from './pipeline';
export { scheduledVerificationWorkflow } from './scheduled-verification';
export { stackCheckWorkflow } from './stack-check';
export { verificationRepairWorkflow, verificationWorkflow } from './verification';
