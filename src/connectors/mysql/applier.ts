import type mysql from 'mysql2/promise';
import type { CellValue } from '../../binlog/types';
import {
  type ApplyPlan,
  type ApplyStats,
  emptyStats,
  type TablePlan,
  type TargetTableInfo,
  tableKey,
} from '../../pipeline/model';
import {
  type ApplyContext,
  type ApplyResult,
  type DeleteOp,
  describeKey,
  MAX_MISSING_SAMPLES,
  type MissingRow,
  RetryableTargetError,
  RowApplyError,
  type RowByRowResult,
  type RowFailure,
  type SessionOptions,
  type TableInfoSource,
  type TargetApplier,
  type UpsertOp,
} from '../dialect';
import { type MysqlChunk, MysqlDialect, type MysqlDialectOptions, type MysqlTableInfo } from './dialect';
import {
  executeRaw,
  type PipelinedOutcome,
  type PipelinedStatement,
  runPipelined,
} from './statement-pipeline';
import { rawExecuteSupport, rawPacketsSupported, statementIdOf } from './stmt-execute';
import { MysqlTableInfoCache } from './table-info';

/**
 * How statements travel:
 * - `query`: mysql2 formats values into the SQL text on the client (one round trip per statement).
 * - `execute`: server-side prepared statements (prepare once per distinct SQL text, then execute),
 *   for every statement; chunk sizes vary, so a long run accumulates many distinct statements.
 * - `prepared`: multi-row statements are cut into fixed row counts (MysqlDialectOptions.fixedChunkSizes)
 *   and those run as prepared statements (binary protocol: no values in SQL text for the server to
 *   parse), at most `maxPreparedStatements` kept per connection; the rest goes through `query`.
 * All store bigint, Buffer and string values exactly (tested).
 */
export type MysqlProtocol = 'query' | 'execute' | 'prepared';

/** Prepared statements an applier keeps open with protocol `prepared` (the server allows 16,382 in all). */
export const DEFAULT_MAX_PREPARED_STATEMENTS = 128;

export interface MysqlApplierOptions extends MysqlDialectOptions {
  protocol?: MysqlProtocol;
  /** Protocol `prepared`: the least recently used statement is closed beyond this many. */
  maxPreparedStatements?: number;
  /**
   * Protocol `prepared`: write COM_STMT_EXECUTE packets ourselves (src/connectors/mysql/stmt-execute.ts,
   * byte-identical to mysql2's) instead of through mysql2's per-value parameter objects. Default true;
   * false is for A/B measurements.
   */
  rawExecute?: boolean;
  /**
   * Protocol `prepared` with `rawExecute`, in a transaction: send a table's statements back to back
   * (src/connectors/mysql/statement-pipeline.ts) instead of waiting for each answer. Default true.
   */
  pipelining?: boolean;
  session?: SessionOptions;
  /** Where table info comes from; defaults to a cache over the applier's own connection. */
  tableInfo?: TableInfoSource;
}

/**
 * A chunk of the pipelined path and how its affected-rows count is read: for `deleteChecked` and
 * `update` a count short of the chunk's rows means missing target rows.
 */
type PipelineStep =
  | { role: 'delete' | 'deleteChecked'; chunk: MysqlChunk<DeleteOp> }
  | { role: 'update' | 'insert'; chunk: MysqlChunk<UpsertOp> };

/**
 * Deletes of rows created earlier in the same batch (insert then delete: never on the target, so an
 * absent row is not reported), and the rest.
 */
function splitDeletes(deletes: DeleteOp[]): { unexpected: DeleteOp[]; expected: DeleteOp[] } {
  const unexpected = deletes.filter((op) => op.expectExisting === false);
  const expected = unexpected.length ? deletes.filter((op) => op.expectExisting !== false) : deletes;
  return { unexpected, expected };
}

/** UPDATEs (the target should have the row) apart from INSERTs: their counts are read differently. */
function splitUpserts(upserts: UpsertOp[]): { updates: UpsertOp[]; inserts: UpsertOp[] } {
  const updates = upserts.filter((op) => op.expectExisting);
  const inserts = updates.length ? upserts.filter((op) => !op.expectExisting) : upserts;
  return { updates, inserts };
}

/** Answers "is the connection in a transaction?" once per apply (a savepoint probe costs two round trips). */
type InTransaction = () => Promise<boolean>;

/** The caller opened the transaction (ApplyContext.inTransaction): no probe. */
const inTransactionKnown: InTransaction = () => Promise.resolve(true);

/** Savepoint names cycle through this many (a pipelined segment never holds two of one name). */
const SAVEPOINT_NAMES = 64;

function savepointName(step: number): string {
  return `otterflow_s${step % SAVEPOINT_NAMES}`;
}

interface OpenStatement {
  stmt: mysql.PreparedStatementInfo;
  /** Executed through our own packet writer (see MysqlApplierOptions.rawExecute). */
  raw: boolean;
}

/** MySQL/MariaDB errors after which retrying the whole transaction can succeed. */
const RETRYABLE_ERRNOS = new Map<number, string>([
  [1213, 'ER_LOCK_DEADLOCK'],
  [1205, 'ER_LOCK_WAIT_TIMEOUT'],
]);

/** Deadlock and lock wait timeout: the caller rolls back and retries the batch. */
export function isRetryableMysqlError(err: unknown): boolean {
  return (
    typeof err === 'object' &&
    err !== null &&
    RETRYABLE_ERRNOS.has(Number((err as { errno?: unknown }).errno))
  );
}

function asRetryable(err: unknown): unknown {
  if (!isRetryableMysqlError(err)) return err;
  const e = err as { errno: number; message?: string };
  const code = RETRYABLE_ERRNOS.get(e.errno)!;
  return new RetryableTargetError(
    `${code} while applying (roll back and retry the batch): ${e.message ?? ''}`,
    code,
    { cause: err },
  );
}

/**
 * Applies plans to a MySQL/MariaDB target through one mysql2 connection that the caller has put in
 * a transaction. Typical use, once per connection:
 *
 *   const applier = new MysqlApplier(conn);
 *   await applier.prepareSession();          // time_zone, sql_mode, foreign_key_checks
 *   await conn.beginTransaction();
 *   const { stats, missing } = await applier.apply(plan);
 *   ... write the checkpoint on conn ...
 *   await conn.commit();
 *
 * The connection should return DECIMAL/BIGINT as strings (openMysql does); the applier reads only counts.
 */
export class MysqlApplier implements TargetApplier {
  private dialect: MysqlDialect;
  private readonly tableInfo: TableInfoSource;
  private readonly protocol: MysqlProtocol;
  private sessionReady = false;
  /** Protocol `prepared`: open statements by SQL text, least recently used first. */
  private readonly statements = new Map<string, OpenStatement>();
  private readonly maxPrepared: number;
  private readonly rawExecute: boolean;
  private readonly pipelining: boolean;
  private pipelinedRuns = 0;
  /** Statements built by prebuild(), by the table plan they belong to (taken by apply). */
  private readonly prebuilt = new WeakMap<TablePlan, { info: MysqlTableInfo; steps: PipelineStep[] }>();
  private prebuiltUsed = 0;

  constructor(
    private readonly conn: mysql.Connection,
    private readonly options: MysqlApplierOptions = {},
  ) {
    this.protocol = options.protocol ?? 'prepared';
    this.dialect = new MysqlDialect({
      ...options,
      fixedChunkSizes: options.fixedChunkSizes ?? this.protocol === 'prepared',
    });
    this.tableInfo = options.tableInfo ?? new MysqlTableInfoCache(conn);
    this.maxPrepared = Math.max(1, options.maxPreparedStatements ?? DEFAULT_MAX_PREPARED_STATEMENTS);
    this.rawExecute = options.rawExecute ?? process.env.OTTERFLOW_RAW_EXECUTE !== '0';
    this.pipelining = options.pipelining ?? process.env.OTTERFLOW_PIPELINING !== '0';
  }

  /** The table info source in use: call `invalidate(table)` on it after DDL. */
  get tables(): TableInfoSource {
    return this.tableInfo;
  }

  /**
   * Runs the session setup and adapts the dialect to the server: statements stay below half its
   * max_allowed_packet, and MySQL 8.0.20+ gets the row-alias upsert syntax unless one was chosen.
   * `apply` calls it on first use; call it yourself to run it before the first transaction.
   */
  async prepareSession(): Promise<void> {
    for (const s of this.dialect.sessionSetup(this.options.session)) await this.conn.query(s.sql, s.params);
    const [rows] = await this.conn.query<mysql.RowDataPacket[]>(
      'SELECT @@max_allowed_packet AS packet, @@version AS version',
    );
    const packet = Number(rows[0]?.packet ?? 4 * 1024 * 1024);
    const version = String(rows[0]?.version ?? '');
    const flavor = /mariadb/i.test(version) ? 'mariadb' : 'mysql';
    const upsertSyntax =
      this.options.upsertSyntax ?? (flavor === 'mysql' && atLeast(version, 8, 0, 20) ? 'alias' : 'values');
    this.dialect = this.dialect.withOptions({
      flavor: this.options.flavor ?? flavor,
      upsertSyntax,
      maxStatementBytes: Math.min(this.dialect.options.maxStatementBytes, Math.floor(packet / 2)),
    });
    this.sessionReady = true;
  }

  async apply(plan: ApplyPlan, context: ApplyContext = {}): Promise<ApplyResult> {
    if (!this.sessionReady) await this.prepareSession();
    const stats = emptyStats();
    const missing: MissingRow[] = [];
    const inTx = context.inTransaction ? inTransactionKnown : this.inTransactionOnce();
    try {
      // Pipelining needs our packet writer, and savepoints (a transaction) to undo a chunk that found
      // a missing row; autocommit use keeps the one-statement-at-a-time path.
      const pipelined =
        this.pipelining &&
        this.protocol === 'prepared' &&
        this.rawExecute &&
        rawPacketsSupported(this.conn) &&
        (await inTx());
      for (const tp of plan.tables) {
        if (tp.deletes.length === 0 && tp.upserts.length === 0) continue;
        const info = (await this.tableInfo.get(tp.target)) as MysqlTableInfo;
        if (pipelined && info.keyKind !== 'fullRow') {
          await this.applyTablePipelined(info, tp, stats, missing);
          continue;
        }
        await this.applyDeletes(info, tp.deletes, stats, missing);
        await this.applyUpserts(info, tp.upserts, stats, missing, inTx);
      }
    } catch (err) {
      throw asRetryable(err);
    }
    return { stats, missing };
  }

  async applyRowByRow(plan: ApplyPlan, options: { skipFailures?: boolean } = {}): Promise<RowByRowResult> {
    if (!this.sessionReady) await this.prepareSession();
    const stats = emptyStats();
    const missing: MissingRow[] = [];
    const failures: RowFailure[] = [];
    const inTx = this.inTransactionOnce();
    for (const tp of plan.tables) {
      if (tp.deletes.length === 0 && tp.upserts.length === 0) continue;
      const info = (await this.tableInfo.get(tp.target)) as MysqlTableInfo;
      const ops: Array<DeleteOp | UpsertOp> = [...tp.deletes, ...tp.upserts];
      for (const op of ops) {
        try {
          if (op.kind === 'delete') await this.applyDeletes(info, [op], stats, missing);
          else await this.applyUpserts(info, [op], stats, missing, inTx);
        } catch (err) {
          if (isRetryableMysqlError(err)) throw asRetryable(err);
          const e = err as { message?: string; code?: string };
          const failure: RowFailure = {
            table: tableKey(info.ref),
            op: op.kind,
            key: describeKey(info.keyColumns, op.key),
            message: e.message ?? String(err),
            code: e.code,
          };
          if (!options.skipFailures) throw new RowApplyError(failure);
          failures.push(failure);
        }
      }
    }
    return { stats, missing, failures };
  }

  // ---- pipelined (keyed tables in a transaction) ----

  /**
   * Deletes, then UPDATE upserts, then INSERT upserts of one keyed table, as the sequential path
   * does, but sent back to back (statement-pipeline.ts) instead of one round trip at a time. A chunk
   * whose affected-rows count shows a missing row has its own savepoint in the run; the run is
   * drained, rolled back to that savepoint (undoing the chunk and everything sent after it), the
   * chunk redone the slow way (which keys are missing, reported), and the run resumes after it.
   */
  private async applyTablePipelined(
    info: MysqlTableInfo,
    tp: TablePlan,
    stats: ApplyStats,
    missing: MissingRow[],
  ): Promise<void> {
    const { upserts } = tp;
    const ahead = this.prebuilt.get(tp);
    this.prebuilt.delete(tp);
    // Statements built ahead from other table info (DDL in between) are built again.
    const reuse = ahead !== undefined && ahead.info === info;
    if (reuse) this.prebuiltUsed++;
    const steps = reuse ? ahead.steps : this.pipelineSteps(info, tp);

    const missingUpdates = new Set<UpsertOp>();
    let from = 0;
    while (from < steps.length) {
      const segment = await this.pipelineSegment(steps, from, missing.length < MAX_MISSING_SAMPLES);
      const run = runPipelined(this.conn, segment.statements);
      this.pipelinedRuns++;
      let failure: unknown;
      let redo = -1;
      for (let k = from, i = 0; k < segment.end; k++) {
        const step = steps[k]!;
        const savepoint = segment.savepointAt.has(k);
        if (savepoint) {
          const sp = await run.outcomes[i++];
          if (!sp?.ok) {
            failure = sp ? sp.error : new Error('statement pipeline ended early');
            break;
          }
        }
        const outcome: PipelinedOutcome | undefined = await run.outcomes[i++];
        if (!outcome?.ok) {
          const error = outcome ? outcome.error : new Error('statement pipeline ended early');
          failure = step.chunk.kind === 'upsert' && info.otherUniqueKeys ? explainGuard(info, error) : error;
          break;
        }
        const n = step.chunk.ops.length;
        const affected = outcome.affectedRows;
        if (step.role === 'delete') stats.deleted += affected;
        else if (step.role === 'deleteChecked') {
          if (affected === n) stats.deleted += affected;
          else if (savepoint) {
            redo = k;
            break;
          } else {
            stats.deleted += affected;
            stats.missingOnDelete += n - affected;
          }
        } else if (step.role === 'update' && affected !== 2 * n) {
          redo = k;
          break;
        }
      }
      await run.done;
      if (failure !== undefined) throw failure;
      if (redo < 0) {
        from = segment.end;
        continue;
      }
      // The slow way for one chunk: undo it (and what followed), find the missing keys, run it again.
      const step = steps[redo]!;
      await this.conn.query(`ROLLBACK TO SAVEPOINT ${savepointName(redo)}`);
      if (step.role === 'update') await this.redoUpdateChunk(info, step.chunk, missingUpdates);
      else if (step.role === 'deleteChecked') await this.redoDeleteChunk(info, step.chunk, stats, missing);
      from = redo + 1;
    }
    this.countUpserts(info, upserts, missingUpdates, stats, missing);
  }

  /** Deletes (unexpected, then checked), then UPDATE upserts, then INSERT upserts of one keyed table. */
  private pipelineSteps(info: MysqlTableInfo, tp: TablePlan): PipelineStep[] {
    const steps: PipelineStep[] = [];
    const { unexpected, expected } = splitDeletes(tp.deletes);
    for (const chunk of this.dialect.deleteStatements(info, unexpected))
      steps.push({ chunk, role: 'delete' });
    for (const chunk of this.dialect.deleteStatements(info, expected))
      steps.push({ chunk, role: 'deleteChecked' });
    const { updates, inserts } = splitUpserts(tp.upserts);
    for (const chunk of this.dialect.upsertStatements(info, updates)) steps.push({ chunk, role: 'update' });
    for (const chunk of this.dialect.upsertStatements(info, inserts)) steps.push({ chunk, role: 'insert' });
    return steps;
  }

  /**
   * Builds the pipelined statements of `plan`'s keyed tables now, for a later `apply(plan)` on this
   * applier to start sending at once. A replicator calls it while the previous batch is still being
   * applied on the connection: building 25 000 rows' statements takes ~15 ms of CPU, which then
   * overlaps the target's work instead of leaving the target idle between two batches. Reads table
   * info from the cache (a miss queues a catalog query behind the statements in flight). Does
   * nothing before prepareSession() or when apply() would not pipeline.
   */
  async prebuild(plan: ApplyPlan): Promise<void> {
    if (!this.sessionReady || !this.pipelining || this.protocol !== 'prepared' || !this.rawExecute) return;
    for (const tp of plan.tables) {
      if (tp.deletes.length === 0 && tp.upserts.length === 0) continue;
      const info = (await this.tableInfo.get(tp.target)) as MysqlTableInfo;
      if (info.keyKind === 'fullRow') continue;
      this.prebuilt.set(tp, { info, steps: this.pipelineSteps(info, tp) });
    }
  }

  /**
   * The statements for steps[from…end): each chunk as a prepared execution (or text), a SAVEPOINT in
   * front of every chunk whose count is checked. A segment ends before it would use more distinct
   * prepared statements than stay open (one closed mid-run would fail) or reuse a savepoint name.
   */
  private async pipelineSegment(
    steps: PipelineStep[],
    from: number,
    checkDeletes: boolean,
  ): Promise<{ statements: PipelinedStatement[]; end: number; savepointAt: Set<number> }> {
    const statements: PipelinedStatement[] = [];
    const savepointAt = new Set<number>();
    const used = new Set<string>();
    let end = from;
    for (; end < steps.length; end++) {
      const { chunk, role } = steps[end]!;
      const sql = chunk.statement.sql;
      if (chunk.prepare && !used.has(sql) && used.size >= this.maxPrepared && end > from) break;
      const checked = role === 'update' || (role === 'deleteChecked' && checkDeletes);
      if (checked && savepointAt.size >= SAVEPOINT_NAMES && end > from) break;
      if (checked) {
        savepointAt.add(end);
        statements.push({ sql: `SAVEPOINT ${savepointName(end)}` });
      }
      if (chunk.prepare) {
        used.add(sql);
        const open = await this.prepared(sql);
        if (open.raw) {
          statements.push({
            statementId: statementIdOf(open.stmt),
            params: chunk.statement.params as CellValue[],
          });
          continue;
        }
      }
      statements.push({ sql, params: chunk.statement.params });
    }
    return { statements, end, savepointAt };
  }

  // ---- deletes ----

  private async applyDeletes(
    info: MysqlTableInfo,
    deletes: DeleteOp[],
    stats: ApplyStats,
    missing: MissingRow[],
  ) {
    // Rows created earlier in the same batch (insert then delete) were never on the target: their
    // deletes run (harmless if the row is absent) but an absent row is not reported as missing.
    const { unexpected, expected } = splitDeletes(deletes);
    for (const chunk of this.dialect.deleteStatements(info, unexpected)) {
      stats.deleted += await this.affectedRows(chunk.statement, chunk.prepare);
    }
    for (const chunk of this.dialect.deleteStatements(info, expected)) {
      if (info.keyKind === 'fullRow') {
        // One row per statement (LIMIT 1): 0 affected rows names the missing row exactly.
        const affected = await this.affectedRows(chunk.statement);
        stats.deleted += affected;
        if (affected === 0) this.noteMissing(info, 'delete', chunk.ops, stats, missing);
        continue;
      }
      // A savepoint lets us learn WHICH keys were missing in the rare case that some were: undo
      // the chunk, count key by key (bisecting), delete again.
      const savepoint = missing.length < MAX_MISSING_SAMPLES && (await this.trySavepoint());
      const affected = await this.affectedRows(chunk.statement, chunk.prepare);
      if (affected === chunk.ops.length) {
        stats.deleted += affected;
        continue;
      }
      if (savepoint && (await this.tryRollbackToSavepoint())) {
        await this.redoDeleteChunk(info, chunk, stats, missing);
      } else {
        stats.deleted += affected;
        stats.missingOnDelete += chunk.ops.length - affected;
      }
    }
  }

  // ---- upserts ----

  private async applyUpserts(
    info: MysqlTableInfo,
    upserts: UpsertOp[],
    stats: ApplyStats,
    missing: MissingRow[],
    inTransaction: InTransaction,
  ) {
    if (upserts.length === 0) return;
    const missingUpdates = new Set<UpsertOp>();
    const keyed = info.keyKind !== 'fullRow';
    // UPDATEs and INSERTs go in separate statements, so that an UPDATE statement's affected-rows
    // count alone proves every row existed: ON DUPLICATE KEY UPDATE counts 2 for a changed existing
    // row, 1 for an inserted (missing) one, 0 for an existing row already equal. Only when the count
    // is not 2 per row is the statement undone and the missing keys looked up — no probe query in
    // the common case (it cost 30–40 % of UPDATE-heavy batches).
    const { updates, inserts } = splitUpserts(upserts);
    const inTx = keyed && (await inTransaction());
    if (keyed && !inTx) {
      // Autocommit: a statement cannot be undone, so look the UPDATEs' keys up before writing.
      for (const keys of this.chunkOps(info, updates)) {
        const idx = await this.findMissing(
          info,
          keys.map((op) => op.key),
          null,
        );
        for (const i of idx) missingUpdates.add(keys[i]!);
      }
    }
    const groups = keyed ? [updates, inserts] : [upserts];
    for (const group of groups) {
      for (const chunk of this.dialect.upsertStatements(info, group)) {
        const checkUpdates = inTx && chunk.kind === 'upsert' && chunk.ops[0]?.expectExisting === true;
        if (checkUpdates) await this.conn.query('SAVEPOINT otterflow_apply');
        const affected = await this.runUpsert(info, chunk);
        if (chunk.kind === 'deleteBeforeImage' && affected === 0) missingUpdates.add(chunk.ops[0]!);
        if (!checkUpdates || affected === 2 * chunk.ops.length) continue;
        await this.conn.query('ROLLBACK TO SAVEPOINT otterflow_apply');
        await this.redoUpdateChunk(info, chunk, missingUpdates);
      }
    }
    this.countUpserts(info, upserts, missingUpdates, stats, missing);
  }

  // ---- the slow way, for a chunk that found missing rows (after it was undone to its savepoint) ----

  /** Reports which of the chunk's keys were gone, then deletes again. */
  private async redoDeleteChunk(
    info: MysqlTableInfo,
    chunk: MysqlChunk<DeleteOp>,
    stats: ApplyStats,
    missing: MissingRow[],
  ): Promise<void> {
    const gone = await this.findMissing(
      info,
      chunk.ops.map((op) => op.key),
      null,
    );
    this.noteMissing(
      info,
      'delete',
      gone.map((i) => chunk.ops[i]!),
      stats,
      missing,
    );
    stats.deleted += await this.affectedRows(chunk.statement, chunk.prepare);
  }

  /** Notes which of the chunk's UPDATE rows were missing (they are written as inserts), then writes again. */
  private async redoUpdateChunk(
    info: MysqlTableInfo,
    chunk: MysqlChunk<UpsertOp>,
    missingUpdates: Set<UpsertOp>,
  ): Promise<void> {
    const gone = await this.findMissing(
      info,
      chunk.ops.map((op) => op.key),
      null,
    );
    for (const i of gone) missingUpdates.add(chunk.ops[i]!);
    await this.runUpsert(info, chunk);
  }

  /** Upsert totals once the UPDATEs whose row was missing are known (reported as missing). */
  private countUpserts(
    info: MysqlTableInfo,
    upserts: UpsertOp[],
    missingUpdates: Set<UpsertOp>,
    stats: ApplyStats,
    missing: MissingRow[],
  ): void {
    if (missingUpdates.size > 0) this.noteMissing(info, 'update', [...missingUpdates], stats, missing);
    for (const op of upserts) {
      if (op.expectExisting && !missingUpdates.has(op)) stats.updated++;
      else stats.inserted++;
    }
  }

  /** {@link inTransaction}, asked at most once (the caller's transaction state does not change during an apply). */
  private inTransactionOnce(): InTransaction {
    let answer: Promise<boolean> | undefined;
    return () => {
      answer ??= this.inTransaction();
      return answer;
    };
  }

  /** True inside a transaction: a savepoint survives (in autocommit it vanishes with its statement). */
  private async inTransaction(): Promise<boolean> {
    return (await this.trySavepoint()) && (await this.tryRollbackToSavepoint());
  }

  private async runUpsert(
    info: MysqlTableInfo,
    chunk: { kind: string; statement: { sql: string; params: unknown[] }; prepare?: boolean },
  ): Promise<number> {
    return this.affectedRows(chunk.statement, chunk.prepare).catch((err: unknown) => {
      throw chunk.kind === 'upsert' && info.otherUniqueKeys ? explainGuard(info, err) : err;
    });
  }

  private chunkOps(info: TargetTableInfo, ops: UpsertOp[]): UpsertOp[][] {
    const byKey = new Map(ops.map((op) => [op.key, op]));
    return this.dialect.chunkKeys(info, [...byKey.keys()]).map((keys) => keys.map((k) => byKey.get(k)!));
  }

  /**
   * Indexes of keys that do not exist on the target. One COUNT(*) for the whole chunk in the
   * common case (all present); when some are missing, halves are counted recursively, so m missing
   * keys among n cost about m·log2(n) small queries.
   */
  private async findMissing(
    info: TargetTableInfo,
    keys: CellValue[][],
    knownCount: number | null,
  ): Promise<number[]> {
    if (keys.length === 0) return [];
    const count = knownCount ?? (await this.countExisting(info, keys));
    if (count >= keys.length) return [];
    if (count === 0) return keys.map((_, i) => i);
    const half = Math.ceil(keys.length / 2);
    const left = keys.slice(0, half);
    const leftCount = await this.countExisting(info, left);
    const leftMissing = await this.findMissing(info, left, leftCount);
    const rightMissing = await this.findMissing(info, keys.slice(half), count - leftCount);
    return [...leftMissing, ...rightMissing.map((i) => i + half)];
  }

  private async countExisting(info: TargetTableInfo, keys: CellValue[][]): Promise<number> {
    const s = this.dialect.countExistingStatement(info, keys);
    const [rows] = await this.run(s.sql, s.params);
    return Number((rows as mysql.RowDataPacket[])[0]?.n ?? 0);
  }

  private noteMissing(
    info: TargetTableInfo,
    op: 'update' | 'delete',
    ops: Array<DeleteOp | UpsertOp>,
    stats: ApplyStats,
    missing: MissingRow[],
  ) {
    if (op === 'delete') stats.missingOnDelete += ops.length;
    else stats.missingOnUpdate += ops.length;
    for (const o of ops) {
      if (missing.length >= MAX_MISSING_SAMPLES) break;
      missing.push({ table: tableKey(info.ref), op, key: describeKey(info.keyColumns, o.key) });
    }
  }

  // ---- execution ----

  /** `prepare`: the statement is one of the few fixed-size ones (protocol `prepared` runs it prepared). */
  private async run(sql: string, params: unknown[], prepare = false): Promise<[unknown, unknown]> {
    if (this.protocol === 'execute') return this.conn.execute(sql, params as never[]);
    if (prepare && this.protocol === 'prepared') {
      const open = await this.prepared(sql);
      // Our packet writer (same bytes as mysql2's, without an object per value) when it applies.
      if (open.raw) return [await executeRaw(this.conn, open.stmt, params as CellValue[]), undefined];
      return open.stmt.execute(params);
    }
    return this.conn.query(sql, params);
  }

  /** The open prepared statement for this SQL text, preparing it (and closing the least recently used) if needed. */
  private async prepared(sql: string): Promise<OpenStatement> {
    const open = this.statements.get(sql);
    if (open) {
      this.statements.delete(sql); // re-insert: Map order is the LRU order
      this.statements.set(sql, open);
      return open;
    }
    const stmt = await this.conn.prepare(sql);
    const entry: OpenStatement = { stmt, raw: this.rawExecute && rawExecuteSupport(this.conn, stmt) };
    this.statements.set(sql, entry);
    if (this.statements.size > this.maxPrepared) {
      const oldest = this.statements.keys().next().value as string;
      this.statements.delete(oldest);
      // unprepare, not close(): it also drops mysql2's own cache entry, which would hand the closed
      // statement back to the next prepare of the same text.
      this.conn.unprepare(oldest);
    }
    return entry;
  }

  /** Server-side prepared statements this applier holds open (protocol `prepared`). */
  get preparedStatementCount(): number {
    return this.statements.size;
  }

  /** Runs of pipelined statements sent so far (MysqlApplierOptions.pipelining). */
  get pipelinedRunCount(): number {
    return this.pipelinedRuns;
  }

  /** Tables whose statements apply() took from prebuild() instead of building them itself. */
  get prebuiltTableCount(): number {
    return this.prebuiltUsed;
  }

  /** Of those, the ones executed through our own packet writer (MysqlApplierOptions.rawExecute). */
  get rawPreparedStatementCount(): number {
    let n = 0;
    for (const s of this.statements.values()) if (s.raw) n++;
    return n;
  }

  private async affectedRows(s: { sql: string; params: unknown[] }, prepare = false): Promise<number> {
    const [res] = await this.run(s.sql, s.params, prepare);
    return (res as mysql.ResultSetHeader).affectedRows;
  }

  private async trySavepoint(): Promise<boolean> {
    try {
      await this.conn.query('SAVEPOINT otterflow_apply');
      return true;
    } catch {
      return false;
    }
  }

  /** False outside a transaction (autocommit): the savepoint vanished with the statement's commit. */
  private async tryRollbackToSavepoint(): Promise<boolean> {
    try {
      await this.conn.query('ROLLBACK TO SAVEPOINT otterflow_apply');
      return true;
    } catch {
      return false;
    }
  }
}

/** True when a MySQL version string (`8.0.36`, `8.4.0-log`) is at least major.minor.patch. */
export function atLeast(version: string, major: number, minor: number, patch: number): boolean {
  const m = /^(\d+)\.(\d+)\.(\d+)/.exec(version);
  if (!m) return false;
  const v = [Number(m[1]), Number(m[2]), Number(m[3])];
  const want = [major, minor, patch];
  for (let i = 0; i < 3; i++) if (v[i] !== want[i]) return v[i]! > want[i]!;
  return true;
}

/**
 * The upsert guard (see MysqlDialect.onDuplicateClause) reports a collision on a secondary unique
 * key as "column cannot be null" (1048): say what really happened, keeping the SQL state so the
 * caller still sees a data error.
 */
function explainGuard(info: MysqlTableInfo, err: unknown): unknown {
  const e = err as { errno?: number; sqlState?: string; message?: string };
  if (e?.errno !== 1048) return err;
  const wrapped = new Error(
    `a row for ${tableKey(info.ref)} collides with a DIFFERENT existing row on a secondary UNIQUE key; ` +
      `Otterflow refuses to overwrite it (MySQL would have silently changed that row). Server said: ${e.message}`,
    { cause: err },
  ) as Error & { errno?: number; sqlState?: string; code?: string };
  wrapped.errno = 1062;
  wrapped.sqlState = '23000';
  wrapped.code = 'ER_DUP_ENTRY';
  return wrapped;
}
