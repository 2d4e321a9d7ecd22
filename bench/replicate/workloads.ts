/**
 * The replication benchmark's workloads, generated on the source: a table of common column types,
 * an identical preload on every server, and row-change mixes of inserts, updates and deletes.
 * Deterministic (seeded), so every consumer sees the same binlog and can be checked against the
 * source with CHECKSUM TABLE.
 */
import type mysql from 'mysql2/promise';
import type { BinlogPosition } from '../../src/binlog/types';

export const SCHEMA = 'bench';

/** ~100-byte rows of common types. */
export function tableDdl(table: string): string {
  return `CREATE TABLE \`${SCHEMA}\`.\`${table}\` (
    id BIGINT UNSIGNED NOT NULL PRIMARY KEY,
    customer INT NOT NULL,
    name VARCHAR(64) NOT NULL,
    price DECIMAL(12,2) NOT NULL,
    created DATETIME(6) NOT NULL,
    version INT NOT NULL,
    score DOUBLE NULL,
    note VARCHAR(255) NULL
  ) ENGINE=InnoDB`;
}

/** Which server program the benchmark's servers run. */
export type Flavour = 'mariadb' | 'mysql';

/** Rows 1..`rows` as a table of one column `seq`: MariaDB's Sequence engine, a recursive CTE on MySQL. */
function sequence(flavour: Flavour, rows: number): { before: string[]; from: string } {
  if (flavour === 'mariadb') return { before: [], from: `\`${SCHEMA}\`.seq_1_to_${rows}` };
  return {
    before: [`SET SESSION cte_max_recursion_depth = ${rows + 1}`],
    from: `(WITH RECURSIVE s (seq) AS (SELECT CAST(1 AS UNSIGNED) UNION ALL SELECT seq + 1 FROM s WHERE seq < ${rows}) SELECT seq FROM s) AS s`,
  };
}

/**
 * Creates the table and loads rows 1..`rows` identically on a server WITHOUT binlogging them
 * (sql_log_bin=0), so consumers start from the same state as the source without replicating it.
 */
export async function createAndPreload(
  conn: mysql.Connection,
  table: string,
  rows: number,
  flavour: Flavour = 'mariadb',
): Promise<void> {
  const seq = sequence(flavour, rows);
  await conn.query(`SET SESSION sql_log_bin = 0`);
  await conn.query(`CREATE DATABASE IF NOT EXISTS \`${SCHEMA}\``);
  await conn.query(`DROP TABLE IF EXISTS \`${SCHEMA}\`.\`${table}\``);
  await conn.query(tableDdl(table));
  for (const statement of seq.before) await conn.query(statement);
  await conn.query(
    `INSERT INTO \`${SCHEMA}\`.\`${table}\` SELECT seq, seq % 10007, CONCAT('customer name ', seq), (seq % 100000) / 100,
       '2024-01-01 00:00:00' + INTERVAL seq SECOND, 0, seq / 7, CONCAT('preloaded row ', seq, ' ', REPEAT('x', 20))
     FROM ${seq.from}`,
  );
  await conn.query(`SET SESSION sql_log_bin = 1`);
}

/**
 * Binlog file and position of the source right now; on MySQL also its gtid_executed (`gtid`), the
 * range a native MySQL replica is given.
 */
export async function masterPosition(
  conn: mysql.Connection,
  flavour: Flavour = 'mariadb',
): Promise<BinlogPosition> {
  // MySQL 8.4 removed SHOW MASTER STATUS.
  const [rows] = await conn.query<mysql.RowDataPacket[]>(
    flavour === 'mysql' ? 'SHOW BINARY LOG STATUS' : 'SHOW MASTER STATUS',
  );
  const r = rows[0];
  if (!r) throw new Error('the source has no binlog (no binary log status)');
  const at: BinlogPosition = { file: String(r.File), pos: Number(r.Position) };
  if (flavour === 'mysql') at.gtid = String(r.Executed_Gtid_Set ?? '').replace(/\s+/g, '');
  return at;
}

/** True when position `a` is at or after `b` (same file naming: zero-padded sequence numbers). */
export function reached(a: BinlogPosition, b: BinlogPosition): boolean {
  return a.file > b.file || (a.file === b.file && a.pos >= b.pos);
}

/** A small seeded PRNG (mulberry32): same workload every run. */
function prng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * Live ids are the contiguous range (low, next): deletes take the lowest live ids, inserts append,
 * updates pick random live ids. Cheap to track and every UPDATE/DELETE hits an existing row.
 */
class IdSpace {
  private readonly random: () => number;
  constructor(
    private low: number,
    private next: number,
    seed: number,
  ) {
    this.random = prng(seed);
  }
  insertIds(n: number): number[] {
    const ids: number[] = [];
    for (let i = 0; i < n; i++) ids.push(this.next++);
    return ids;
  }
  deleteIds(n: number): number[] {
    const ids: number[] = [];
    for (let i = 0; i < n; i++) ids.push(++this.low);
    return ids;
  }
  /** `n` distinct random live ids, none of them in `avoid`. */
  updateIds(n: number, avoid: ReadonlySet<number> = new Set()): number[] {
    const ids = new Set<number>();
    const span = this.next - this.low - 1;
    while (ids.size < n) {
      const id = this.low + 1 + Math.floor(this.random() * span);
      if (!avoid.has(id)) ids.add(id);
    }
    return [...ids];
  }
}

function insertValues(ids: number[], nowMs: number): string {
  return ids
    .map((id) => {
      const when = new Date(Date.UTC(2024, 0, 1) + id * 1000)
        .toISOString()
        .replace('T', ' ')
        .replace('Z', '');
      return `(${id}, ${id % 10007}, 'customer name ${id}', ${(id % 100000) / 100}, '${when}', 0, ${id / 7}, 'row ${id} written at ${nowMs}')`;
    })
    .join(', ');
}

function updateStatement(table: string, ids: number[]): string {
  return `UPDATE \`${SCHEMA}\`.\`${table}\` SET version = version + 1, price = price + 0.01, score = score * 1.5 WHERE id IN (${ids.join(', ')})`;
}

function deleteStatement(table: string, ids: number[]): string {
  return `DELETE FROM \`${SCHEMA}\`.\`${table}\` WHERE id IN (${ids.join(', ')})`;
}

export interface Mix {
  inserts: number;
  updates: number;
  deletes: number;
}

/**
 * Workload (a): `transactions` transactions, each with one multi-row INSERT, UPDATE and DELETE of
 * `mix` rows (e.g. 60/30/10 = 100 row changes per transaction). The preload must hold rows
 * 1..`preloaded`. Statements travel 50 transactions per round trip to keep generation short.
 */
export async function generateBatched(
  conn: mysql.Connection,
  table: string,
  preloaded: number,
  transactions: number,
  mix: Mix,
): Promise<{ rowChanges: number; seconds: number }> {
  const ids = new IdSpace(0, preloaded + 1, 42);
  const t0 = Date.now();
  const perTrip = 50;
  for (let done = 0; done < transactions; done += perTrip) {
    const parts: string[] = [];
    for (let i = done; i < Math.min(transactions, done + perTrip); i++) {
      const del = ids.deleteIds(mix.deletes);
      const ins = ids.insertIds(mix.inserts);
      const upd = ids.updateIds(mix.updates, new Set(del));
      parts.push(
        'START TRANSACTION',
        `INSERT INTO \`${SCHEMA}\`.\`${table}\` VALUES ${insertValues(ins, Date.now())}`,
        updateStatement(table, upd),
        deleteStatement(table, del),
        'COMMIT',
      );
    }
    await conn.query(parts.join(';\n'));
  }
  return {
    rowChanges: transactions * (mix.inserts + mix.updates + mix.deletes),
    seconds: (Date.now() - t0) / 1000,
  };
}

/**
 * Workload (b): `transactions` single-row transactions (autocommit statements), drawn at random with
 * the proportions of `mix`. Sent 1000 statements per round trip.
 */
export async function generateSingleRow(
  conn: mysql.Connection,
  table: string,
  preloaded: number,
  transactions: number,
  mix: Mix,
): Promise<{ rowChanges: number; seconds: number }> {
  const ids = new IdSpace(0, preloaded + 1, 7);
  const pick = prng(99);
  const total = mix.inserts + mix.updates + mix.deletes;
  const t0 = Date.now();
  const perTrip = 1000;
  for (let done = 0; done < transactions; done += perTrip) {
    const parts: string[] = [];
    for (let i = done; i < Math.min(transactions, done + perTrip); i++) {
      const r = pick() * total;
      if (r < mix.inserts)
        parts.push(
          `INSERT INTO \`${SCHEMA}\`.\`${table}\` VALUES ${insertValues(ids.insertIds(1), Date.now())}`,
        );
      else if (r < mix.inserts + mix.updates) parts.push(updateStatement(table, ids.updateIds(1)));
      else parts.push(deleteStatement(table, ids.deleteIds(1)));
    }
    await conn.query(parts.join(';\n'));
  }
  return { rowChanges: transactions, seconds: (Date.now() - t0) / 1000 };
}

/** CHECKSUM TABLE and row count, to prove a consumer ended with the source's rows. */
export async function tableDigest(conn: mysql.Connection, table: string): Promise<string> {
  const [sum] = await conn.query<mysql.RowDataPacket[]>(`CHECKSUM TABLE \`${SCHEMA}\`.\`${table}\``);
  const [count] = await conn.query<mysql.RowDataPacket[]>(
    `SELECT COUNT(*) AS n FROM \`${SCHEMA}\`.\`${table}\``,
  );
  return `${count[0]?.n}:${sum[0]?.Checksum}`;
}
