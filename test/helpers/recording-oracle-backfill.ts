import { OracleBackfillSql } from '../../src/connectors/oracle/backfill/progress-sql';
import { oracleError, type RecordingStatementModel } from './recording-oracle';

/**
 * The backfill progress tables (plans, chunks, re-sync requests) of a recording Oracle database,
 * recognised by the exact statements of {@link OracleBackfillSql}: committed state plus each
 * connection's uncommitted changes, replayed over the committed state when it reads and published at
 * its COMMIT (dropped at ROLLBACK or close). Row locks are not modelled.
 */

export interface ModelChunk {
  schema: string;
  table: string;
  after: string | null;
  upTo: string | null;
  status: 'pending' | 'done';
  rowsCopied: number;
  copies: number;
}

export interface ModelRequest {
  requestId: string;
  backfillId: string;
  pipeline: string;
  seq: number;
  schema: string;
  table: string;
  where: string | null;
  keys: string | null;
  chunkSize: number;
  maxRowsPerSecond: number | null;
  status: string;
  lastKey: string | null;
  keysDone: number;
  rowsCopied: number;
  rowsSkipped: number;
  chunksDone: number;
  estimatedRows: number;
  error: string | null;
  created: number;
}

export interface BackfillState {
  plans: Map<string, { chunks: number; tables: number; estimatedRows: number }>;
  chunks: Map<string, Map<number, ModelChunk>>;
  requests: Map<string, ModelRequest>;
}

type Change = (s: BackfillState) => number;

function clone(s: BackfillState): BackfillState {
  return {
    plans: new Map([...s.plans].map(([k, v]) => [k, { ...v }])),
    chunks: new Map([...s.chunks].map(([k, v]) => [k, new Map([...v].map(([n, c]) => [n, { ...c }]))])),
    requests: new Map([...s.requests].map(([k, v]) => [k, { ...v }])),
  };
}

const ALIVE = new Set(['pending', 'running']);

export class RecordingBackfillTables implements RecordingStatementModel {
  committed: BackfillState = { plans: new Map(), chunks: new Map(), requests: new Map() };
  private readonly pending = new Map<number, Change[]>();
  private created = 0;

  constructor(readonly sql: OracleBackfillSql = new OracleBackfillSql()) {}

  /** What a connection sees: the committed state with its own changes on top. */
  private view(connection: number): BackfillState {
    const s = clone(this.committed);
    for (const c of this.pending.get(connection) ?? []) c(s);
    return s;
  }

  private change(connection: number, c: Change): number {
    const n = c(this.view(connection));
    const list = this.pending.get(connection) ?? [];
    list.push(c);
    this.pending.set(connection, list);
    return n;
  }

  end(connection: number, commit: boolean): void {
    const list = this.pending.get(connection) ?? [];
    this.pending.delete(connection);
    if (commit) for (const c of list) c(this.committed);
  }

  executeMany(connection: number, sql: string, binds: unknown[][]): number[] | undefined {
    if (sql !== this.sql.insertChunk()) return undefined;
    this.change(connection, (s) => {
      for (const b of binds) {
        const id = String(b[0]);
        const m = s.chunks.get(id) ?? new Map<number, ModelChunk>();
        s.chunks.set(id, m);
        if (m.has(Number(b[1]))) throw new Error('ORA-00001: unique constraint violated (chunk)');
        m.set(Number(b[1]), {
          schema: String(b[2]),
          table: String(b[3]),
          after: b[4] === null ? null : String(b[4]),
          upTo: b[5] === null ? null : String(b[5]),
          status: 'pending',
          rowsCopied: 0,
          copies: 0,
        });
      }
      return binds.length;
    });
    return binds.map(() => 1);
  }

  execute(
    connection: number,
    sql: string,
    b: unknown[],
  ): { rows?: unknown[][]; rowsAffected?: number } | undefined {
    const q = this.sql;
    if (q.create().includes(sql)) return {};
    const chunksOf = (s: BackfillState) => s.chunks.get(String(b[0])) ?? new Map<number, ModelChunk>();
    const requestRow = (r: ModelRequest) => [
      r.requestId,
      r.backfillId,
      r.schema,
      r.table,
      r.where,
      r.keys,
      r.chunkSize,
      r.maxRowsPerSecond,
      r.status,
      r.lastKey,
      r.keysDone,
      r.rowsCopied,
      r.rowsSkipped,
      r.chunksDone,
      r.estimatedRows,
      r.error,
    ];
    switch (sql) {
      case q.readPlan(): {
        const p = this.view(connection).plans.get(String(b[0]));
        return { rows: p ? [[p.chunks, p.tables, p.estimatedRows]] : [] };
      }
      case q.deleteChunks():
        return {
          rowsAffected: this.change(connection, (s) => {
            const n = chunksOf(s).size;
            s.chunks.delete(String(b[0]));
            return n;
          }),
        };
      case q.insertPlan():
        return {
          rowsAffected: this.change(connection, (s) => {
            s.plans.set(String(b[0]), {
              chunks: Number(b[2]),
              tables: Number(b[3]),
              estimatedRows: Number(b[4]),
            });
            return 1;
          }),
        };
      case q.readChunk(false):
      case q.readChunk(true): {
        const c = chunksOf(this.view(connection)).get(Number(b[1]));
        return {
          rows: c
            ? [[Number(b[1]), c.schema, c.table, c.after, c.upTo, c.status, c.rowsCopied, c.copies]]
            : [],
        };
      }
      case q.markChunkDone():
        return {
          rowsAffected: this.change(connection, (s) => {
            const c = s.chunks.get(String(b[1]))?.get(Number(b[2]));
            if (c?.status !== 'pending') return 0;
            Object.assign(c, { status: 'done', rowsCopied: Number(b[0]), copies: c.copies + 1 });
            return 1;
          }),
        };
      case q.pendingChunks():
        return {
          rows: [...chunksOf(this.view(connection))]
            .filter(([, c]) => c.status === 'pending')
            .map(([n]) => [n])
            .sort((x, y) => Number(x[0]) - Number(y[0])),
        };
      case q.chunkRanges(): {
        const ranges = new Map<string, [string, string, number, number]>();
        for (const [n, c] of chunksOf(this.view(connection))) {
          const k = `${c.schema}.${c.table}`;
          const r = ranges.get(k) ?? [c.schema, c.table, n, n];
          ranges.set(k, [c.schema, c.table, Math.min(r[2], n), Math.max(r[3], n)]);
        }
        return { rows: [...ranges.values()].sort((x, y) => x[2] - y[2]) };
      }
      case q.insertRequest():
        return {
          rowsAffected: this.change(connection, (s) => {
            if (s.requests.has(String(b[0]))) throw oracleError('ORA-00001', 'unique constraint violated');
            s.requests.set(String(b[0]), {
              requestId: String(b[0]),
              backfillId: String(b[1]),
              pipeline: String(b[2]),
              seq: Number(b[3]),
              schema: String(b[4]),
              table: String(b[5]),
              where: b[6] === null ? null : String(b[6]),
              keys: b[7] === null ? null : String(b[7]),
              chunkSize: Number(b[8]),
              maxRowsPerSecond: b[9] === null ? null : Number(b[9]),
              status: 'pending',
              lastKey: null,
              keysDone: 0,
              rowsCopied: 0,
              rowsSkipped: 0,
              chunksDone: 0,
              estimatedRows: Number(b[10]),
              error: null,
              created: this.created++,
            });
            return 1;
          }),
        };
      case q.nextRequest(): {
        const next = [...this.view(connection).requests.values()]
          .filter((r) => r.pipeline === String(b[0]) && ALIVE.has(r.status))
          .sort((x, y) => x.created - y.created || x.seq - y.seq)[0];
        return { rows: next ? [requestRow(next)] : [] };
      }
      case q.requestsOf():
        return {
          rows: [...this.view(connection).requests.values()]
            .filter((r) => r.backfillId === String(b[0]))
            .sort((x, y) => x.seq - y.seq)
            .map(requestRow),
        };
      case q.recordChunk():
        return {
          rowsAffected: this.change(connection, (s) => {
            const r = s.requests.get(String(b[5]));
            if (!r || !ALIVE.has(r.status)) return 0;
            if (b[0] !== null) r.lastKey = String(b[0]);
            r.keysDone = Number(b[1]);
            r.rowsCopied += Number(b[2]);
            r.rowsSkipped += Number(b[3]);
            r.chunksDone++;
            r.status = String(b[4]);
            return 1;
          }),
        };
      case q.failRequest():
        return {
          rowsAffected: this.change(connection, (s) => {
            const r = s.requests.get(String(b[1]));
            if (!r || !ALIVE.has(r.status)) return 0;
            Object.assign(r, { status: 'failed', error: String(b[0]) });
            return 1;
          }),
        };
      case q.cancelRequests():
        return {
          rowsAffected: this.change(connection, (s) => {
            let n = 0;
            for (const r of s.requests.values())
              if (r.backfillId === String(b[0]) && ALIVE.has(r.status)) {
                r.status = 'cancelled';
                n++;
              }
            return n;
          }),
        };
      default:
        return undefined;
    }
  }
}
