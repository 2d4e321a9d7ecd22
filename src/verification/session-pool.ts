import type mysql from 'mysql2/promise';
import { openSourceReader } from '../backfill/source-table';
import type { ResolvedDatasource } from '../config/datasources';
import { openTargetSession } from '../connectors/registry';
import type { TargetSession } from '../connectors/target';
import type { VerificationConnector, VerificationTargetSession } from '../connectors/verification-target';
import type { PipelineConfig } from '../pipeline/config';
import type { Mapper } from '../pipeline/mapping/mapper';
import { type TableRef, tableKey } from '../pipeline/model';
import { type LoadedComparison, loadComparison } from './planner';
import type { StoredChunk } from './report-store';

/**
 * Connections of a verification's activities: a source and a target reader per lane, kept between
 * chunk activities with the table comparisons they planned (no Temporal imports).
 */

/** A source connection and a target session of one verification, with its table comparisons cached. */
export interface VerifySession {
  source: mysql.Connection;
  /** The target's report, checkpoint and table reads (its connector's verification session). */
  target: VerificationTargetSession;
  comparison(chunk: StoredChunk, mapper: () => Mapper, config: PipelineConfig): Promise<LoadedComparison>;
  /** The verification's WHERE condition, as stored with its request. */
  where(id: string): Promise<string | undefined>;
  /** A target session (opened on first use) for comparisons computed in the worker. */
  targetSession(pipeline: string): Promise<TargetSession>;
  close(): Promise<void>;
}

export async function openSession(
  ds: { source: ResolvedDatasource; target: ResolvedDatasource },
  pipeline: string,
  targetConnector: VerificationConnector,
): Promise<VerifySession> {
  const source = await openSourceReader(ds.source);
  const target = await targetConnector.open(ds.target, pipeline).catch(async (err) => {
    await source.end().catch(() => {});
    throw err;
  });
  const comparisons = new Map<string, Promise<LoadedComparison>>();
  let where: Promise<string | undefined> | undefined;
  let session: Promise<TargetSession> | undefined;
  return {
    source,
    target,
    comparison(chunk, mapper, config) {
      const k = tableKey(chunk.table);
      let c = comparisons.get(k);
      if (!c) {
        c = loadComparison(source, target, config, mapper(), chunk.table, chunk.sources as TableRef[]);
        c.catch(() => comparisons.delete(k));
        comparisons.set(k, c);
      }
      return c;
    },
    where(id) {
      where ??= target.readRequest(id).then((r) => r?.where ?? undefined);
      return where;
    },
    targetSession(pipeline) {
      if (!session) {
        session = openTargetSession(ds.target, { pipeline });
        session.catch(() => {
          session = undefined;
        });
      }
      return session;
    },
    close: async () => {
      if (session) await (await session.catch(() => undefined))?.close();
      await source.end().catch(() => {});
      await target.close();
    },
  };
}

/** Idle sessions per verification between chunk activities; closed after a minute idle. */
export class SessionPool {
  private readonly idle = new Map<string, { session: VerifySession; timer: NodeJS.Timeout }[]>();

  async take(key: string, create: () => Promise<VerifySession>): Promise<VerifySession> {
    const hit = this.idle.get(key)?.pop();
    if (hit) {
      clearTimeout(hit.timer);
      return hit.session;
    }
    return create();
  }

  async give(key: string, session: VerifySession, healthy: boolean): Promise<void> {
    if (!healthy) return session.close();
    const list = this.idle.get(key) ?? [];
    const entry = {
      session,
      timer: setTimeout(() => {
        const at = list.indexOf(entry);
        if (at >= 0) list.splice(at, 1);
        void session.close();
      }, 60_000),
    };
    entry.timer.unref();
    list.push(entry);
    this.idle.set(key, list);
  }

  async drop(key: string): Promise<void> {
    for (const e of this.idle.get(key) ?? []) {
      clearTimeout(e.timer);
      await e.session.close();
    }
    this.idle.delete(key);
  }
}
