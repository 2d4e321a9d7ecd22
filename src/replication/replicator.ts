import { ResyncCoordinator } from '../backfill/resync-coordinator';
import type { ResolvedDatasource } from '../config/datasources';
import { checkCheckpointSource, readSourceIdentity } from '../connectors/mysql/checkpoint-source';
import { MysqlTargetSession } from '../connectors/mysql/target-session';
import { findUnsupportedColumns } from '../connectors/mysql/type-support';
import { targetConnectorFor } from '../connectors/registry';
import type { TargetSession } from '../connectors/target';
import type { PipelineConfig } from '../pipeline/config';
import { compileMapper } from '../pipeline/mapping/mapper';
import type { TransformRegistry } from '../pipeline/mapping/transform';
import { ChannelSession } from './channel-session';
import { BatchCommitter, isKnownRunError } from './committer';
import type { ReplicateProgress, ReplicateResult } from './contract';
import { DdlHandler } from './ddl-handler';
import { PipelineHaltError } from './errors';
import { HookList, type ReplicationHooks } from './hooks';
import { replicationMetrics as metrics } from './metrics';
import { MysqlSource } from './mysql-source';
import { formatPosition } from './positions';
import { ReadLoop } from './read-loop';
import { RunReport } from './run-report';

export interface ReplicatorOptions {
  config: PipelineConfig;
  source: ResolvedDatasource;
  target: ResolvedDatasource;
  /** Return at the first transaction boundary after this many seconds. */
  maxSeconds: number;
  /** Aborting stops at once: the open target transaction rolls back, the checkpoint stays where it was. */
  signal?: AbortSignal;
  /** Called at most every `progressEveryMs` with where the run is (the activity heartbeats it). */
  onProgress?: (p: ReplicateProgress) => void;
  progressEveryMs?: number;
  transforms?: TransformRegistry;
  /** Identity for status and logs. */
  worker: string;
  /** Server heartbeat period on the replication connection (stall detection after 3 periods). */
  streamHeartbeatSeconds?: number;
  /** Write the lag heartbeat row on the source (needs write access to the `otterflow` schema there). */
  sourceHeartbeat?: boolean;
}

/**
 * One replicate run: claim the checkpoint on the target (a new epoch), stream the source binlog from
 * it, map and merge row changes per key (read-loop.ts), and commit each batch in ONE target transaction
 * together with its checkpoint (committer.ts), through the target session of the target's kind. Channels
 * and re-sync plug in as hooks (hooks.ts).
 *
 * Data plane only: no Temporal imports. The replicate activity wraps it with heartbeats and
 * cancellation.
 */
export async function replicate(opts: ReplicatorOptions): Promise<ReplicateResult> {
  const { config } = opts;
  const pipeline = config.name;
  const report = new RunReport(opts.worker);
  let target: TargetSession | undefined;
  let source: MysqlSource | undefined;
  let hooks: HookList | undefined;
  try {
    const connector = connectorOf(opts.target);
    target = await connector.open(opts.target, { pipeline });
    source = await MysqlSource.open(opts.source, pipeline);
    const src = source;
    const claim = await target.checkpoint.claim(() => src.initialPosition(config.start));
    if (target instanceof MysqlTargetSession) {
      // A checkpoint left by a pipeline of the same name that read another server is not a position here.
      const identity = await readSourceIdentity(source.connection);
      const foreign = await checkCheckpointSource(
        target.connection,
        pipeline,
        identity,
        claim.created,
        config.source,
      );
      if (foreign) throw new PipelineHaltError(foreign);
    }
    report.committed = claim.position;

    const mapper = compileMapper(config, opts.transforms);
    if (target instanceof MysqlTargetSession) {
      const unsupported = await findUnsupportedColumns(source.connection, target.connection, mapper, config);
      if (unsupported.length > 0) throw new PipelineHaltError(unsupported.join('\n'));
    }
    const list: ReplicationHooks[] = [
      new ResyncCoordinator({
        pipeline,
        source: opts.source,
        openTarget: () => connector.open(opts.target, { pipeline }),
        mapper,
      }),
    ];
    if (config.options.channel) {
      const channel = new ChannelSession({
        pipeline,
        channel: config.options.channel,
        target,
        source: source.connection,
        holdLimit: config.options.batchSize,
        warn: (m) => report.warn(m),
      });
      await channel.prepare();
      list.push(channel);
    }
    hooks = new HookList(list);
    if (opts.sourceHeartbeat !== false) await source.startHeartbeat((m) => report.warn(m));
    const { events, resolveSchema } = await source.events(claim.position, opts.streamHeartbeatSeconds ?? 2);

    const committer = new BatchCommitter({
      pipeline,
      session: target,
      epoch: claim.epoch,
      options: config.options,
      hooks,
      report,
    });
    const loop = new ReadLoop({
      config,
      events,
      resolveSchema,
      mapper,
      tables: target.tables,
      committer,
      hooks,
      ddl: new DdlHandler(config, mapper, target),
      report,
      deadline: report.startedAt + opts.maxSeconds * 1000,
      ...(opts.signal ? { signal: opts.signal } : {}),
      ...(opts.onProgress ? { onProgress: opts.onProgress } : {}),
      ...(opts.progressEveryMs !== undefined ? { progressEveryMs: opts.progressEveryMs } : {}),
    });
    try {
      await loop.run();
    } catch (err) {
      // Errors while streaming (not while connecting and claiming) are classified and counted.
      const classified = classify(err, report);
      metrics.errors.inc({ pipeline, kind: classified instanceof PipelineHaltError ? 'halt' : 'retry' });
      throw classified;
    }
  } finally {
    await hooks?.close();
    await source?.close();
    await target?.close();
  }
  return report.result();
}

/** A target kind this build cannot write to needs a person, not retries. */
function connectorOf(target: ResolvedDatasource) {
  try {
    return targetConnectorFor(target);
  } catch (err) {
    throw new PipelineHaltError((err as Error).message, `target ${target.name}`, { cause: err });
  }
}

function classify(err: unknown, report: RunReport): Error {
  if (isKnownRunError(err)) return err as Error;
  const e = err as Error & { name?: string; kind?: string };
  if (
    e?.name === 'BinlogDecodeError' ||
    (e?.name === 'BinlogStreamError' && (e.kind === 'decode-failed' || e.kind === 'position-purged'))
  ) {
    return new PipelineHaltError(e.message, formatPosition(report.committed), { cause: err });
  }
  return err instanceof Error ? err : new Error(String(err));
}
