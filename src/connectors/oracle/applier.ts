import {
  type ApplyPlan,
  type ApplyStats,
  emptyStats,
  type TableRef,
  type TargetTableInfo,
  tableKey,
} from '../../pipeline/model';
import {
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
import type { OracleConnectionLike } from './connection';
import { type OracleChunk, OracleDialect, type OracleDialectOptions, type OracleTableInfo } from './dialect';
import { OracleTableInfoCache } from './table-info';
import { ValueTally } from './values';

export type { OracleConnectionLike } from './connection';

export interface OracleApplierOptions extends OracleDialectOptions {
  session?: SessionOptions;
  tableInfo?: TableInfoSource;
}

/** ORA- codes after which retrying the transaction can succeed: deadlock, resource busy, lock wait timeout. */
const RETRYABLE_ORA = new Set(['ORA-00060', 'ORA-00054', 'ORA-30006']);

export function isRetryableOracleError(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' && RETRYABLE_ORA.has(code);
}

function asRetryable(err: unknown): unknown {
  if (!isRetryableOracleError(err)) return err;
  const e = err as { code: string; message?: string };
  return new RetryableTargetError(
    `${e.code} while applying (roll back and retry the batch): ${e.message ?? ''}`,
    e.code,
    {
      cause: err,
    },
  );
}

/** An apply's result plus the values Oracle forced to change ('' stored as NULL), per column. */
export interface OracleApplyResult extends ApplyResult {
  tally: ValueTally;
}

/** One row of an executeMany that Oracle rejected (batchErrors). */
export class OracleBatchRowError extends Error {
  constructor(
    readonly failure: RowFailure,
    options?: { cause?: unknown },
  ) {
    super(
      `${failure.op} on ${failure.table} failed for key ${JSON.stringify(failure.key)}: ${failure.message}`,
      options,
    );
    this.name = 'OracleBatchRowError';
  }
}

/**
 * Applies plans to an Oracle target with `executeMany` (thin mode), inside a transaction the
 * caller owns (oracledb starts one implicitly with the first DML; the caller commits after writing
 * its checkpoint). Per table: deletes, then upserts. Every executeMany runs with `dmlRowCounts`
 * (which rows found nothing → missing) and `batchErrors` (a rejected row is named by its key).
 */
export class OracleApplier implements TargetApplier {
  private readonly dialect: OracleDialect;
  private readonly tableInfo: TableInfoSource;

  constructor(
    private readonly conn: Pick<OracleConnectionLike, 'execute' | 'executeMany'>,
    private readonly options: OracleApplierOptions = {},
  ) {
    this.dialect = new OracleDialect(options);
    this.tableInfo = options.tableInfo ?? new OracleTableInfoCache(conn, this.dialect.identifierCase);
  }

  get tables(): TableInfoSource {
    return this.tableInfo;
  }

  /** `"SCHEMA"."TABLE"` as this applier spells target names. */
  quoteTable(ref: TableRef): string {
    return this.dialect.quoteTable(ref);
  }

  /** Session setup; run it once per connection (and `SET CONSTRAINTS` again per transaction, which apply does). */
  async prepareSession(): Promise<void> {
    for (const s of this.dialect.sessionSetup(this.options.session)) await this.conn.execute(s.sql, s.params);
  }

  async apply(plan: ApplyPlan): Promise<OracleApplyResult> {
    const stats = emptyStats();
    const missing: MissingRow[] = [];
    const tally = new ValueTally();
    try {
      await this.deferConstraints();
      for (const tp of plan.tables) {
        if (tp.deletes.length === 0 && tp.upserts.length === 0) continue;
        const info = (await this.tableInfo.get(tp.target)) as OracleTableInfo;
        await this.applyDeletes(info, tp.deletes, stats, missing, tally);
        await this.applyUpserts(info, tp.upserts, stats, missing, tally);
      }
    } catch (err) {
      throw asRetryable(err);
    }
    return { stats, missing, tally };
  }

  async applyRowByRow(
    plan: ApplyPlan,
    options: { skipFailures?: boolean } = {},
  ): Promise<RowByRowResult & { tally: ValueTally }> {
    const tally = new ValueTally();
    const stats = emptyStats();
    const missing: MissingRow[] = [];
    const failures: RowFailure[] = [];
    await this.deferConstraints();
    for (const tp of plan.tables) {
      if (tp.deletes.length === 0 && tp.upserts.length === 0) continue;
      const info = (await this.tableInfo.get(tp.target)) as OracleTableInfo;
      for (const op of [...tp.deletes, ...tp.upserts] as Array<DeleteOp | UpsertOp>) {
        try {
          if (op.kind === 'delete') await this.applyDeletes(info, [op], stats, missing, tally);
          else await this.applyUpserts(info, [op], stats, missing, tally);
        } catch (err) {
          if (isRetryableOracleError(err)) throw asRetryable(err);
          const failure =
            err instanceof OracleBatchRowError
              ? err.failure
              : {
                  table: tableKey(info.ref),
                  op: op.kind,
                  key: describeKey(info.keyColumns, op.key),
                  message: (err as Error).message,
                  code: (err as { code?: string }).code,
                };
          if (!options.skipFailures) throw new RowApplyError(failure);
          failures.push(failure);
        }
      }
    }
    return { stats, missing, failures, tally };
  }

  private async deferConstraints() {
    if (!this.options.session?.foreignKeyChecks)
      await this.conn.execute(this.dialect.deferConstraintsStatement().sql);
  }

  private async applyDeletes(
    info: OracleTableInfo,
    deletes: DeleteOp[],
    stats: ApplyStats,
    missing: MissingRow[],
    tally: ValueTally,
  ) {
    for (const chunk of this.dialect.deleteStatements(info, deletes)) {
      const counts = await this.run(info, chunk, tally);
      const gone = chunk.ops.filter((_, i) => (counts[i] ?? 0) === 0);
      stats.deleted += chunk.ops.length - gone.length;
      // A row created earlier in the same batch (insert then delete) was never here: not worth reporting.
      noteMissing(
        info,
        'delete',
        gone.filter((op) => op.expectExisting !== false),
        stats,
        missing,
      );
    }
  }

  private async applyUpserts(
    info: OracleTableInfo,
    upserts: UpsertOp[],
    stats: ApplyStats,
    missing: MissingRow[],
    tally: ValueTally,
  ) {
    const missingUpdates: UpsertOp[] = [];
    for (const chunk of this.dialect.upsertStatements(info, upserts)) {
      const counts = await this.run(info, chunk, tally);
      if (chunk.kind === 'update' || chunk.kind === 'deleteBeforeImage')
        chunk.ops.forEach((op, i) => {
          if ((counts[i] ?? 0) === 0) missingUpdates.push(op);
        });
    }
    // Keyed UPDATEs that found no row: insert the whole row (FIELD mode included), and report it.
    const toInsert = info.keyKind === 'fullRow' ? [] : missingUpdates;
    for (const chunk of this.dialect.insertStatements(info, toInsert)) await this.run(info, chunk, tally);
    noteMissing(info, 'update', missingUpdates, stats, missing);
    const missingSet = new Set(missingUpdates);
    for (const op of upserts) {
      if (op.expectExisting && !missingSet.has(op)) stats.updated++;
      else stats.inserted++;
    }
  }

  /** Runs one executeMany; returns per-row counts; a rejected row throws with its key. */
  private async run<Op extends DeleteOp | UpsertOp>(
    info: TargetTableInfo,
    chunk: OracleChunk<Op>,
    tally: ValueTally,
  ): Promise<number[]> {
    const s = chunk.statement;
    const result = await this.conn.executeMany(s.sql, s.binds, {
      bindDefs: s.bindDefs,
      batchErrors: true,
      dmlRowCounts: true,
      autoCommit: false,
    });
    const first = result.batchErrors?.[0];
    if (first) {
      const op = chunk.ops[first.offset ?? 0];
      const code = (first as { code?: string }).code;
      if (RETRYABLE_ORA.has(code ?? '')) throw first;
      throw new OracleBatchRowError(
        {
          table: tableKey(info.ref),
          op: op?.kind ?? 'upsert',
          key: op ? describeKey(info.keyColumns, op.key) : {},
          message: first.message,
          code,
        },
        { cause: first },
      );
    }
    const counts = result.dmlRowCounts ?? [];
    // Only values that were stored count: an UPDATE's rows that found nothing (inserted later, and
    // counted there) and the key values in a DELETE's WHERE store nothing.
    if (chunk.kind === 'update') chunk.tally.onlyRows((i) => (counts[i] ?? 0) > 0).addTo(tally);
    else if (chunk.kind === 'merge' || chunk.kind === 'insert') chunk.tally.addTo(tally);
    return counts;
  }
}

function noteMissing(
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
