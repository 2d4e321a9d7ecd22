import type { PipelineConfig } from '../pipeline/config';
import type { TableRef } from '../pipeline/model';
import type { ChannelDirection, KeyRange } from './contract';

/**
 * Scheduled verifications (docs/verification.md, "Schedules"): one Temporal schedule per pipeline
 * starts `scheduledVerificationWorkflow`, which runs one verification as its child. Pure and free of
 * Node imports: the workflow bundle uses it, and so do the API and the CLI.
 */

export const SCHEDULED_VERIFICATION_WORKFLOW_TYPE = 'scheduledVerificationWorkflow';

/** Search attribute OtterflowKind of the workflows the schedule starts. */
export const SCHEDULED_VERIFICATION_KIND = 'verification-schedule';

/** The schedule of a pipeline: one at most. */
export function verificationScheduleId(pipeline: string): string {
  return `verification-schedule:${pipeline}`;
}

/** The workflow id prefix of its runs (Temporal appends `-<scheduled time, RFC 3339>`). */
export function scheduledRunWorkflowIdPrefix(pipeline: string): string {
  return `verification-scheduled:${pipeline}`;
}

/** The schedule's note while the pipeline is stopped: `start` resumes only a schedule paused so. */
export const PAUSED_WHILE_STOPPED_NOTE = 'paused while the pipeline is not running';

/** What a scheduled run verifies: the options of a verification started by hand. */
export interface ScheduledVerificationOptions {
  /** SOURCE tables, schema.table (all mapped tables when omitted). */
  tables?: string[];
  where?: string;
  chunkSize?: number;
  parallelism?: number;
  maxRowsPerSecond?: number;
  catchUpSeconds?: number;
  keyRange?: KeyRange;
}

/** The argument the schedule gives every run. The API replaces `config` whenever the pipeline changes. */
export interface ScheduledVerificationInput {
  pipeline: string;
  /** The schedule's interval as the user wrote it ("6h"). */
  every: string;
  config: PipelineConfig;
  options: ScheduledVerificationOptions;
  /** A channel pipeline whose opposite pipeline is defined: runs verify it as a channel direction. */
  channel?: ChannelDirection;
}

/** What a run returns: its verification and how it ended. */
export interface ScheduledVerificationResult {
  verificationId: string;
  state: string;
  differences: number;
  rowsCompared: number;
}

/**
 * The id of the verification a run starts, derived from the run's workflow id (which ends in the
 * scheduled time): the API finds a run's verification without asking the run. The suffix is the
 * time in hex seconds, so the id has the shape of any verification id (`<pipeline>.verify-<hex>`).
 * Undefined when the workflow id carries no time (a run started by other means).
 */
export function scheduledVerificationId(pipeline: string, runWorkflowId: string): string | undefined {
  const m = /-(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?(?:Z|[+-]\d\d:\d\d))$/.exec(runWorkflowId);
  const ms = m?.[1] ? Date.parse(m[1]) : Number.NaN;
  if (!Number.isFinite(ms)) return undefined;
  return `${pipeline}.verify-${Math.floor(ms / 1000).toString(16)}`;
}

/** Source tables as the verification workflow takes them. */
export function tableRefs(tables: string[] | undefined): TableRef[] | undefined {
  return tables?.map((t) => {
    const [schema = '', table = ''] = t.split('.');
    return { schema, table };
  });
}

const UNIT_MS = { d: 86_400_000, h: 3_600_000, m: 60_000, s: 1_000 } as const;

/** Durations as the API takes them: one or more `<n><unit>` with units d, h, m, s in that order ("1h30m"). */
export const DURATION_PATTERN = /^(?=\d)(?:(\d{1,4})d)?(?:(\d{1,5})h)?(?:(\d{1,6})m)?(?:(\d{1,7})s)?$/;

/** Milliseconds of a duration written as DURATION_PATTERN says; undefined when it is not one. */
export function parseDuration(text: string): number | undefined {
  const m = DURATION_PATTERN.exec(text);
  if (!m) return undefined;
  const [, d, h, min, s] = m;
  return (
    Number(d ?? 0) * UNIT_MS.d +
    Number(h ?? 0) * UNIT_MS.h +
    Number(min ?? 0) * UNIT_MS.m +
    Number(s ?? 0) * UNIT_MS.s
  );
}

/** A duration in the same notation, largest units first ("6h", "1h30m"). */
export function formatDuration(ms: number): string {
  let rest = Math.round(ms / 1000) * 1000;
  let out = '';
  for (const [unit, size] of Object.entries(UNIT_MS)) {
    const n = Math.floor(rest / size);
    if (n > 0) out += `${n}${unit}`;
    rest -= n * size;
  }
  return out || '0s';
}
