import type mysql from 'mysql2/promise';
import { readServerBinlogState } from '../binlog/replica/server-state';
import { readCheckpoint } from '../connectors/mysql/checkpoint';
import type { ChannelPeer } from './channel-recompare';
import type { SideTable } from './checksum-sql';
import { MysqlVerifyTarget } from './mysql-side';

/**
 * The opposite direction of a channel on MySQL/MariaDB: the target site's binlog position, and the
 * opposite pipeline's checkpoint, which it keeps on OUR source (its target).
 */
export function mysqlChannelPeer(
  source: mysql.Connection,
  target: mysql.Connection,
  /** One source table of the comparison (the source site seen as the opposite pipeline's target). */
  sourceSide: SideTable,
  wait: { pipeline: string; timeoutMs: number; signal?: AbortSignal },
): ChannelPeer {
  // The opposite pipeline's checkpoint is on this comparison's source site.
  const opposite = new MysqlVerifyTarget(source, sourceSide, {
    ...wait,
    applied: () => readCheckpoint(source, wait.pipeline),
  });
  return {
    targetPosition: () => readServerBinlogState(target),
    sourceCaughtUp: (position) => opposite.caughtUp(position),
  };
}
