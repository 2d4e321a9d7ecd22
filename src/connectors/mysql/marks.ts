import type mysql from 'mysql2/promise';
import type { CellValue } from '../../binlog/types';
import type { TargetTableInfo } from '../../pipeline/model';
import {
  CONFLICT_OPS,
  type ConflictRecord,
  type TargetRow,
  type TargetRowReader,
} from '../../replication/conflicts';
import type { ChannelMark, ChannelMarks, StoredConflict } from '../target';
import { SYSTEM_SCHEMA } from './checkpoint';
import { quoteMysqlIdentifier, quoteMysqlTable } from './dialect';

/**
 * The `otterflow` tables of active-active channels on a MySQL/MariaDB site (docs/bidirectional.md):
 *
 * - `marks`: one row per (channel, pipeline). A channel pipeline bumps its row first thing in every
 *   target transaction, so the transaction is recognisable in that server's binlog (the row CHANGES
 *   each time — `seq = seq + 1` — or ROW-format logging would leave it out). `site_priority` tells
 *   the opposite pipeline, which reads this server as its source, our priority.
 *   Applications write channel `*` in a transaction to keep it from being replicated at all.
 * - `conflicts`: write conflicts the pipelines applying INTO this server detected and resolved.
 */

export const MARKS = `\`${SYSTEM_SCHEMA}\`.marks`;
export const CONFLICTS = `\`${SYSTEM_SCHEMA}\`.conflicts`;

/** Creates `otterflow.marks` (enough for an application's suppress-sync marker on a source). */
export async function ensureMarksTable(conn: mysql.Connection): Promise<void> {
  await conn.query(`CREATE DATABASE IF NOT EXISTS \`${SYSTEM_SCHEMA}\``);
  await conn.query(
    `CREATE TABLE IF NOT EXISTS ${MARKS} (
      channel VARCHAR(64) NOT NULL,
      pipeline VARCHAR(64) NOT NULL,
      seq BIGINT UNSIGNED NOT NULL DEFAULT 0,
      site_priority INT NULL,
      PRIMARY KEY (channel, pipeline)
    ) ENGINE=InnoDB`,
  );
}

/**
 * Creates the mark and conflict tables on a channel pipeline's target. Values are JSON text;
 * `source_before` holds `null` (the JSON text) for an INSERT conflict: the column stays NOT NULL and
 * `op` VARCHAR(8) fits `insert`, so tables created before INSERT conflicts existed need no migration.
 */
export async function ensureChannelTables(conn: mysql.Connection): Promise<void> {
  await ensureMarksTable(conn);
  await conn.query(
    `CREATE TABLE IF NOT EXISTS ${CONFLICTS} (
      id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
      at TIMESTAMP(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
      pipeline VARCHAR(64) NOT NULL,
      channel VARCHAR(64) NOT NULL,
      table_name VARCHAR(200) NOT NULL,
      op VARCHAR(8) NOT NULL,
      key_json LONGTEXT NOT NULL,
      source_before LONGTEXT NOT NULL,
      source_after LONGTEXT NULL,
      target_row LONGTEXT NULL,
      resolution VARCHAR(16) NOT NULL,
      policy VARCHAR(32) NOT NULL,
      reason VARCHAR(512) NOT NULL,
      KEY by_pipeline (pipeline, id)
    ) ENGINE=InnoDB`,
  );
}

/**
 * Writes this pipeline's mark: call it right after the epoch fence in every target transaction of
 * a channel pipeline (before any replicated row), or alone (autocommit) to register the site priority.
 */
export async function writeMark(
  conn: mysql.Connection,
  channel: string,
  pipeline: string,
  sitePriority: number,
): Promise<void> {
  await conn.query(
    `INSERT INTO ${MARKS} (channel, pipeline, seq, site_priority) VALUES (?, ?, 1, ?) ` +
      'ON DUPLICATE KEY UPDATE seq = seq + 1, site_priority = VALUES(site_priority)',
    [channel, pipeline, sitePriority],
  );
}

/** Keys per SELECT of the conflict check. */
const KEYS_PER_SELECT = 500;

/**
 * Reads target rows by key with `SELECT … WHERE key IN (…) FOR UPDATE`, so that no local write slips
 * in between the check and the apply. FLOAT columns come back as exact doubles (`c + 0e0`): their
 * text form would be rounded to 6 digits.
 */
export class MysqlTargetRowReader implements TargetRowReader {
  constructor(private readonly conn: mysql.Connection) {}

  async read(info: TargetTableInfo, keys: CellValue[][], columns: string[]): Promise<TargetRow[]> {
    const types = (info as TargetTableInfo & { columnTypes?: Record<string, string> }).columnTypes ?? {};
    const select = columns
      .map((c) => {
        const q = quoteMysqlIdentifier(c);
        return types[c] === 'float' ? `(${q} + 0e0) AS ${q}` : q;
      })
      .join(', ');
    const table = quoteMysqlTable(info.ref);
    const k = info.keyColumns;
    const tuple = k.length === 1 ? '?' : `(${k.map(() => '?').join(',')})`;
    const lhs = k.length === 1 ? quoteMysqlIdentifier(k[0]!) : `(${k.map(quoteMysqlIdentifier).join(',')})`;
    const out: TargetRow[] = [];
    for (let i = 0; i < keys.length; i += KEYS_PER_SELECT) {
      const chunk = keys.slice(i, i + KEYS_PER_SELECT);
      const [rows] = await this.conn.query<mysql.RowDataPacket[]>(
        `SELECT ${select} FROM ${table} WHERE ${lhs} IN (${chunk.map(() => tuple).join(',')}) FOR UPDATE`,
        chunk.flat(),
      );
      for (const r of rows) out.push({ ...r });
    }
    return out;
  }
}

/** Stores conflict records (in the batch transaction: they commit with the rows they are about). */
export async function insertConflicts(
  conn: mysql.Connection,
  records: readonly ConflictRecord[],
): Promise<void> {
  for (let i = 0; i < records.length; i += 200) {
    const chunk = records.slice(i, i + 200);
    await conn.query(
      `INSERT INTO ${CONFLICTS} (pipeline, channel, table_name, op, key_json, source_before, source_after, target_row, resolution, policy, reason) VALUES ${chunk
        .map(() => '(?,?,?,?,?,?,?,?,?,?,?)')
        .join(',')}`,
      chunk.flatMap((r) => [
        r.pipeline,
        r.channel,
        r.table,
        r.op,
        JSON.stringify(r.key),
        JSON.stringify(r.sourceBefore),
        r.sourceAfter ? JSON.stringify(r.sourceAfter) : null,
        r.targetRow ? JSON.stringify(r.targetRow) : null,
        r.resolution,
        r.policy,
        r.reason.slice(0, 512),
      ]),
    );
  }
}

export type { StoredConflict };

/** The newest conflicts recorded for `pipeline` on this target (newest first), and how many there are in all. */
export async function listConflicts(
  conn: mysql.Connection,
  pipeline: string,
  limit: number,
): Promise<{ total: number; conflicts: StoredConflict[] }> {
  try {
    const [[count]] = await conn.query<mysql.RowDataPacket[]>(
      `SELECT COUNT(*) AS n FROM ${CONFLICTS} WHERE pipeline = ?`,
      [pipeline],
    );
    const [rows] = await conn.query<mysql.RowDataPacket[]>(
      `SELECT id, UNIX_TIMESTAMP(at) AS at_s, pipeline, channel, table_name, op, key_json, source_before, source_after, target_row, resolution, policy, reason
       FROM ${CONFLICTS} WHERE pipeline = ? ORDER BY id DESC LIMIT ?`,
      [pipeline, limit],
    );
    return {
      total: Number(count?.n ?? 0),
      conflicts: rows.map((r) => ({
        id: Number(r.id),
        at: new Date(Math.round(Number(r.at_s) * 1000)).toISOString(),
        pipeline: String(r.pipeline),
        channel: String(r.channel),
        table: String(r.table_name),
        op: CONFLICT_OPS.find((o) => o === r.op) ?? 'update',
        key: JSON.parse(String(r.key_json)),
        sourceBefore: JSON.parse(String(r.source_before)),
        sourceAfter: r.source_after === null ? null : JSON.parse(String(r.source_after)),
        targetRow: r.target_row === null ? null : JSON.parse(String(r.target_row)),
        resolution: r.resolution === 'skipped' ? 'skipped' : 'applied',
        policy: String(r.policy) as ConflictRecord['policy'],
        reason: String(r.reason),
      })),
    };
  } catch (err) {
    if ((err as { errno?: number }).errno === 1146 || (err as { errno?: number }).errno === 1049)
      return { total: 0, conflicts: [] }; // the pipeline never ran with a channel on this target
    throw err;
  }
}

/** Channel marks and conflict records on a MySQL/MariaDB target connection. */
export class MysqlChannelMarks implements ChannelMarks {
  readonly rows: TargetRowReader;

  constructor(
    private readonly conn: mysql.Connection,
    private readonly pipeline: string,
  ) {
    this.rows = new MysqlTargetRowReader(conn);
  }

  async prepare(mark: ChannelMark): Promise<void> {
    await ensureChannelTables(this.conn);
    await writeMark(this.conn, mark.channel, mark.pipeline, mark.sitePriority);
  }

  write(mark: ChannelMark): Promise<void> {
    return writeMark(this.conn, mark.channel, mark.pipeline, mark.sitePriority);
  }

  insertConflicts(records: readonly ConflictRecord[]): Promise<void> {
    return insertConflicts(this.conn, records);
  }

  listConflicts(limit: number): Promise<{ total: number; conflicts: StoredConflict[] }> {
    return listConflicts(this.conn, this.pipeline, limit);
  }
}
