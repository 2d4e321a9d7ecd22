import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';

/** Registered by `otterflow dev up` (see src/devstack/temporal.ts) so the Web UI can filter on them. */
export const OTTERFLOW_PIPELINE = defineSearchAttributeKey('OtterflowPipeline', SearchAttributeType.KEYWORD);
export const OTTERFLOW_STATUS = defineSearchAttributeKey('OtterflowStatus', SearchAttributeType.KEYWORD);
export const OTTERFLOW_KIND = defineSearchAttributeKey('OtterflowKind', SearchAttributeType.KEYWORD);
