/**
 * A failure that retrying cannot fix: the pipeline stops and waits for a person (bad configuration,
 * a corrupt event, a DDL the policy refuses, a missing row under `missingRow: stop`). The activity
 * turns it into a non-retryable Temporal failure; the workflow shows it as the last error.
 */
export class PipelineHaltError extends Error {
  override readonly name = 'PipelineHaltError';
  constructor(
    message: string,
    /** Where: binlog file:pos, and the table or statement when known. */
    readonly where?: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}
