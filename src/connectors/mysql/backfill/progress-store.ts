import type mysql from 'mysql2/promise';
import { parseKey, stringifyKey } from '../../../backfill/keys';
import type { TableRef } from '../../../pipeline/model';
import type { NewResyncRequest, StoredPlan, TableChunks } from '../../backfill-target';
import type { ResyncRequest } from '../../target';
import { SYSTEM_SCHEMA } from '../../target';
import { DEFERRED_INDEXES_DDL } from './deferred-indexes';

export type { NewResyncRequest, StoredPlan, TableChunks };

/**
 * Backfill progress lives in the TARGET's `otterflow` schema, next to the pipeline checkpoint:
 * a chunk is marked done in the same transaction as its rows, so "done" can never be recorded for
 * rows that did not commit, nor rows commit without "done" (a retried chunk would only rewrite them).
 *
 * - `backfills`: one row per initial load, written when its chunk plan is complete.
 * - `backfill_chunks`: the plan, one row per chunk, with status and how often it was copied.
 * - `resync_requests`: online re-sync requests, read by the pipeline's replicator
 *   (src/backfill/resync-coordinator.ts), with their progress.
 * - `backfill_deferred_indexes`: secondary indexes an initial load took off its empty target tables
 *   and puts back (src/connectors/mysql/backfill/deferred-indexes.ts).
 */

const S = `\`${SYSTEM_SCHEMA}\``;

export async function ensureBackfillTables(conn: mysql.Connection): Promise<void> {
  await conn.query(`CREATE DATABASE IF NOT EXISTS ${S}`);
  await conn.query(
    `CREATE TABLE IF NOT EXISTS ${S}.backfills (
      backfill_id VARCHAR(191) NOT NULL PRIMARY KEY,
      pipeline VARCHAR(64) NOT NULL,
      chunks INT UNSIGNED NOT NULL,
      tables INT UNSIGNED NOT NULL,
      estimated_rows BIGINT UNSIGNED NOT NULL,
      binlog_file VARCHAR(512) NOT NULL,
      binlog_pos BIGINT UNSIGNED NOT NULL,
      gtid TEXT NULL,
      planned_at TIMESTAMP(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6)
    ) ENGINE=InnoDB`,
  );
  await conn.query(
    `CREATE TABLE IF NOT EXISTS ${S}.backfill_chunks (
      backfill_id VARCHAR(191) NOT NULL,
      chunk_no INT UNSIGNED NOT NULL,
      source_schema VARCHAR(64) NOT NULL,
      source_table VARCHAR(64) NOT NULL,
      after_key LONGTEXT NULL,
      up_to_key LONGTEXT NULL,
      status ENUM('pending', 'done') NOT NULL DEFAULT 'pending',
      rows_copied BIGINT UNSIGNED NOT NULL DEFAULT 0,
      copies INT UNSIGNED NOT NULL DEFAULT 0,
      done_at TIMESTAMP(6) NULL,
      PRIMARY KEY (backfill_id, chunk_no)
    ) ENGINE=InnoDB`,
  );
  await conn.query(
    `CREATE TABLE IF NOT EXISTS ${S}.resync_requests (
      request_id VARCHAR(191) NOT NULL PRIMARY KEY,
      backfill_id VARCHAR(191) NOT NULL,
      pipeline VARCHAR(64) NOT NULL,
      seq INT UNSIGNED NOT NULL,
      source_schema VARCHAR(64) NOT NULL,
      source_table VARCHAR(64) NOT NULL,
      where_sql TEXT NULL,
      keys_json LONGTEXT NULL,
      chunk_size INT UNSIGNED NOT NULL,
      max_rows_per_second INT UNSIGNED NULL,
      status ENUM('pending', 'running', 'done', 'cancelled', 'failed') NOT NULL DEFAULT 'pending',
      last_key LONGTEXT NULL,
      keys_done INT UNSIGNED NOT NULL DEFAULT 0,
      rows_copied BIGINT UNSIGNED NOT NULL DEFAULT 0,
      rows_skipped BIGINT UNSIGNED NOT NULL DEFAULT 0,
      chunks_done INT UNSIGNED NOT NULL DEFAULT 0,
      estimated_rows BIGINT UNSIGNED NOT NULL DEFAULT 0,
      error TEXT NULL,
      created_at TIMESTAMP(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
      updated_at TIMESTAMP(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6) ON UPDATE CURRENT_TIMESTAMP(6),
      KEY by_pipeline (pipeline, status, seq)
    ) ENGINE=InnoDB`,
  );
  await conn.query(DEFERRED_INDEXES_DDL);
}

// ---- initial load plan and chunks ----

export async function readPlan(conn: mysql.Connection, backfillId: string): Promise<StoredPlan | undefined> {
  const [rows] = await conn.query<mysql.RowDataPacket[]>(
    `SELECT chunks, tables, estimated_rows FROM ${S}.backfills WHERE backfill_id = ?`,
    [backfillId],
  );
  const r = rows[0];
  return r
    ? { chunks: Number(r.chunks), tables: Number(r.tables), estimatedRows: Number(r.estimated_rows) }
    : undefined;
}

/**
 * Stores a complete plan in one transaction: leftovers of an interrupted planning attempt are
 * replaced, and the `backfills` row (the "plan complete" mark) commits with the chunks.
 */
export async function storePlan(
  conn: mysql.Connection,
  backfillId: string,
  pipeline: string,
  plan: TableChunks[],
  estimatedRows: number,
  position: { file: string; pos: number; gtid?: string },
): Promise<StoredPlan> {
  await conn.query('START TRANSACTION');
  try {
    await conn.query(`DELETE FROM ${S}.backfill_chunks WHERE backfill_id = ?`, [backfillId]);
    let no = 0;
    const rows: unknown[][] = [];
    for (const t of plan)
      for (const c of t.chunks)
        rows.push([
          backfillId,
          no++,
          t.table.schema,
          t.table.table,
          c.after ? stringifyKey(c.after) : null,
          c.upTo ? stringifyKey(c.upTo) : null,
        ]);
    for (let i = 0; i < rows.length; i += 1000) {
      await conn.query(
        `INSERT INTO ${S}.backfill_chunks (backfill_id, chunk_no, source_schema, source_table, after_key, up_to_key) VALUES ?`,
        [rows.slice(i, i + 1000)],
      );
    }
    await conn.query(
      `INSERT INTO ${S}.backfills (backfill_id, pipeline, chunks, tables, estimated_rows, binlog_file, binlog_pos, gtid)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
      [
        backfillId,
        pipeline,
        no,
        plan.length,
        estimatedRows,
        position.file,
        position.pos,
        position.gtid ?? null,
      ],
    );
    await conn.query('COMMIT');
    return { chunks: no, tables: plan.length, estimatedRows };
  } catch (err) {
    await conn.query('ROLLBACK').catch(() => {});
    throw err;
  }
}

export interface StoredChunk {
  chunkNo: number;
  table: TableRef;
  after?: ReturnType<typeof parseKey>;
  upTo?: ReturnType<typeof parseKey>;
  status: 'pending' | 'done';
  rowsCopied: number;
  copies: number;
}

function chunkOf(r: mysql.RowDataPacket): StoredChunk {
  const c: StoredChunk = {
    chunkNo: Number(r.chunk_no),
    table: { schema: String(r.source_schema), table: String(r.source_table) },
    status: r.status === 'done' ? 'done' : 'pending',
    rowsCopied: Number(r.rows_copied),
    copies: Number(r.copies),
  };
  if (r.after_key !== null) c.after = parseKey(String(r.after_key));
  if (r.up_to_key !== null) c.upTo = parseKey(String(r.up_to_key));
  return c;
}

const CHUNK_COLUMNS =
  'chunk_no, source_schema, source_table, after_key, up_to_key, status, rows_copied, copies';

/** One chunk; `lock` takes a row lock (inside the copy transaction) so two copies of it serialize. */
export async function readChunkRow(
  conn: mysql.Connection,
  backfillId: string,
  chunkNo: number,
  lock = false,
): Promise<StoredChunk | undefined> {
  const [rows] = await conn.query<mysql.RowDataPacket[]>(
    `SELECT ${CHUNK_COLUMNS} FROM ${S}.backfill_chunks WHERE backfill_id = ? AND chunk_no = ?${lock ? ' FOR UPDATE' : ''}`,
    [backfillId, chunkNo],
  );
  return rows[0] ? chunkOf(rows[0]) : undefined;
}

/** Marks a chunk done; call inside the transaction that wrote its rows. */
export async function markChunkDone(
  conn: mysql.Connection,
  backfillId: string,
  chunkNo: number,
  rows: number,
): Promise<void> {
  await conn.query(
    `UPDATE ${S}.backfill_chunks SET status = 'done', rows_copied = ?, copies = copies + 1, done_at = CURRENT_TIMESTAMP(6)
      WHERE backfill_id = ? AND chunk_no = ?`,
    [rows, backfillId, chunkNo],
  );
}

export interface ChunkCounts {
  total: number;
  done: number;
  rowsCopied: number;
  /** Chunks copied more than once (a crash between commit and report would show here). */
  recopied: number;
}

export async function chunkCounts(conn: mysql.Connection, backfillId: string): Promise<ChunkCounts> {
  const [rows] = await conn.query<mysql.RowDataPacket[]>(
    `SELECT COUNT(*) AS total, SUM(status = 'done') AS done, COALESCE(SUM(rows_copied), 0) AS rowsCopied,
            SUM(copies > 1) AS recopied
       FROM ${S}.backfill_chunks WHERE backfill_id = ?`,
    [backfillId],
  );
  const r = rows[0];
  return {
    total: Number(r?.total ?? 0),
    done: Number(r?.done ?? 0),
    rowsCopied: Number(r?.rowsCopied ?? 0),
    recopied: Number(r?.recopied ?? 0),
  };
}

/** Chunk numbers still pending, ascending (a resumed workflow copies only these). */
export async function pendingChunkNumbers(conn: mysql.Connection, backfillId: string): Promise<number[]> {
  const [rows] = await conn.query<mysql.RowDataPacket[]>(
    `SELECT chunk_no FROM ${S}.backfill_chunks WHERE backfill_id = ? AND status = 'pending' ORDER BY chunk_no`,
    [backfillId],
  );
  return rows.map((r) => Number(r.chunk_no));
}

/** First and last chunk number of each source table of a stored plan (a table's chunks are consecutive). */
export async function chunkRangesBySourceTable(
  conn: mysql.Connection,
  backfillId: string,
): Promise<{ table: TableRef; first: number; last: number }[]> {
  const [rows] = await conn.query<mysql.RowDataPacket[]>(
    `SELECT source_schema, source_table, MIN(chunk_no) AS first, MAX(chunk_no) AS last
       FROM ${S}.backfill_chunks WHERE backfill_id = ? GROUP BY source_schema, source_table ORDER BY first`,
    [backfillId],
  );
  return rows.map((r) => ({
    table: { schema: String(r.source_schema), table: String(r.source_table) },
    first: Number(r.first),
    last: Number(r.last),
  }));
}

// ---- online re-sync requests ----

/** Inserts the requests of a backfill (idempotent: an existing request id is left as it is). */
export async function insertResyncRequests(
  conn: mysql.Connection,
  requests: NewResyncRequest[],
): Promise<void> {
  for (const r of requests) {
    await conn.query(
      `INSERT IGNORE INTO ${S}.resync_requests
        (request_id, backfill_id, pipeline, seq, source_schema, source_table, where_sql, keys_json, chunk_size,
         max_rows_per_second, estimated_rows)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      [
        r.requestId,
        r.backfillId,
        r.pipeline,
        r.seq,
        r.table.schema,
        r.table.table,
        r.where ?? null,
        r.keysJson ?? null,
        r.chunkSize,
        r.maxRowsPerSecond ?? null,
        r.estimatedRows,
      ],
    );
  }
}

export type ResyncRequestRow = ResyncRequest;

const REQUEST_COLUMNS = `request_id, backfill_id, source_schema, source_table, where_sql, keys_json, chunk_size,
  max_rows_per_second, status, last_key, keys_done, rows_copied, rows_skipped, chunks_done, estimated_rows, error`;

function requestOf(r: mysql.RowDataPacket): ResyncRequestRow {
  const out: ResyncRequestRow = {
    requestId: String(r.request_id),
    backfillId: String(r.backfill_id),
    table: { schema: String(r.source_schema), table: String(r.source_table) },
    chunkSize: Number(r.chunk_size),
    status: r.status,
    keysDone: Number(r.keys_done),
    rowsCopied: Number(r.rows_copied),
    rowsSkipped: Number(r.rows_skipped),
    chunksDone: Number(r.chunks_done),
    estimatedRows: Number(r.estimated_rows),
  };
  if (r.where_sql !== null) out.where = String(r.where_sql);
  if (r.keys_json !== null) out.keysJson = String(r.keys_json);
  if (r.max_rows_per_second !== null) out.maxRowsPerSecond = Number(r.max_rows_per_second);
  if (r.last_key !== null) out.lastKey = String(r.last_key);
  if (r.error !== null) out.error = String(r.error);
  return out;
}

/** The request a pipeline should work on now: the oldest unfinished one. */
export async function nextResyncRequest(
  conn: mysql.Connection,
  pipeline: string,
): Promise<ResyncRequestRow | undefined> {
  const [rows] = await conn.query<mysql.RowDataPacket[]>(
    `SELECT ${REQUEST_COLUMNS} FROM ${S}.resync_requests
      WHERE pipeline = ? AND status IN ('pending', 'running') ORDER BY created_at, seq LIMIT 1`,
    [pipeline],
  );
  return rows[0] ? requestOf(rows[0]) : undefined;
}

export async function resyncRequestsOf(
  conn: mysql.Connection,
  backfillId: string,
): Promise<ResyncRequestRow[]> {
  const [rows] = await conn.query<mysql.RowDataPacket[]>(
    `SELECT ${REQUEST_COLUMNS} FROM ${S}.resync_requests WHERE backfill_id = ? ORDER BY seq`,
    [backfillId],
  );
  return rows.map(requestOf);
}

/**
 * Records a copied chunk of a request; call inside the replicator's batch transaction that holds the
 * chunk's rows. A request cancelled meanwhile is left cancelled (its rows were correct anyway).
 */
export async function recordResyncChunk(
  conn: mysql.Connection,
  p: {
    requestId: string;
    lastKey?: string;
    keysDone: number;
    rows: number;
    skipped: number;
    finished: boolean;
  },
): Promise<void> {
  await conn.query(
    `UPDATE ${S}.resync_requests
        SET last_key = COALESCE(?, last_key), keys_done = ?, rows_copied = rows_copied + ?,
            rows_skipped = rows_skipped + ?, chunks_done = chunks_done + 1, status = ?
      WHERE request_id = ? AND status IN ('pending', 'running')`,
    [p.lastKey ?? null, p.keysDone, p.rows, p.skipped, p.finished ? 'done' : 'running', p.requestId],
  );
}

export async function failResyncRequest(
  conn: mysql.Connection,
  requestId: string,
  error: string,
): Promise<void> {
  await conn.query(
    `UPDATE ${S}.resync_requests SET status = 'failed', error = ? WHERE request_id = ? AND status IN ('pending', 'running')`,
    [error.slice(0, 10_000), requestId],
  );
}

export async function cancelResyncRequests(conn: mysql.Connection, backfillId: string): Promise<void> {
  await conn.query(
    `UPDATE ${S}.resync_requests SET status = 'cancelled' WHERE backfill_id = ? AND status IN ('pending', 'running')`,
    [backfillId],
  );
}
