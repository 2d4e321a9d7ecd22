import type mysql from 'mysql2/promise';
import { parseKey, stringifyKey } from '../../../backfill/keys';
import { type TableRef, tableKey } from '../../../pipeline/model';
import type {
  DifferenceKind,
  RepairStatus,
  TableVerification,
  VerificationState,
  VerificationStatus,
} from '../../../verification/contract';
import type {
  Difference,
  StoredChunk,
  StoredDifference,
  VerificationReportStore,
} from '../../../verification/report-store';
import { SYSTEM_SCHEMA } from '../../target';

/**
 * The verification report in a MySQL/MariaDB target's `otterflow` schema (next to the checkpoint):
 * `verifications`, `verification_chunks`, `verification_differences` (see
 * src/verification/report-store.ts for what each holds).
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

/** The report store on one MySQL/MariaDB connection (opened with the backfill's reader settings). */
export class MysqlVerificationReport implements VerificationReportStore {
  private ensured = false;

  constructor(private readonly conn: mysql.Connection) {}

  private async ensureTables(): Promise<void> {
    if (this.ensured) return;
    await ensureVerificationTables(this.conn);
    this.ensured = true;
  }

  async readRequest(id: string): Promise<{ where?: string } | undefined> {
    const [rows] = await this.conn.query<mysql.RowDataPacket[]>(
      `SELECT request_json FROM ${S}.verifications WHERE verification_id = ?`,
      [id],
    );
    const r = rows[0];
    if (!r) return undefined;
    return r.request_json ? (JSON.parse(String(r.request_json)) as { where?: string }) : {};
  }

  /** Records that a verification exists (state planning); a repeat call leaves the row as it is. */
  async beginVerification(id: string, pipeline: string, request: unknown): Promise<void> {
    await this.ensureTables();
    await this.conn.query(
      `INSERT IGNORE INTO ${S}.verifications (verification_id, pipeline, state, request_json) VALUES (?, ?, 'planning', ?)`,
      [id, pipeline, JSON.stringify(request)],
    );
  }

  /** True when the verification's chunk plan is stored already (a retried plan activity). */
  async hasPlan(id: string): Promise<boolean> {
    const [rows] = await this.conn.query<mysql.RowDataPacket[]>(
      `SELECT 1 FROM ${S}.verification_chunks WHERE verification_id = ? LIMIT 1`,
      [id],
    );
    return rows.length > 0;
  }

  /** A verification run again under its id (resumed): comparing again, its chunks compared so far kept. */
  async resumeVerification(id: string): Promise<void> {
    await this.conn.query(
      `UPDATE ${S}.verifications SET state = 'comparing', error = NULL, finished_at = NULL WHERE verification_id = ?`,
      [id],
    );
  }

  /** Stores the whole plan in one transaction, and sets the state to comparing. */
  async storeChunks(id: string, chunks: readonly Omit<StoredChunk, 'chunkNo' | 'done'>[]): Promise<void> {
    await this.conn.query('START TRANSACTION');
    try {
      for (let i = 0; i < chunks.length; i += 500) {
        const part = chunks.slice(i, i + 500);
        await this.conn.query(
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
      await this.conn.query(`UPDATE ${S}.verifications SET state = 'comparing' WHERE verification_id = ?`, [
        id,
      ]);
      await this.conn.query('COMMIT');
    } catch (err) {
      await this.conn.query('ROLLBACK').catch(() => {});
      throw err;
    }
  }

  async readStoredChunk(id: string, chunkNo: number): Promise<StoredChunk | undefined> {
    const [rows] = await this.conn.query<mysql.RowDataPacket[]>(
      `SELECT * FROM ${S}.verification_chunks WHERE verification_id = ? AND chunk_no = ?`,
      [id, chunkNo],
    );
    return rows[0] ? chunkOf(rows[0]) : undefined;
  }

  /** Chunk numbers not compared yet, ascending, and how many chunks there are in all. */
  async pendingChunks(id: string): Promise<{ pending: number[]; total: number }> {
    const [rows] = await this.conn.query<mysql.RowDataPacket[]>(
      `SELECT chunk_no, status FROM ${S}.verification_chunks WHERE verification_id = ? ORDER BY chunk_no`,
      [id],
    );
    return {
      pending: rows.filter((r) => r.status !== 'done').map((r) => Number(r.chunk_no)),
      total: rows.length,
    };
  }

  /** Marks a chunk compared with its counts and differences, in one transaction (idempotent). */
  async recordChunk(
    id: string,
    chunk: StoredChunk,
    counts: { rowsSource: number; rowsTarget: number; unsettled: number },
    differences: readonly Omit<Difference, 'table'>[],
  ): Promise<void> {
    await this.conn.query('START TRANSACTION');
    try {
      await this.conn.query(
        `DELETE FROM ${S}.verification_differences WHERE verification_id = ? AND chunk_no = ?`,
        [id, chunk.chunkNo],
      );
      for (let i = 0; i < differences.length; i += 500) {
        const part = differences.slice(i, i + 500);
        await this.conn.query(
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
      await this.conn.query(
        `UPDATE ${S}.verification_chunks SET status = 'done', rows_source = ?, rows_target = ?, unsettled = ?, done_at = CURRENT_TIMESTAMP(6)
          WHERE verification_id = ? AND chunk_no = ?`,
        [counts.rowsSource, counts.rowsTarget, counts.unsettled, id, chunk.chunkNo],
      );
      await this.conn.query('COMMIT');
    } catch (err) {
      await this.conn.query('ROLLBACK').catch(() => {});
      throw err;
    }
  }

  async finishVerification(id: string, state: VerificationState, error?: string): Promise<void> {
    await this.ensureTables();
    await this.conn.query(
      `UPDATE ${S}.verifications SET state = ?, error = ?, finished_at = CURRENT_TIMESTAMP(6) WHERE verification_id = ?`,
      [state, error ?? null, id],
    );
  }

  async storeRepairStatus(id: string, repair: RepairStatus): Promise<void> {
    await this.conn.query(`UPDATE ${S}.verifications SET repair_json = ? WHERE verification_id = ?`, [
      JSON.stringify(repair),
      id,
    ]);
  }

  /** Records the outcome of a repair for differences, by (chunk, seq). */
  async markRepair(
    id: string,
    outcomes: readonly { chunkNo: number; seq: number; repaired: boolean }[],
  ): Promise<void> {
    for (const o of outcomes)
      await this.conn.query(
        `UPDATE ${S}.verification_differences SET repair = ? WHERE verification_id = ? AND chunk_no = ? AND seq = ?`,
        [o.repaired ? 'repaired' : 'remaining', id, o.chunkNo, o.seq],
      );
  }

  /** Differences in report order (chunk, then seq), paged. */
  async readDifferences(
    id: string,
    offset: number,
    limit: number,
  ): Promise<{ total: number; differences: StoredDifference[] }> {
    const [count] = await this.conn.query<mysql.RowDataPacket[]>(
      `SELECT COUNT(*) AS n FROM ${S}.verification_differences WHERE verification_id = ?`,
      [id],
    );
    const [rows] = await this.conn.query<mysql.RowDataPacket[]>(
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
  async readReport(id: string): Promise<VerificationStatus | undefined> {
    await this.ensureTables();
    const [v] = await this.conn.query<mysql.RowDataPacket[]>(
      `SELECT pipeline, state, error, repair_json,
              DATE_FORMAT(started_at, '%Y-%m-%dT%H:%i:%s.%fZ') AS started_at,
              DATE_FORMAT(updated_at, '%Y-%m-%dT%H:%i:%s.%fZ') AS updated_at,
              DATE_FORMAT(finished_at, '%Y-%m-%dT%H:%i:%s.%fZ') AS finished_at
         FROM ${S}.verifications WHERE verification_id = ?`,
      [id],
    );
    const head = v[0];
    if (!head) return undefined;
    const [chunks] = await this.conn.query<mysql.RowDataPacket[]>(
      `SELECT target_schema AS s, target_table AS t, MIN(sources) AS sources, COUNT(*) AS chunks,
              SUM(status = 'done') AS done, SUM(rows_source) AS rs, SUM(rows_target) AS rt, SUM(unsettled) AS u
         FROM ${S}.verification_chunks WHERE verification_id = ? GROUP BY target_schema, target_table
         ORDER BY target_schema, target_table`,
      [id],
    );
    const [kinds] = await this.conn.query<mysql.RowDataPacket[]>(
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
}
