import oracledb from 'oracledb';
import { parseKey, stringifyKey } from '../../../backfill/keys';
import type { BinlogPosition, CellValue } from '../../../binlog/types';
import type { TableRef } from '../../../pipeline/model';
import type { Deferral, NewResyncRequest, StoredPlan, TableChunks } from '../../backfill-target';
import type { ResyncChunkProgress, ResyncRequest, ResyncRequests } from '../../target';
import type { OracleConnectionLike } from '../connection';
import {
  CHUNK_BIND_DEFS,
  CHUNK_FETCH_INFO,
  type OracleBackfillSql,
  REQUEST_FETCH_INFO,
} from './progress-sql';

/**
 * Backfill progress in an Oracle target, next to the pipeline checkpoint: a chunk is marked done in
 * the same transaction as its rows, and a re-sync chunk's progress in the batch transaction that holds
 * its rows, exactly as on MySQL/MariaDB targets. Every function here that is not part of such a
 * transaction commits (or rolls back) its own.
 */

type Conn = Pick<OracleConnectionLike, 'execute' | 'executeMany' | 'commit' | 'rollback'>;

/** ORA-00001: the request id exists (inserting a backfill's requests again leaves them as they are). */
const UNIQUE_VIOLATED = 'ORA-00001';

/** executeMany takes at most 65,535 rows per call; plans are inserted in slices of this many. */
const PLAN_ROWS_PER_CALL = 10_000;

/** Rows come as arrays in the order of the statement's select list. */
const ARRAY_ROWS = { outFormat: oracledb.OUT_FORMAT_ARRAY } as const;

function clob(text: string | undefined | null): unknown {
  return text === undefined || text === null ? null : { type: oracledb.DB_TYPE_CLOB, val: text };
}

/** Creates the tables when they are not there (DDL commits: call with no transaction open). */
export async function ensureOracleBackfillTables(conn: Conn, sql: OracleBackfillSql): Promise<void> {
  for (const s of sql.create()) await conn.execute(s);
}

export async function readOraclePlan(
  conn: Conn,
  sql: OracleBackfillSql,
  backfillId: string,
): Promise<StoredPlan | undefined> {
  const res = await conn.execute<unknown[]>(sql.readPlan(), [backfillId], ARRAY_ROWS);
  const r = res.rows?.[0];
  return r ? { chunks: Number(r[0]), tables: Number(r[1]), estimatedRows: Number(r[2]) } : undefined;
}

/** Stores a complete plan in one transaction (leftovers of an interrupted attempt are replaced). */
export async function storeOraclePlan(
  conn: Conn,
  sql: OracleBackfillSql,
  backfillId: string,
  pipeline: string,
  plan: TableChunks[],
  estimatedRows: number,
  position: BinlogPosition,
): Promise<StoredPlan> {
  try {
    await conn.execute(sql.deleteChunks(), [backfillId]);
    const rows: unknown[][] = [];
    for (const t of plan)
      for (const c of t.chunks)
        rows.push([
          backfillId,
          rows.length,
          t.table.schema,
          t.table.table,
          c.after ? stringifyKey(c.after) : null,
          c.upTo ? stringifyKey(c.upTo) : null,
        ]);
    for (let i = 0; i < rows.length; i += PLAN_ROWS_PER_CALL)
      await conn.executeMany(sql.insertChunk(), rows.slice(i, i + PLAN_ROWS_PER_CALL), {
        bindDefs: CHUNK_BIND_DEFS,
        autoCommit: false,
      });
    await conn.execute(sql.insertPlan(), [
      backfillId,
      pipeline,
      rows.length,
      plan.length,
      estimatedRows,
      position.file || null,
      position.pos,
      clob(position.gtid),
    ]);
    await conn.commit();
    return { chunks: rows.length, tables: plan.length, estimatedRows };
  } catch (err) {
    await conn.rollback().catch(() => {});
    throw err;
  }
}

export interface OracleStoredChunk {
  chunkNo: number;
  table: TableRef;
  after?: CellValue[];
  upTo?: CellValue[];
  status: 'pending' | 'done';
  rowsCopied: number;
  copies: number;
}

/** One chunk; `lock` row-locks it (call inside the copy transaction). */
export async function readOracleChunk(
  conn: Conn,
  sql: OracleBackfillSql,
  backfillId: string,
  chunkNo: number,
  lock = false,
): Promise<OracleStoredChunk | undefined> {
  const res = await conn.execute<unknown[]>(sql.readChunk(lock), [backfillId, chunkNo], {
    ...ARRAY_ROWS,
    fetchInfo: CHUNK_FETCH_INFO,
  });
  const r = res.rows?.[0];
  if (!r) return undefined;
  const c: OracleStoredChunk = {
    chunkNo: Number(r[0]),
    table: { schema: String(r[1]), table: String(r[2]) },
    status: r[5] === 'done' ? 'done' : 'pending',
    rowsCopied: Number(r[6]),
    copies: Number(r[7]),
  };
  if (r[3] !== null && r[3] !== undefined) c.after = parseKey(String(r[3]));
  if (r[4] !== null && r[4] !== undefined) c.upTo = parseKey(String(r[4]));
  return c;
}

/** Marks a pending chunk done inside the transaction that wrote its rows; false when it was not pending. */
export async function markOracleChunkDone(
  conn: Conn,
  sql: OracleBackfillSql,
  backfillId: string,
  chunkNo: number,
  rows: number,
): Promise<boolean> {
  const res = await conn.execute(sql.markChunkDone(), [rows, backfillId, chunkNo]);
  return res.rowsAffected === 1;
}

export async function pendingOracleChunks(
  conn: Conn,
  sql: OracleBackfillSql,
  backfillId: string,
): Promise<number[]> {
  const res = await conn.execute<unknown[]>(sql.pendingChunks(), [backfillId], ARRAY_ROWS);
  return (res.rows ?? []).map((r) => Number(r[0]));
}

export async function oracleChunkRanges(
  conn: Conn,
  sql: OracleBackfillSql,
  backfillId: string,
): Promise<{ table: TableRef; first: number; last: number }[]> {
  const res = await conn.execute<unknown[]>(sql.chunkRanges(), [backfillId], ARRAY_ROWS);
  return (res.rows ?? []).map((r) => ({
    table: { schema: String(r[0]), table: String(r[1]) },
    first: Number(r[2]),
    last: Number(r[3]),
  }));
}

/** Oracle keeps every index during a load: no table is deferred, each one is listed as kept with why. */
export function oracleKeepsIndexes(targets: readonly TableRef[]): Deferral {
  return {
    tables: [],
    kept: targets.map(
      (t) =>
        `${t.schema}.${t.table}: Oracle targets keep their secondary indexes during the load (not deferred)`,
    ),
  };
}

// ---- re-sync requests ----

export async function insertOracleResyncRequests(
  conn: Conn,
  sql: OracleBackfillSql,
  requests: NewResyncRequest[],
): Promise<void> {
  try {
    for (const r of requests) {
      const binds = [
        r.requestId,
        r.backfillId,
        r.pipeline,
        r.seq,
        r.table.schema,
        r.table.table,
        clob(r.where),
        clob(r.keysJson),
        r.chunkSize,
        r.maxRowsPerSecond ?? null,
        r.estimatedRows,
      ];
      await conn.execute(sql.insertRequest(), binds).catch((err: unknown) => {
        if ((err as { code?: string }).code !== UNIQUE_VIOLATED) throw err;
      });
    }
    await conn.commit();
  } catch (err) {
    await conn.rollback().catch(() => {});
    throw err;
  }
}

function requestOf(r: unknown[]): ResyncRequest {
  const text = (v: unknown) => (v === null || v === undefined ? undefined : String(v));
  const out: ResyncRequest = {
    requestId: String(r[0]),
    backfillId: String(r[1]),
    table: { schema: String(r[2]), table: String(r[3]) },
    chunkSize: Number(r[6]),
    status: String(r[8]) as ResyncRequest['status'],
    keysDone: Number(r[10]),
    rowsCopied: Number(r[11]),
    rowsSkipped: Number(r[12]),
    chunksDone: Number(r[13]),
    estimatedRows: Number(r[14]),
  };
  const where = text(r[4]);
  const keys = text(r[5]);
  const lastKey = text(r[9]);
  const error = text(r[15]);
  if (where !== undefined) out.where = where;
  if (keys !== undefined) out.keysJson = keys;
  if (r[7] !== null && r[7] !== undefined) out.maxRowsPerSecond = Number(r[7]);
  if (lastKey !== undefined) out.lastKey = lastKey;
  if (error !== undefined) out.error = error;
  return out;
}

const REQUEST_READ = { ...ARRAY_ROWS, fetchInfo: REQUEST_FETCH_INFO };

export async function oracleResyncRequestsOf(
  conn: Conn,
  sql: OracleBackfillSql,
  backfillId: string,
): Promise<ResyncRequest[]> {
  const res = await conn.execute<unknown[]>(sql.requestsOf(), [backfillId], REQUEST_READ);
  return (res.rows ?? []).map(requestOf);
}

export async function cancelOracleResyncRequests(
  conn: Conn,
  sql: OracleBackfillSql,
  backfillId: string,
): Promise<void> {
  await conn.execute(sql.cancelRequests(), [backfillId]);
  await conn.commit();
}

/** A pipeline's re-sync requests, on the connection of its target session. */
export class OracleResyncRequests implements ResyncRequests {
  private ensured = false;

  constructor(
    private readonly conn: Conn,
    private readonly pipeline: string,
    private readonly sql: OracleBackfillSql,
  ) {}

  async next(): Promise<ResyncRequest | undefined> {
    if (!this.ensured) {
      await ensureOracleBackfillTables(this.conn, this.sql);
      this.ensured = true;
    }
    const res = await this.conn.execute<unknown[]>(this.sql.nextRequest(), [this.pipeline], REQUEST_READ);
    const r = res.rows?.[0];
    return r ? requestOf(r) : undefined;
  }

  /** In the open batch transaction: the progress commits with the chunk's rows. */
  async recordChunk(p: ResyncChunkProgress): Promise<void> {
    await this.conn.execute(this.sql.recordChunk(), [
      clob(p.lastKey),
      p.keysDone,
      p.rows,
      p.skipped,
      p.finished ? 'done' : 'running',
      p.requestId,
    ]);
  }

  async fail(requestId: string, message: string): Promise<void> {
    await this.conn.execute(this.sql.failRequest(), [clob(message.slice(0, 10_000)), requestId]);
    await this.conn.commit();
  }
}
