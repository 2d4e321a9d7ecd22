import type mysql from 'mysql2/promise';
import type { PeerSite } from '../../replication/conflicts';
import { ensureMarksTable, MARKS } from './marks';

/**
 * The SOURCE side of a bidirectional channel on a MySQL/MariaDB server: the mark table applications
 * write their suppress-sync marker into, and the opposite pipeline's registration (that pipeline
 * writes into our source).
 */

/** Creates `otterflow.marks` on the source, so applications there can write the suppress-sync marker. */
export function ensureSourceMarksTable(conn: mysql.Connection): Promise<void> {
  return ensureMarksTable(conn);
}

/**
 * The other pipelines of `channel` that write into this server (read on our SOURCE: the opposite
 * pipeline's target). Undefined when none registered yet or the table does not exist.
 */
export async function readPeerSite(
  conn: mysql.Connection,
  channel: string,
  pipeline: string,
): Promise<PeerSite | undefined> {
  try {
    const [rows] = await conn.query<mysql.RowDataPacket[]>(
      `SELECT pipeline, site_priority FROM ${MARKS} WHERE channel = ? AND pipeline <> ? ORDER BY pipeline LIMIT 1`,
      [channel, pipeline],
    );
    const r = rows[0];
    return r ? { pipeline: String(r.pipeline), sitePriority: Number(r.site_priority ?? 0) } : undefined;
  } catch (err) {
    if ((err as { errno?: number }).errno === 1146 || (err as { errno?: number }).errno === 1049)
      return undefined; // no such table / database: the peer never ran
    throw err;
  }
}
