import { OracleVerificationSql } from '../../src/connectors/oracle/verification/report-sql';
import { oracleError, type RecordingStatementModel } from './recording-oracle';

/**
 * The verification report tables of a recording Oracle database, recognised by the exact statements
 * of {@link OracleVerificationSql}: committed state plus each connection's uncommitted changes,
 * replayed over the committed state when it reads, published at its COMMIT, dropped at ROLLBACK or
 * close. Times are the worker's clock in ISO form (what `TO_CHAR(…)` gives back). Row locks, CHECK
 * constraints and CLOB sizes are not modelled.
 */

interface Verification {
  pipeline: string;
  state: string;
  request: string | null;
  error: string | null;
  repair: string | null;
  startedAt: string;
  updatedAt: string;
  finishedAt: string | null;
}

interface Chunk {
  schema: string;
  table: string;
  sources: string;
  keyColumns: string;
  after: string | null;
  upTo: string | null;
  status: 'pending' | 'done';
  rowsSource: number;
  rowsTarget: number;
  unsettled: number;
}

interface DifferenceRow {
  schema: string;
  table: string;
  key: string;
  kind: string;
  columns: string | null;
  repair: string | null;
}

export interface VerificationState {
  verifications: Map<string, Verification>;
  /** By verification id, then chunk no. */
  chunks: Map<string, Map<number, Chunk>>;
  /** By verification id, then `chunkNo/seq`. */
  differences: Map<string, Map<string, DifferenceRow & { chunkNo: number; seq: number }>>;
}

type Change = (s: VerificationState) => number;

function clone(s: VerificationState): VerificationState {
  const deep = <V>(m: Map<string, Map<V, object>>) =>
    new Map([...m].map(([k, v]) => [k, new Map([...v].map(([n, c]) => [n, { ...c }]))]));
  return {
    verifications: new Map([...s.verifications].map(([k, v]) => [k, { ...v }])),
    chunks: deep(s.chunks) as VerificationState['chunks'],
    differences: deep(s.differences) as VerificationState['differences'],
  };
}

const str = (v: unknown): string | null => (v === null || v === undefined ? null : String(v));
const now = () => new Date().toISOString().replace('Z', '000Z');

export class RecordingVerificationTables implements RecordingStatementModel {
  committed: VerificationState = { verifications: new Map(), chunks: new Map(), differences: new Map() };
  private readonly pending = new Map<number, Change[]>();

  constructor(readonly sql: OracleVerificationSql = new OracleVerificationSql()) {}

  private view(connection: number): VerificationState {
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
    const q = this.sql;
    if (sql === q.insertChunk()) {
      this.change(connection, (s) => {
        for (const b of binds) {
          const m = s.chunks.get(String(b[0])) ?? new Map<number, Chunk>();
          s.chunks.set(String(b[0]), m);
          if (m.has(Number(b[1]))) throw oracleError('ORA-00001', 'unique constraint violated (chunk)');
          m.set(Number(b[1]), {
            schema: String(b[2]),
            table: String(b[3]),
            sources: String(b[4]),
            keyColumns: String(b[5]),
            after: str(b[6]),
            upTo: str(b[7]),
            status: 'pending',
            rowsSource: 0,
            rowsTarget: 0,
            unsettled: 0,
          });
        }
        return binds.length;
      });
      return binds.map(() => 1);
    }
    if (sql === q.insertDifference()) {
      this.change(connection, (s) => {
        for (const b of binds) {
          const m = s.differences.get(String(b[0])) ?? new Map();
          s.differences.set(String(b[0]), m);
          const k = `${Number(b[1])}/${Number(b[2])}`;
          if (m.has(k)) throw oracleError('ORA-00001', 'unique constraint violated (difference)');
          m.set(k, {
            chunkNo: Number(b[1]),
            seq: Number(b[2]),
            schema: String(b[3]),
            table: String(b[4]),
            key: String(b[5]),
            kind: String(b[6]),
            columns: str(b[7]),
            repair: null,
          });
        }
        return binds.length;
      });
      return binds.map(() => 1);
    }
    if (sql === q.markRepair()) {
      const counts: number[] = [];
      this.change(connection, (s) => {
        counts.length = 0;
        for (const b of binds) {
          const d = s.differences.get(String(b[1]))?.get(`${Number(b[2])}/${Number(b[3])}`);
          if (d) d.repair = String(b[0]);
          counts.push(d ? 1 : 0);
        }
        return counts.reduce((a, n) => a + n, 0);
      });
      return counts;
    }
    return undefined;
  }

  execute(
    connection: number,
    sql: string,
    b: unknown[],
  ): { rows?: unknown[][]; rowsAffected?: number } | undefined {
    const q = this.sql;
    if (q.create().includes(sql)) return {};
    const id = String(b[0]);
    const verification = (s: VerificationState, key: unknown, f: (v: Verification) => void) => {
      const v = s.verifications.get(String(key));
      if (!v) return 0;
      f(v);
      v.updatedAt = now();
      return 1;
    };
    const chunksOf = (s: VerificationState) => s.chunks.get(id) ?? new Map<number, Chunk>();
    const differencesOf = (s: VerificationState) => [...(s.differences.get(id) ?? new Map()).values()];
    switch (sql) {
      case q.insertVerification():
        return {
          rowsAffected: this.change(connection, (s) => {
            if (s.verifications.has(id)) throw oracleError('ORA-00001', 'unique constraint violated');
            const at = now();
            s.verifications.set(id, {
              pipeline: String(b[1]),
              state: 'planning',
              request: str(b[2]),
              error: null,
              repair: null,
              startedAt: at,
              updatedAt: at,
              finishedAt: null,
            });
            return 1;
          }),
        };
      case q.setState():
        return {
          rowsAffected: this.change(connection, (s) =>
            verification(s, b[1], (v) => (v.state = String(b[0]))),
          ),
        };
      case q.resume():
        return {
          rowsAffected: this.change(connection, (s) =>
            verification(s, b[0], (v) =>
              Object.assign(v, { state: 'comparing', error: null, finishedAt: null }),
            ),
          ),
        };
      case q.finish():
        return {
          rowsAffected: this.change(connection, (s) =>
            verification(s, b[2], (v) =>
              Object.assign(v, { state: String(b[0]), error: str(b[1]), finishedAt: now() }),
            ),
          ),
        };
      case q.storeRepair():
        return {
          rowsAffected: this.change(connection, (s) => verification(s, b[1], (v) => (v.repair = str(b[0])))),
        };
      case q.readRequest(): {
        const v = this.view(connection).verifications.get(id);
        return { rows: v ? [[v.request]] : [] };
      }
      case q.readHead(): {
        const v = this.view(connection).verifications.get(id);
        return {
          rows: v ? [[v.pipeline, v.state, v.error, v.repair, v.startedAt, v.updatedAt, v.finishedAt]] : [],
        };
      }
      case q.hasPlan():
        return { rows: chunksOf(this.view(connection)).size ? [[1]] : [] };
      case q.readChunk(): {
        const c = chunksOf(this.view(connection)).get(Number(b[1]));
        return {
          rows: c
            ? [[Number(b[1]), c.schema, c.table, c.sources, c.keyColumns, c.after, c.upTo, c.status]]
            : [],
        };
      }
      case q.chunkStatuses():
        return {
          rows: [...chunksOf(this.view(connection))]
            .sort((x, y) => x[0] - y[0])
            .map(([n, c]) => [n, c.status]),
        };
      case q.markChunkDone():
        return {
          rowsAffected: this.change(connection, (s) => {
            const c = s.chunks.get(String(b[3]))?.get(Number(b[4]));
            if (!c) return 0;
            Object.assign(c, {
              status: 'done',
              rowsSource: Number(b[0]),
              rowsTarget: Number(b[1]),
              unsettled: Number(b[2]),
            });
            return 1;
          }),
        };
      case q.tableTotals(): {
        const totals = new Map<string, [string, string, number, number, number, number, number, number]>();
        for (const [n, c] of chunksOf(this.view(connection))) {
          const k = `${c.schema}.${c.table}`;
          const t = totals.get(k) ?? [c.schema, c.table, 0, 0, 0, 0, 0, n];
          totals.set(k, [
            c.schema,
            c.table,
            t[2] + 1,
            t[3] + (c.status === 'done' ? 1 : 0),
            t[4] + c.rowsSource,
            t[5] + c.rowsTarget,
            t[6] + c.unsettled,
            Math.min(t[7], n),
          ]);
        }
        return {
          rows: [...totals.values()].sort((x, y) => `${x[0]}.${x[1]}`.localeCompare(`${y[0]}.${y[1]}`)),
        };
      }
      case q.deleteDifferences():
        return {
          rowsAffected: this.change(connection, (s) => {
            const m = s.differences.get(id);
            if (!m) return 0;
            let n = 0;
            for (const [k, d] of m)
              if (d.chunkNo === Number(b[1])) {
                m.delete(k);
                n++;
              }
            return n;
          }),
        };
      case q.countDifferences():
        return { rows: [[differencesOf(this.view(connection)).length]] };
      case q.differencesPage(): {
        const s = this.view(connection);
        const rows = differencesOf(s)
          .sort((x, y) => x.chunkNo - y.chunkNo || x.seq - y.seq)
          .slice(Number(b[1]), Number(b[1]) + Number(b[2]))
          .map((d) => [
            d.chunkNo,
            d.seq,
            d.schema,
            d.table,
            d.key,
            d.kind,
            d.columns,
            d.repair,
            chunksOf(s).get(d.chunkNo)?.keyColumns ?? null,
          ]);
        return { rows };
      }
      case q.kindCounts(): {
        const counts = new Map<string, [string, string, string, number]>();
        for (const d of differencesOf(this.view(connection))) {
          const k = `${d.schema}.${d.table}.${d.kind}`;
          const c = counts.get(k) ?? [d.schema, d.table, d.kind, 0];
          counts.set(k, [c[0], c[1], c[2], c[3] + 1]);
        }
        return { rows: [...counts.values()] };
      }
      default:
        return undefined;
    }
  }
}
