import type mysql from 'mysql2/promise';
import { mariaDbGtidAt, readServerBinlogState } from '../binlog/replica/server-state';
import type { BinlogPosition } from '../binlog/types';
import type { StartPosition } from '../pipeline/config';

/** Where a pipeline starts on its very first run (later runs resume from the target's checkpoint). */
export async function initialPosition(
  source: mysql.Connection,
  start: StartPosition,
): Promise<BinlogPosition> {
  if (start === 'current') return readServerBinlogState(source);
  if ('gtid' in start) return { file: '', pos: 4, gtid: start.gtid };
  const gtid = await mariaDbGtidAt(source, start.file, start.pos).catch(() => undefined);
  return gtid ? { file: start.file, pos: start.pos, gtid } : { file: start.file, pos: start.pos };
}

/**
 * The server id this pipeline registers with as a replica: stable per pipeline name and in the upper
 * half of the 32-bit range, away from the small ids servers usually get. Two dump connections with one
 * id would kick each other off the source.
 */
export function replicaServerId(pipeline: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < pipeline.length; i++) {
    h ^= pipeline.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return (h | 0x80000000) >>> 0;
}

export function formatPosition(p: BinlogPosition | undefined): string {
  if (!p) return '(none)';
  return `${p.file || '(gtid)'}:${p.pos}${p.gtid ? ` gtid ${p.gtid}` : ''}`;
}
