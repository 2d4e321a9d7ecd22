import type mysql from 'mysql2/promise';
import type { IndexRebuildProgress } from '../../../backfill/contract';
import { type TableRef, tableKey } from '../../../pipeline/model';
import type { Deferral, DeferredTable } from '../../backfill-target';
import { SYSTEM_SCHEMA } from '../../target';
import { quoteMysqlTable } from '../dialect';
import { addIndexesSql, dropIndexesSql, type IndexDefinition, secondaryIndexesOf } from './index-definitions';

export type { Deferral, DeferredTable };

/**
 * Secondary indexes taken off empty target tables for an initial load and put back when each
 * table's chunks are done (the decision and its safety rules: docs/backfill.md, "Deferred secondary
 * indexes").
 *
 * Crash safety: every index is RECORDED in the target's `otterflow.backfill_deferred_indexes` (its
 * server definition) in one transaction BEFORE anything is dropped, and each step is idempotent
 * against what the table really has: deferring again drops only recorded indexes that still exist,
 * restoring adds only recorded indexes that are missing. So a worker killed at any point leaves a
 * state the next attempt completes, and a cancelled or failed load restores them too.
 *
 * The DDL runs with sql_log_bin=0: it is a loading technique, not a schema change. The target's own
 * replicas never see an index come and go, and the opposite pipeline of a bidirectional channel
 * never replays it on the source. A target user who may not set sql_log_bin keeps its indexes.
 */

const T = `\`${SYSTEM_SCHEMA}\`.backfill_deferred_indexes`;

/** DDL of the record table (created with the other backfill tables, progress-store.ts). */
export const DEFERRED_INDEXES_DDL = `CREATE TABLE IF NOT EXISTS ${T} (
  backfill_id VARCHAR(191) NOT NULL,
  target_schema VARCHAR(64) NOT NULL,
  target_table VARCHAR(64) NOT NULL,
  index_name VARCHAR(64) NOT NULL,
  seq INT UNSIGNED NOT NULL,
  definition TEXT NOT NULL,
  status ENUM('deferred', 'restored') NOT NULL DEFAULT 'deferred',
  restored_at TIMESTAMP(6) NULL,
  PRIMARY KEY (backfill_id, target_schema, target_table, index_name)
) ENGINE=InnoDB`;

interface Recorded extends IndexDefinition {
  target: TableRef;
  status: 'deferred' | 'restored';
}

async function readRecords(conn: mysql.Connection, backfillId: string): Promise<Recorded[]> {
  const [rows] = await conn.query<mysql.RowDataPacket[]>(
    `SELECT target_schema, target_table, index_name, definition, status FROM ${T}
      WHERE backfill_id = ? ORDER BY target_schema, target_table, seq`,
    [backfillId],
  );
  return rows.map((r) => ({
    target: { schema: String(r.target_schema), table: String(r.target_table) },
    name: String(r.index_name),
    definition: String(r.definition),
    status: r.status === 'restored' ? 'restored' : 'deferred',
  }));
}

function groupByTable(records: Recorded[]): Map<string, Recorded[]> {
  const out = new Map<string, Recorded[]>();
  for (const r of records) {
    const key = tableKey(r.target);
    const list = out.get(key) ?? [];
    list.push(r);
    out.set(key, list);
  }
  return out;
}

async function showCreateTable(conn: mysql.Connection, table: TableRef): Promise<string> {
  const [rows] = await conn.query<mysql.RowDataPacket[]>(`SHOW CREATE TABLE ${quoteMysqlTable(table)}`);
  return String(rows[0]?.['Create Table'] ?? '');
}

async function existingIndexNames(conn: mysql.Connection, table: TableRef): Promise<Set<string>> {
  const [rows] = await conn.query<mysql.RowDataPacket[]>(
    'SELECT DISTINCT INDEX_NAME AS name FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ?',
    [table.schema, table.table],
  );
  return new Set(rows.map((r) => String(r.name)));
}

/**
 * How long our ALTER TABLE waits for a table's metadata lock. A waiting ALTER queues every later
 * statement on the table behind it, so it gives up after a minute (ER_LOCK_WAIT_TIMEOUT) and the
 * activity retries later, instead of the server's default of a day.
 */
const LOCK_WAIT_SECONDS = 60;

/**
 * Sets sql_log_bin=0 (and the lock wait) for this session; false when the user may not set
 * sql_log_bin (the caller then keeps indexes).
 */
async function stopBinlogging(conn: mysql.Connection): Promise<boolean> {
  await conn.query(`SET SESSION lock_wait_timeout = ${LOCK_WAIT_SECONDS}`);
  try {
    await conn.query('SET SESSION sql_log_bin = 0');
    return true;
  } catch {
    return false;
  }
}

/** Why a target table must keep its indexes, or undefined when they may go. */
async function reasonToKeep(
  conn: mysql.Connection,
  table: TableRef,
  createTable: string,
): Promise<string | undefined> {
  const { plain, hasForeignKeys } = secondaryIndexesOf(createTable);
  if (plain.length === 0) return 'no plain secondary index';
  if (hasForeignKeys) return 'it has foreign keys';
  const [refs] = await conn.query<mysql.RowDataPacket[]>(
    `SELECT 1 FROM information_schema.REFERENTIAL_CONSTRAINTS
      WHERE UNIQUE_CONSTRAINT_SCHEMA = ? AND REFERENCED_TABLE_NAME = ? LIMIT 1`,
    [table.schema, table.table],
  );
  if (refs.length > 0) return 'a foreign key references it';
  const [rows] = await conn.query<mysql.RowDataPacket[]>(`SELECT 1 FROM ${quoteMysqlTable(table)} LIMIT 1`);
  if (rows.length > 0) return 'it is not empty';
  return undefined;
}

/**
 * Takes the plain secondary indexes off the empty ones of `targets`, once per backfill: the first
 * call decides and records, later calls (retries, continue-as-new: these pass no targets) finish the
 * drops of what was recorded and return the same tables. Uses its own session (sql_log_bin is changed).
 */
export async function deferSecondaryIndexes(
  conn: mysql.Connection,
  backfillId: string,
  targets: readonly TableRef[],
): Promise<Deferral> {
  const kept: string[] = [];
  let records = await readRecords(conn, backfillId);
  if (records.length === 0) {
    if (targets.length === 0) return { tables: [], kept };
    if (!(await stopBinlogging(conn)))
      return {
        tables: [],
        kept: ['all tables: the target user may not SET sql_log_bin (needs BINLOG ADMIN or SUPER)'],
      };
    const chosen: Recorded[] = [];
    for (const target of targets) {
      let createTable: string;
      let reason: string | undefined;
      try {
        createTable = await showCreateTable(conn, target);
        reason = await reasonToKeep(conn, target, createTable);
      } catch (err) {
        // A missing or unreadable target table: the chunk copies will say what is wrong with it.
        kept.push(`${tableKey(target)}: cannot inspect it (${(err as Error).message})`);
        continue;
      }
      if (reason) {
        kept.push(`${tableKey(target)}: ${reason}`);
        continue;
      }
      for (const index of secondaryIndexesOf(createTable).plain)
        chosen.push({ ...index, target, status: 'deferred' });
    }
    if (chosen.length > 0) {
      const values = chosen.map((r, seq) => [
        backfillId,
        r.target.schema,
        r.target.table,
        r.name,
        seq,
        r.definition,
      ]);
      // One statement: all of the decision is recorded, or none of it.
      await conn.query(
        `INSERT INTO ${T} (backfill_id, target_schema, target_table, index_name, seq, definition) VALUES ?`,
        [values],
      );
    }
    records = chosen;
  } else if (!(await stopBinlogging(conn))) {
    throw new Error('the target user may no longer SET sql_log_bin: cannot finish deferring indexes');
  }
  const tables: DeferredTable[] = [];
  for (const list of groupByTable(records).values()) {
    const target = (list[0] as Recorded).target;
    const pending = list.filter((r) => r.status === 'deferred');
    if (pending.length > 0) {
      const present = await existingIndexNames(conn, target);
      const sql = dropIndexesSql(
        target,
        pending.filter((r) => present.has(r.name)).map((r) => r.name),
      );
      try {
        if (sql) await conn.query(sql);
      } catch (err) {
        // One ALTER: nothing of this table was dropped. Keep its indexes and forget the record.
        await conn.query(
          `DELETE FROM ${T} WHERE backfill_id = ? AND target_schema = ? AND target_table = ?`,
          [backfillId, target.schema, target.table],
        );
        kept.push(`${tableKey(target)}: dropping its indexes failed (${(err as Error).message})`);
        continue;
      }
    }
    tables.push({ target, indexes: list.map((r) => r.name), restored: pending.length === 0 });
  }
  return { tables, kept };
}

/**
 * What the server says of the statement running on connection `threadId` (read from another
 * connection), or undefined when it runs none.
 */
export async function statementProgress(
  monitor: mysql.Connection,
  threadId: number,
): Promise<IndexRebuildProgress | undefined> {
  const [rows] = await monitor.query<mysql.RowDataPacket[]>(
    'SELECT INFO, STATE, PROGRESS, TIME FROM information_schema.PROCESSLIST WHERE ID = ?',
    [threadId],
  );
  const r = rows[0];
  if (!r || r.INFO === null) return undefined;
  const progress = Number(r.PROGRESS);
  return {
    statement: String(r.INFO).slice(0, 200),
    state: String(r.STATE ?? ''),
    ...(progress > 0 ? { progressPercent: Math.round(progress * 10) / 10 } : {}),
    seconds: Number(r.TIME ?? 0),
  };
}

/**
 * Puts back the recorded indexes of `table` (every deferred table when omitted) that it lacks, in
 * one ALTER TABLE per table, and marks them restored. Safe to repeat.
 */
export async function restoreSecondaryIndexes(
  conn: mysql.Connection,
  backfillId: string,
  table?: TableRef,
): Promise<{ restored: number }> {
  const records = (await readRecords(conn, backfillId)).filter(
    (r) => r.status === 'deferred' && (!table || tableKey(r.target) === tableKey(table)),
  );
  if (records.length === 0) return { restored: 0 };
  // Without the privilege (revoked since the drop) the indexes still come back, logged.
  await stopBinlogging(conn);
  let restored = 0;
  for (const list of groupByTable(records).values()) {
    const target = (list[0] as Recorded).target;
    for (let attempt = 1; ; attempt++) {
      const present = await existingIndexNames(conn, target);
      const sql = addIndexesSql(
        target,
        list.filter((r) => !present.has(r.name)),
      );
      if (!sql) break;
      try {
        await conn.query(sql);
        break;
      } catch (err) {
        // ER_DUP_KEYNAME: an earlier attempt's ALTER (its worker died) finished meanwhile; look again.
        if ((err as { errno?: number }).errno !== 1061 || attempt >= 3) throw err;
      }
    }
    await conn.query(
      `UPDATE ${T} SET status = 'restored', restored_at = NOW(6)
        WHERE backfill_id = ? AND target_schema = ? AND target_table = ? AND status = 'deferred'`,
      [backfillId, target.schema, target.table],
    );
    restored += list.length;
  }
  return { restored };
}
