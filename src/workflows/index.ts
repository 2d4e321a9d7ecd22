// Workflow entry point bundled by the worker: deterministic code only, no I/O imports.
export { pipelineWorkflow } from './pipeline';
export { stackCheckWorkflow } from './stack-check';
export { backfillWorkflow } from './backfill';
