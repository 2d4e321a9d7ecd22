import type mysql from 'mysql2/promise';
import { parseKey, stringifyKey } from '../backfill/keys';
import type { CellValue } from '../binlog/types';
import { SYSTEM_SCHEMA } from '../connectors/target';
import { type TableRef, tableKey } from '../pipeline/model';
import type {
  DifferenceKind,
  RepairStatus,
  TableVerification,
  VerificationState,
  VerificationStatus,
} from './contract';

/**
 * The verification report lives in the TARGET's `otterflow` schema (next to the checkpoint):
 * - `verifications`: one row per verification (state, request, error, repair outcome);
 * - `verification_chunks`: the chunk plan by target key range, each chunk marked compared together
 *   with its differences in one transaction, so a resumed verification never compares a chunk twice
 *   nor loses one's differences;
 * - `verification_differences`: the differing keys (target key order) with kind and target columns.
 * No row values are stored: keys, kinds and column names only.
 */

const S = `\`${SYSTEM_SCHEMA}\``;

export async function ensureVerificationTables(conn: mysql.Connection): Promise<void> {
  await conn.query(`CREATE DATABASE IF NOT EXISTS ${S}`);
  await conn.query(
    `CREATE TABLE IF NOT EXISTS ${S}.verifications (
      verification_id VARCHAR(191) NOT NULL PRIMARY KEY,
      pipeline VARCHAR(64) NOT NULL,
      state VARCHAR(16) NOT NULL,
      request_json TEXT NULL,
      error TEXT NULL,
      repair_json TEXT NULL,
      started_at TIMESTAMP(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
      updated_at TIMESTAMP(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6) ON UPDATE CURRENT_TIMESTAMP(6),
      finished_at TIMESTAMP(6) NULL,
      KEY by_pipeline (pipeline, started_at)
    ) ENGINE=InnoDB`,
  );
  await conn.query(
    `CREATE TABLE IF NOT EXISTS ${S}.verification_chunks (
      verification_id VARCHAR(191) NOT NULL,
      chunk_no INT UNSIGNED NOT NULL,
      target_schema VARCHAR(64) NOT NULL,
      target_table VARCHAR(64) NOT NULL,
      sources TEXT NOT NULL,
      key_columns TEXT NOT NULL,
      after_key LONGTEXT NULL,
      up_to_key LONGTEXT NULL,
      status ENUM('pending', 'done') NOT NULL DEFAULT 'pending',
      rows_source BIGINT UNSIGNED NOT NULL DEFAULT 0,
      rows_target BIGINT UNSIGNED NOT NULL DEFAULT 0,
      unsettled INT UNSIGNED NOT NULL DEFAULT 0,
      done_at TIMESTAMP(6) NULL,
      PRIMARY KEY (verification_id, chunk_no)
    ) ENGINE=InnoDB`,
  );
  await conn.query(
    `CREATE TABLE IF NOT EXISTS ${S}.verification_differences (
      verification_id VARCHAR(191) NOT NULL,
      chunk_no INT UNSIGNED NOT NULL,
      seq INT UNSIGNED NOT NULL,
      target_schema VARCHAR(64) NOT NULL,
      target_table VARCHAR(64) NOT NULL,
      key_json TEXT NOT NULL,
      kind ENUM('missing', 'extra', 'different') NOT NULL,
      columns_json TEXT NULL,
      repair ENUM('repaired', 'remaining') NULL,
      PRIMARY KEY (verification_id, chunk_no, seq)
    ) ENGINE=InnoDB`,
  );
}

/** One chunk of the plan: a key range (after, upTo] of one target table, in target key order. */
export interface StoredChunk {
  chunkNo: number;
  table: TableRef;
  sources: TableRef[];
  keyColumns: string[];
  after?: CellValue[];
  upTo?: CellValue[];
  done: boolean;
}

export interface Difference {
  table: TableRef;
  key: CellValue[];
  kind: DifferenceKind;
  columns: string[];
  repair?: 'repaired' | 'remaining';
}

/** Records that a verification exists (state planning); a repeat call leaves the row as it is. */
export async function beginVerification(
  conn: mysql.Connection,
  id: string,
  pipeline: string,
  request: unknown,
): Promise<void> {
  await ensureVerificationTables(conn);
  await conn.query(
    `INSERT IGNORE INTO ${S}.verifications (verification_id, pipeline, state, request_json) VALUES (?, ?, 'planning', ?)`,
    [id, pipeline, JSON.stringify(request)],
  );
}

/** True when the verification's chunk plan is stored already (a retried plan activity). */
export async function hasPlan(conn: mysql.Connection, id: string): Promise<boolean> {
  const [rows] = await conn.query<mysql.RowDataPacket[]>(
    `SELECT 1 FROM ${S}.verification_chunks WHERE verification_id = ? LIMIT 1`,
    [id],
  );
  return rows.length > 0;
}

/** A verification run again under its id (resumed): comparing again, its chunks compared so far kept. */
export async function resumeVerification(conn: mysql.Connection, id: string): Promise<void> {
  await conn.query(
    `UPDATE ${S}.verifications SET state = 'comparing', error = NULL, finished_at = NULL WHERE verification_id = ?`,
    [id],
  );
}

/** Stores the whole plan in one transaction, and sets the state to comparing. */
export async function storeChunks(
  conn: mysql.Connection,
  id: string,
  chunks: readonly Omit<StoredChunk, 'chunkNo' | 'done'>[],
): Promise<void> {
  await conn.query('START TRANSACTION');
  try {
    for (let i = 0; i < chunks.length; i += 500) {
      const part = chunks.slice(i, i + 500);
      await conn.query(
        `INSERT INTO ${S}.verification_chunks (verification_id, chunk_no, target_schema, target_table, sources, key_columns, after_key, up_to_key) VALUES ${part.map(() => '(?, ?, ?, ?, ?, ?, ?, ?)').join(', ')}`,
        part.flatMap((c, j) => [
          id,
          i + j,
          c.table.schema,
          c.table.table,
          JSON.stringify(c.sources),
          JSON.stringify(c.keyColumns),
          c.after ? stringifyKey(c.after) : null,
          c.upTo ? stringifyKey(c.upTo) : null,
        ]),
      );
    }
    await conn.query(`UPDATE ${S}.verifications SET state = 'comparing' WHERE verification_id = ?`, [id]);
    await conn.query('COMMIT');
  } catch (err) {
    await conn.query('ROLLBACK').catch(() => {});
    throw err;
  }
}

function chunkOf(r: mysql.RowDataPacket): StoredChunk {
  return {
    chunkNo: Number(r.chunk_no),
    table: { schema: String(r.target_schema), table: String(r.target_table) },
    sources: JSON.parse(String(r.sources)) as TableRef[],
    keyColumns: JSON.parse(String(r.key_columns)) as string[],
    ...(r.after_key !== null ? { after: parseKey(String(r.after_key)) } : {}),
    ...(r.up_to_key !== null ? { upTo: parseKey(String(r.up_to_key)) } : {}),
    done: r.status === 'done',
  };
}

export async function readStoredChunk(
  conn: mysql.Connection,
  id: string,
  chunkNo: number,
): Promise<StoredChunk | undefined> {
  const [rows] = await conn.query<mysql.RowDataPacket[]>(
    `SELECT * FROM ${S}.verification_chunks WHERE verification_id = ? AND chunk_no = ?`,
    [id, chunkNo],
  );
  return rows[0] ? chunkOf(rows[0]) : undefined;
}

/** Chunk numbers not compared yet, ascending, and how many chunks there are in all. */
export async function pendingChunks(
  conn: mysql.Connection,
  id: string,
): Promise<{ pending: number[]; total: number }> {
  const [rows] = await conn.query<mysql.RowDataPacket[]>(
    `SELECT chunk_no, status FROM ${S}.verification_chunks WHERE verification_id = ? ORDER BY chunk_no`,
    [id],
  );
  return {
    pending: rows.filter((r) => r.status !== 'done').map((r) => Number(r.chunk_no)),
    total: rows.length,
  };
}

/** Marks a chunk compared with its counts and differences, in one transaction (idempotent). */
export async function recordChunk(
  conn: mysql.Connection,
  id: string,
  chunk: StoredChunk,
  counts: { rowsSource: number; rowsTarget: number; unsettled: number },
  differences: readonly Omit<Difference, 'table'>[],
): Promise<void> {
  await conn.query('START TRANSACTION');
  try {
    await conn.query(`DELETE FROM ${S}.verification_differences WHERE verification_id = ? AND chunk_no = ?`, [
      id,
      chunk.chunkNo,
    ]);
    for (let i = 0; i < differences.length; i += 500) {
      const part = differences.slice(i, i + 500);
      await conn.query(
        `INSERT INTO ${S}.verification_differences (verification_id, chunk_no, seq, target_schema, target_table, key_json, kind, columns_json) VALUES ${part.map(() => '(?, ?, ?, ?, ?, ?, ?, ?)').join(', ')}`,
        part.flatMap((d, j) => [
          id,
          chunk.chunkNo,
          i + j,
          chunk.table.schema,
          chunk.table.table,
          stringifyKey(d.key),
          d.kind,
          JSON.stringify(d.columns),
        ]),
      );
    }
    await conn.query(
      `UPDATE ${S}.verification_chunks SET status = 'done', rows_source = ?, rows_target = ?, unsettled = ?, done_at = CURRENT_TIMESTAMP(6)
        WHERE verification_id = ? AND chunk_no = ?`,
      [counts.rowsSource, counts.rowsTarget, counts.unsettled, id, chunk.chunkNo],
    );
    await conn.query('COMMIT');
  } catch (err) {
    await conn.query('ROLLBACK').catch(() => {});
    throw err;
  }
}

export async function finishVerification(
  conn: mysql.Connection,
  id: string,
  state: VerificationState,
  error?: string,
): Promise<void> {
  await ensureVerificationTables(conn);
  await conn.query(
    `UPDATE ${S}.verifications SET state = ?, error = ?, finished_at = CURRENT_TIMESTAMP(6) WHERE verification_id = ?`,
    [state, error ?? null, id],
  );
}

export async function storeRepairStatus(
  conn: mysql.Connection,
  id: string,
  repair: RepairStatus,
): Promise<void> {
  await conn.query(`UPDATE ${S}.verifications SET repair_json = ? WHERE verification_id = ?`, [
    JSON.stringify(repair),
    id,
  ]);
}

/** Records the outcome of a repair for differences, by (chunk, seq). */
export async function markRepair(
  conn: mysql.Connection,
  id: string,
  outcomes: readonly { chunkNo: number; seq: number; repaired: boolean }[],
): Promise<void> {
  for (const o of outcomes)
    await conn.query(
      `UPDATE ${S}.verification_differences SET repair = ? WHERE verification_id = ? AND chunk_no = ? AND seq = ?`,
      [o.repaired ? 'repaired' : 'remaining', id, o.chunkNo, o.seq],
    );
}

export interface StoredDifference extends Difference {
  chunkNo: number;
  seq: number;
  keyColumns: string[];
}

/** Differences in report order (chunk, then seq), paged. */
export async function readDifferences(
  conn: mysql.Connection,
  id: string,
  offset: number,
  limit: number,
): Promise<{ total: number; differences: StoredDifference[] }> {
  const [count] = await conn.query<mysql.RowDataPacket[]>(
    `SELECT COUNT(*) AS n FROM ${S}.verification_differences WHERE verification_id = ?`,
    [id],
  );
  const [rows] = await conn.query<mysql.RowDataPacket[]>(
    `SELECT d.*, c.key_columns FROM ${S}.verification_differences d
       JOIN ${S}.verification_chunks c ON c.verification_id = d.verification_id AND c.chunk_no = d.chunk_no
      WHERE d.verification_id = ? ORDER BY d.chunk_no, d.seq LIMIT ? OFFSET ?`,
    [id, Math.floor(limit), Math.floor(offset)],
  );
  return {
    total: Number(count[0]?.n ?? 0),
    differences: rows.map((r) => ({
      chunkNo: Number(r.chunk_no),
      seq: Number(r.seq),
      table: { schema: String(r.target_schema), table: String(r.target_table) },
      keyColumns: JSON.parse(String(r.key_columns)) as string[],
      key: parseKey(String(r.key_json)),
      kind: r.kind as DifferenceKind,
      columns: r.columns_json ? (JSON.parse(String(r.columns_json)) as string[]) : [],
      ...(r.repair ? { repair: r.repair as 'repaired' | 'remaining' } : {}),
    })),
  };
}

/** The report as a status: state, per-table counts (from chunks and differences), repair outcome. */
export async function readReport(
  conn: mysql.Connection,
  id: string,
): Promise<VerificationStatus | undefined> {
  await ensureVerificationTables(conn);
  const [v] = await conn.query<mysql.RowDataPacket[]>(
    `SELECT pipeline, state, error, repair_json,
            DATE_FORMAT(started_at, '%Y-%m-%dT%H:%i:%s.%fZ') AS started_at,
            DATE_FORMAT(updated_at, '%Y-%m-%dT%H:%i:%s.%fZ') AS updated_at,
            DATE_FORMAT(finished_at, '%Y-%m-%dT%H:%i:%s.%fZ') AS finished_at
       FROM ${S}.verifications WHERE verification_id = ?`,
    [id],
  );
  const head = v[0];
  if (!head) return undefined;
  const [chunks] = await conn.query<mysql.RowDataPacket[]>(
    `SELECT target_schema AS s, target_table AS t, MIN(sources) AS sources, COUNT(*) AS chunks,
            SUM(status = 'done') AS done, SUM(rows_source) AS rs, SUM(rows_target) AS rt, SUM(unsettled) AS u
       FROM ${S}.verification_chunks WHERE verification_id = ? GROUP BY target_schema, target_table
       ORDER BY target_schema, target_table`,
    [id],
  );
  const [kinds] = await conn.query<mysql.RowDataPacket[]>(
    `SELECT target_schema AS s, target_table AS t, kind, COUNT(*) AS n FROM ${S}.verification_differences
      WHERE verification_id = ? GROUP BY target_schema, target_table, kind`,
    [id],
  );
  const tables: TableVerification[] = chunks.map((r) => {
    const ref = { schema: String(r.s), table: String(r.t) };
    const count = (kind: DifferenceKind) =>
      Number(kinds.find((k) => k.s === ref.schema && k.t === ref.table && k.kind === kind)?.n ?? 0);
    return {
      table: tableKey(ref),
      sources: (JSON.parse(String(r.sources)) as TableRef[]).map(tableKey),
      chunks: Number(r.chunks),
      chunksDone: Number(r.done ?? 0),
      rowsSource: Number(r.rs ?? 0),
      rowsTarget: Number(r.rt ?? 0),
      missing: count('missing'),
      extra: count('extra'),
      different: count('different'),
      unsettled: Number(r.u ?? 0),
    };
  });
  const sum = (f: (t: TableVerification) => number) => tables.reduce((n, t) => n + f(t), 0);
  return {
    id,
    pipeline: String(head.pipeline),
    state: head.state as VerificationState,
    chunksTotal: sum((t) => t.chunks),
    chunksDone: sum((t) => t.chunksDone),
    rowsCompared: sum((t) => t.rowsSource),
    rowsPerSecond: 0,
    differences: sum((t) => t.missing + t.extra + t.different),
    tables,
    ...(head.repair_json ? { repair: JSON.parse(String(head.repair_json)) as RepairStatus } : {}),
    ...(head.error ? { lastError: String(head.error) } : {}),
    startedAt: String(head.started_at),
    updatedAt: String(head.updated_at),
    ...(head.finished_at ? { finishedAt: String(head.finished_at) } : {}),
  };
}
