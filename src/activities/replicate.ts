import os from 'node:os';
import path from 'node:path';
import { ApplicationFailure, CancelledFailure, Context } from '@temporalio/activity';
import { DatasourceResolutionError, type DatasourceResolver } from '../catalog/resolver';
import type { ResolvedDatasource } from '../config/datasources';
import type { TargetConnector } from '../connectors/target';
import { loadTransforms } from '../pipeline/transform-loader';
import type { ReplicateInput, ReplicateProgress, ReplicateResult } from '../replication/contract';
import { PipelineHaltError } from '../replication/errors';
import { replicate } from '../replication/replicator';

/**
 * The replicate activity: a thin shell around the data plane. It resolves datasources (secrets stay
 * on the worker), heartbeats progress, turns cancellation into an abort of the run, and marks errors
 * that need a person as non-retryable.
 */
export function makeReplicate(
  catalog: DatasourceResolver,
  transformsBaseDir: string,
  targetConnector?: TargetConnector,
) {
  return async function replicateActivity(input: ReplicateInput): Promise<ReplicateResult> {
    const ctx = Context.current();
    // Same form as the SDK's default worker identity, so status and the Web UI name workers alike.
    const worker = `${process.pid}@${os.hostname()}`;
    const { config } = input;
    let source: ResolvedDatasource;
    let target: ResolvedDatasource;
    try {
      source = await catalog.resolve(config.source);
      target = await catalog.resolve(config.target);
    } catch (err) {
      if (!(err instanceof DatasourceResolutionError)) throw err; // the catalog did not answer: retried
      // Names the datasource, the variable or file, and this worker (host, pid): shown in status.
      throw ApplicationFailure.nonRetryable(err.message, 'PipelineConfigError');
    }
    const controller = new AbortController();
    // Cancellation reaches an activity only through heartbeats: keep heartbeating even when idle,
    // repeating the last progress (a heartbeat without details would blank the live status).
    let lastProgress: ReplicateProgress | undefined;
    const beat = setInterval(() => ctx.heartbeat(lastProgress), 2000);
    ctx.cancelled.catch(() => controller.abort());
    let result: ReplicateResult;
    try {
      result = await replicate({
        config,
        source,
        target,
        maxSeconds: input.maxSeconds,
        signal: controller.signal,
        onProgress: (p) => {
          lastProgress = p;
          ctx.heartbeat(p);
        },
        transforms: loadTransforms(config, transformsBaseDir),
        worker,
        ...(targetConnector ? { targetConnector } : {}),
      });
    } catch (err) {
      if (controller.signal.aborted) throw new CancelledFailure('replicate run cancelled');
      if (err instanceof PipelineHaltError) {
        throw ApplicationFailure.create({
          message: err.message,
          type: 'PipelineHalt',
          nonRetryable: true,
          details: [{ where: err.where }],
        });
      }
      throw err; // anything else (connections, deadlocks, a restarting database) is retried
    } finally {
      clearInterval(beat);
    }
    // After a cancel request the run stops at once (its open transaction rolled back, the checkpoint
    // intact) and still reports what it committed before: the workflow keeps exact counters.
    return result;
  };
}

export const defaultTransformsDir = path.resolve(process.cwd());
