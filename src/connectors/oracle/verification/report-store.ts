import oracledb from 'oracledb';
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
  ChunkCounts,
  Difference,
  StoredChunk,
  StoredDifference,
  VerificationReportStore,
} from '../../../verification/report-store';
import type { OracleConnectionLike } from '../connection';
import {
  OracleVerificationSql,
  VERIFICATION_FETCH_INFO,
  VERIFY_CHUNK_BIND_DEFS,
  VERIFY_DIFFERENCE_BIND_DEFS,
  VERIFY_REPAIR_BIND_DEFS,
} from './report-sql';

/**
 * The verification report in an Oracle target (tables and SQL: report-sql.ts). Oracle opens a
 * transaction with the first DML: every method that writes commits before returning, and rolls back
 * what it wrote when a statement fails, so a plan and a chunk with its differences are all-or-nothing.
 */

type Conn = Pick<OracleConnectionLike, 'execute' | 'executeMany' | 'commit' | 'rollback'>;

const READ = { outFormat: oracledb.OUT_FORMAT_ARRAY, fetchInfo: VERIFICATION_FETCH_INFO } as const;
/** ORA-00001: unique constraint violated. */
const UNIQUE_VIOLATED = 'ORA-00001';
/** Rows per executeMany. */
const BATCH = 500;

const text = (v: unknown): string | null => (v === null || v === undefined ? null : String(v));

export class OracleVerificationReport implements VerificationReportStore {
  private ensured = false;

  constructor(
    protected readonly conn: Conn,
    readonly sql: OracleVerificationSql = new OracleVerificationSql(),
  ) {}

  /** Creates the tables when they are not there (DDL: never inside a write of this store). */
  async ensureTables(): Promise<void> {
    if (this.ensured) return;
    for (const ddl of this.sql.create()) await this.conn.execute(ddl);
    this.ensured = true;
  }

  private async rows<T extends unknown[]>(sql: string, binds: unknown[]): Promise<T[]> {
    const r = await this.conn.execute<T>(sql, binds, READ);
    return r.rows ?? [];
  }

  /** Runs `work` and commits; rolls back (and rethrows) when it fails. */
  private async transaction(work: () => Promise<void>): Promise<void> {
    try {
      await work();
      await this.conn.commit();
    } catch (err) {
      await this.conn.rollback().catch(() => {});
      throw err;
    }
  }

  async beginVerification(id: string, pipeline: string, request: unknown): Promise<void> {
    await this.ensureTables();
    try {
      await this.conn.execute(this.sql.insertVerification(), [
        id,
        pipeline,
        { type: oracledb.DB_TYPE_CLOB, val: JSON.stringify(request) },
      ]);
      await this.conn.commit();
    } catch (err) {
      await this.conn.rollback().catch(() => {});
      if ((err as { code?: string }).code !== UNIQUE_VIOLATED) throw err;
    }
  }

  async hasPlan(id: string): Promise<boolean> {
    await this.ensureTables();
    return (await this.rows(this.sql.hasPlan(), [id])).length > 0;
  }

  async resumeVerification(id: string): Promise<void> {
    await this.transaction(async () => {
      await this.conn.execute(this.sql.resume(), [id]);
    });
  }

  async storeChunks(id: string, chunks: readonly Omit<StoredChunk, 'chunkNo' | 'done'>[]): Promise<void> {
    await this.ensureTables();
    await this.transaction(async () => {
      for (let i = 0; i < chunks.length; i += BATCH) {
        const binds = chunks
          .slice(i, i + BATCH)
          .map((c, j) => [
            id,
            i + j,
            c.table.schema,
            c.table.table,
            JSON.stringify(c.sources),
            JSON.stringify(c.keyColumns),
            c.after ? stringifyKey(c.after) : null,
            c.upTo ? stringifyKey(c.upTo) : null,
          ]);
        await this.conn.executeMany(this.sql.insertChunk(), binds, { bindDefs: VERIFY_CHUNK_BIND_DEFS });
      }
      await this.conn.execute(this.sql.setState(), ['comparing', id]);
    });
  }

  async readStoredChunk(id: string, chunkNo: number): Promise<StoredChunk | undefined> {
    const [r] = await this.rows(this.sql.readChunk(), [id, chunkNo]);
    if (!r) return undefined;
    const [no, schema, table, sources, keyColumns, after, upTo, status] = r;
    return {
      chunkNo: Number(no),
      table: { schema: String(schema), table: String(table) },
      sources: JSON.parse(String(sources)) as TableRef[],
      keyColumns: JSON.parse(String(keyColumns)) as string[],
      ...(after !== null ? { after: parseKey(String(after)) } : {}),
      ...(upTo !== null ? { upTo: parseKey(String(upTo)) } : {}),
      done: status === 'done',
    };
  }

  async pendingChunks(id: string): Promise<{ pending: number[]; total: number }> {
    const rows = await this.rows(this.sql.chunkStatuses(), [id]);
    return { pending: rows.filter((r) => r[1] !== 'done').map((r) => Number(r[0])), total: rows.length };
  }

  async recordChunk(
    id: string,
    chunk: StoredChunk,
    counts: ChunkCounts,
    differences: readonly Omit<Difference, 'table'>[],
  ): Promise<void> {
    await this.transaction(async () => {
      await this.conn.execute(this.sql.deleteDifferences(), [id, chunk.chunkNo]);
      for (let i = 0; i < differences.length; i += BATCH) {
        const binds = differences
          .slice(i, i + BATCH)
          .map((d, j) => [
            id,
            chunk.chunkNo,
            i + j,
            chunk.table.schema,
            chunk.table.table,
            stringifyKey(d.key),
            d.kind,
            JSON.stringify(d.columns),
          ]);
        await this.conn.executeMany(this.sql.insertDifference(), binds, {
          bindDefs: VERIFY_DIFFERENCE_BIND_DEFS,
        });
      }
      await this.conn.execute(this.sql.markChunkDone(), [
        counts.rowsSource,
        counts.rowsTarget,
        counts.unsettled,
        id,
        chunk.chunkNo,
      ]);
    });
  }

  async finishVerification(id: string, state: VerificationState, error?: string): Promise<void> {
    await this.ensureTables();
    await this.transaction(async () => {
      await this.conn.execute(this.sql.finish(), [
        state,
        error === undefined ? null : { type: oracledb.DB_TYPE_CLOB, val: error },
        id,
      ]);
    });
  }

  async storeRepairStatus(id: string, repair: RepairStatus): Promise<void> {
    await this.transaction(async () => {
      await this.conn.execute(this.sql.storeRepair(), [
        { type: oracledb.DB_TYPE_CLOB, val: JSON.stringify(repair) },
        id,
      ]);
    });
  }

  async markRepair(
    id: string,
    outcomes: readonly { chunkNo: number; seq: number; repaired: boolean }[],
  ): Promise<void> {
    if (outcomes.length === 0) return;
    await this.transaction(async () => {
      for (let i = 0; i < outcomes.length; i += BATCH) {
        const binds = outcomes
          .slice(i, i + BATCH)
          .map((o) => [o.repaired ? 'repaired' : 'remaining', id, o.chunkNo, o.seq]);
        await this.conn.executeMany(this.sql.markRepair(), binds, { bindDefs: VERIFY_REPAIR_BIND_DEFS });
      }
    });
  }

  async readDifferences(
    id: string,
    offset: number,
    limit: number,
  ): Promise<{ total: number; differences: StoredDifference[] }> {
    const [count] = await this.rows(this.sql.countDifferences(), [id]);
    const rows = await this.rows(this.sql.differencesPage(), [id, Math.floor(offset), Math.floor(limit)]);
    return {
      total: Number(count?.[0] ?? 0),
      differences: rows.map(([chunkNo, seq, schema, table, key, kind, columns, repair, keyColumns]) => ({
        chunkNo: Number(chunkNo),
        seq: Number(seq),
        table: { schema: String(schema), table: String(table) },
        keyColumns: JSON.parse(String(keyColumns)) as string[],
        key: parseKey(String(key)),
        kind: kind as DifferenceKind,
        columns: columns ? (JSON.parse(String(columns)) as string[]) : [],
        ...(repair ? { repair: repair as 'repaired' | 'remaining' } : {}),
      })),
    };
  }

  async readRequest(id: string): Promise<{ where?: string } | undefined> {
    const [r] = await this.rows(this.sql.readRequest(), [id]);
    if (!r) return undefined;
    return r[0] ? (JSON.parse(String(r[0])) as { where?: string }) : {};
  }

  async readReport(id: string): Promise<VerificationStatus | undefined> {
    await this.ensureTables();
    const [head] = await this.rows(this.sql.readHead(), [id]);
    if (!head) return undefined;
    const [pipeline, state, error, repair, startedAt, updatedAt, finishedAt] = head;
    const totals = await this.rows(this.sql.tableTotals(), [id]);
    const kinds = await this.rows(this.sql.kindCounts(), [id]);
    const tables: TableVerification[] = [];
    for (const [schema, table, chunks, done, rs, rt, unsettled, firstNo] of totals) {
      const ref = { schema: String(schema), table: String(table) };
      const count = (kind: DifferenceKind) =>
        Number(kinds.find((k) => k[0] === ref.schema && k[1] === ref.table && k[2] === kind)?.[3] ?? 0);
      // Every chunk of a table names the same sources: the first one's are the table's.
      const first = await this.readStoredChunk(id, Number(firstNo));
      tables.push({
        table: tableKey(ref),
        sources: (first?.sources ?? []).map(tableKey),
        chunks: Number(chunks),
        chunksDone: Number(done ?? 0),
        rowsSource: Number(rs ?? 0),
        rowsTarget: Number(rt ?? 0),
        missing: count('missing'),
        extra: count('extra'),
        different: count('different'),
        unsettled: Number(unsettled ?? 0),
      });
    }
    const sum = (f: (t: TableVerification) => number) => tables.reduce((n, t) => n + f(t), 0);
    return {
      id,
      pipeline: String(pipeline),
      state: state as VerificationState,
      chunksTotal: sum((t) => t.chunks),
      chunksDone: sum((t) => t.chunksDone),
      rowsCompared: sum((t) => t.rowsSource),
      rowsPerSecond: 0,
      differences: sum((t) => t.missing + t.extra + t.different),
      tables,
      ...(repair ? { repair: JSON.parse(String(repair)) as RepairStatus } : {}),
      ...(error ? { lastError: String(error) } : {}),
      startedAt: String(startedAt),
      updatedAt: String(updatedAt),
      ...(text(finishedAt) ? { finishedAt: String(finishedAt) } : {}),
    };
  }
}
