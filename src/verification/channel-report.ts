import type mysql from 'mysql2/promise';
import { keyIn, parseKey, stringifyKey } from '../backfill/keys';
import type { CellValue } from '../binlog/types';
import { describeKey } from '../connectors/dialect';
import { quoteMysqlIdentifier, quoteMysqlTable } from '../connectors/mysql/source';
import { SYSTEM_SCHEMA } from '../connectors/target';
import { type TableRef, tableKey } from '../pipeline/model';
import {
  type DecidedDifference,
  type RecordedConflict,
  type SiteEvidence,
  splitDecided,
} from './channel-conflicts';
import type { SideTable } from './checksum-sql';
import type { ChunkDifference } from './chunk-verifier';
import { keyId } from './classify';
import type { DifferenceKind } from './contract';
import type { TableComparison } from './table-plan';

/**
 * The I/O of rows decided by conflict resolution on a channel (channel-conflicts.ts decides):
 * reading a site's conflict records and current rows for some keys, and keeping the decided keys in
 * the verification's report on its target, in `otterflow.verification_decided` — apart from the
 * differences, so a repair never touches them. Keys, kinds, columns and conflict ids only: no values.
 */

const S = `\`${SYSTEM_SCHEMA}\``;
const NO_TABLE = new Set([1146, 1049]);

/** What one site holds about `keys`: its latest conflict record per key (by `pipeline`) and its current rows. */
export async function readSiteEvidence(
  conn: mysql.Connection,
  side: SideTable,
  pipeline: string,
  keys: readonly CellValue[][],
): Promise<SiteEvidence> {
  const conflicts = new Map<string, RecordedConflict>();
  const rows = new Map<string, Record<string, unknown>>();
  const columns = side.columns.map((c) => ({ name: c.name, dataType: c.dataType }));
  if (keys.length === 0) return { columns, conflicts, rows };
  const byJson = new Map(keys.map((k) => [JSON.stringify(describeKey(side.keyColumns, k)), keyId(k)]));
  try {
    const [found] = await conn.query<mysql.RowDataPacket[]>(
      `SELECT id, pipeline, op, key_json, resolution, policy, source_after, target_row FROM ${S}.conflicts
        WHERE pipeline = ? AND table_name = ? AND key_json IN (${[...byJson.keys()].map(() => '?').join(', ')}) ORDER BY id`,
      [pipeline, tableKey(side.ref), ...byJson.keys()],
    );
    for (const r of found) {
      const id = byJson.get(String(r.key_json));
      if (id === undefined) continue;
      conflicts.set(id, {
        id: Number(r.id),
        pipeline: String(r.pipeline),
        op: r.op === 'delete' ? 'delete' : r.op === 'insert' ? 'insert' : 'update',
        resolution: r.resolution === 'skipped' ? 'skipped' : 'applied',
        policy: String(r.policy),
        sourceAfter: r.source_after === null ? null : JSON.parse(String(r.source_after)),
        targetRow: r.target_row === null ? null : JSON.parse(String(r.target_row)),
      });
    }
  } catch (err) {
    if (!NO_TABLE.has((err as { errno?: number }).errno ?? 0)) throw err; // no conflict ever recorded here
  }
  if (conflicts.size === 0) return { columns, conflicts, rows };
  const w = keyIn(side.keyColumns, keys);
  const [current] = await conn.query<mysql.RowDataPacket[]>(
    `SELECT ${columns.map((c) => quoteMysqlIdentifier(c.name)).join(', ')} FROM ${quoteMysqlTable(side.ref)} WHERE ${w.sql}`,
    w.params,
  );
  for (const r of current) rows.set(keyId(side.keyColumns.map((c) => r[c] as CellValue)), { ...r });
  return { columns, conflicts, rows };
}

const ensured = new WeakSet<mysql.Connection>();

async function ensureDecidedTable(conn: mysql.Connection): Promise<void> {
  if (ensured.has(conn)) return;
  await conn.query(`CREATE DATABASE IF NOT EXISTS ${S}`);
  await conn.query(
    `CREATE TABLE IF NOT EXISTS ${S}.verification_decided (
      verification_id VARCHAR(191) NOT NULL,
      chunk_no INT UNSIGNED NOT NULL,
      seq INT UNSIGNED NOT NULL,
      target_schema VARCHAR(64) NOT NULL,
      target_table VARCHAR(64) NOT NULL,
      key_json TEXT NOT NULL,
      kind ENUM('missing', 'extra', 'different') NOT NULL,
      columns_json TEXT NULL,
      conflicts_json TEXT NOT NULL,
      PRIMARY KEY (verification_id, chunk_no, seq)
    ) ENGINE=InnoDB`,
  );
  ensured.add(conn);
}

/**
 * Replaces a chunk's decided keys (a chunk compared again after a worker died rewrites them). Called
 * before the chunk is recorded as compared, so a chunk marked done always has its decided keys.
 */
export async function recordDecided(
  conn: mysql.Connection,
  id: string,
  chunk: { chunkNo: number; table: TableRef },
  decided: readonly DecidedDifference[],
): Promise<void> {
  await ensureDecidedTable(conn);
  await conn.query(`DELETE FROM ${S}.verification_decided WHERE verification_id = ? AND chunk_no = ?`, [
    id,
    chunk.chunkNo,
  ]);
  for (let i = 0; i < decided.length; i += 500) {
    const part = decided.slice(i, i + 500);
    await conn.query(
      `INSERT INTO ${S}.verification_decided (verification_id, chunk_no, seq, target_schema, target_table, key_json, kind, columns_json, conflicts_json) VALUES ${part.map(() => '(?, ?, ?, ?, ?, ?, ?, ?, ?)').join(', ')}`,
      part.flatMap((d, j) => [
        id,
        chunk.chunkNo,
        i + j,
        chunk.table.schema,
        chunk.table.table,
        stringifyKey(d.key),
        d.kind,
        JSON.stringify(d.columns),
        JSON.stringify(d.conflicts),
      ]),
    );
  }
}

export interface StoredDecided {
  table: TableRef;
  keyColumns: string[];
  key: CellValue[];
  kind: DifferenceKind;
  columns: string[];
  conflicts: DecidedDifference['conflicts'];
}

/** Decided keys per target table (`schema.table`); empty when the verification has none. */
export async function decidedCounts(conn: mysql.Connection, id: string): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  try {
    const [rows] = await conn.query<mysql.RowDataPacket[]>(
      `SELECT target_schema AS s, target_table AS t, COUNT(*) AS n FROM ${S}.verification_decided
        WHERE verification_id = ? GROUP BY target_schema, target_table`,
      [id],
    );
    for (const r of rows) out.set(tableKey({ schema: String(r.s), table: String(r.t) }), Number(r.n));
  } catch (err) {
    if (!NO_TABLE.has((err as { errno?: number }).errno ?? 0)) throw err;
  }
  return out;
}

/** Decided keys in report order (chunk, then seq), paged, with the target key column names. */
export async function readDecided(
  conn: mysql.Connection,
  id: string,
  offset: number,
  limit: number,
): Promise<{ total: number; decided: StoredDecided[] }> {
  try {
    const [count] = await conn.query<mysql.RowDataPacket[]>(
      `SELECT COUNT(*) AS n FROM ${S}.verification_decided WHERE verification_id = ?`,
      [id],
    );
    const [rows] = await conn.query<mysql.RowDataPacket[]>(
      `SELECT d.*, c.key_columns FROM ${S}.verification_decided d
         JOIN ${S}.verification_chunks c ON c.verification_id = d.verification_id AND c.chunk_no = d.chunk_no
        WHERE d.verification_id = ? ORDER BY d.chunk_no, d.seq LIMIT ? OFFSET ?`,
      [id, Math.floor(limit), Math.floor(offset)],
    );
    return {
      total: Number(count[0]?.n ?? 0),
      decided: rows.map((r) => ({
        table: { schema: String(r.target_schema), table: String(r.target_table) },
        keyColumns: JSON.parse(String(r.key_columns)) as string[],
        key: parseKey(String(r.key_json)),
        kind: r.kind as DifferenceKind,
        columns: r.columns_json ? (JSON.parse(String(r.columns_json)) as string[]) : [],
        conflicts: JSON.parse(String(r.conflicts_json)) as DecidedDifference['conflicts'],
      })),
    };
  } catch (err) {
    if (NO_TABLE.has((err as { errno?: number }).errno ?? 0)) return { total: 0, decided: [] };
    throw err;
  }
}

/**
 * Splits a chunk's confirmed differences on a channel into real ones and those conflict resolution
 * decided (channel-conflicts.ts), from both sites' conflict records and current rows. The source
 * site's records are the opposite pipeline's, the target site's this pipeline's. Merged shards are
 * not part of channels: their differences stay as they are.
 */
export async function splitByConflicts(
  source: mysql.Connection,
  target: mysql.Connection,
  comparison: TableComparison,
  pipelines: { pipeline: string; peer: string },
  differences: readonly ChunkDifference[],
): Promise<{ real: ChunkDifference[]; decided: DecidedDifference[] }> {
  const sourceSide = comparison.sources[0]?.side;
  if (differences.length === 0 || comparison.sources.length !== 1 || !sourceSide)
    return { real: [...differences], decided: [] };
  const keys = differences.map((d) => d.key);
  const [s, t] = await Promise.all([
    readSiteEvidence(source, sourceSide, pipelines.peer, keys),
    readSiteEvidence(target, comparison.target, pipelines.pipeline, keys),
  ]);
  return splitDecided(differences, s, t);
}

/** Per-table counts of a report with the keys conflict resolution decided (only when there are any). */
export async function withDecidedCounts<T extends { table: string }>(
  conn: mysql.Connection,
  id: string,
  tables: readonly T[],
): Promise<(T & { decidedByPolicy?: number })[]> {
  const counts = await decidedCounts(conn, id);
  if (counts.size === 0) return [...tables];
  return tables.map((t) => ({ ...t, decidedByPolicy: counts.get(t.table) ?? 0 }));
}
