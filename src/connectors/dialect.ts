import type { CellValue } from '../binlog/types';
import {
  type ApplyPlan,
  type ApplyStats,
  type MergedOp,
  type TableRef,
  type TargetTableInfo,
  tableKey,
} from '../pipeline/model';

/**
 * The target-dialect interface: what the pipeline core needs from a target database, and nothing
 * that says which database it is. Each database lives in its own folder (`connectors/mysql`,
 * `connectors/oracle`) and implements these interfaces behind its target session (target.ts); the
 * registry (registry.ts) picks the connector by datasource kind.
 *
 * Three layers, each usable alone:
 * - {@link TargetDialect}: pure SQL generation (quoting, session setup, statements for a plan chunk);
 *   unit-tested without a server.
 * - {@link TableInfoSource}: reads {@link TargetTableInfo} from the target's catalog, cached.
 * - {@link TargetApplier}: executes an {@link ApplyPlan} inside a transaction the caller owns.
 */

/** One SQL statement with positional parameters (`?` for MySQL, `:n` for Oracle). Values are never in `sql`. */
export interface Statement {
  sql: string;
  params: unknown[];
}

export type DeleteOp = Extract<MergedOp, { kind: 'delete' }>;
export type UpsertOp = Extract<MergedOp, { kind: 'upsert' }>;

/** Session settings every dialect understands; each dialect documents how it realises them. */
export interface SessionOptions {
  /**
   * Check foreign keys while applying. Default false: a batch applies deletes before upserts and
   * tables in plan order, so a parent row may briefly be missing its children or the other way
   * round, although the batch as a whole is consistent (it ends on a source transaction boundary).
   */
  foreignKeyChecks?: boolean;
}

/**
 * Pure SQL generation for one target database. `S` is the statement shape the database's driver
 * executes: `Statement` for MySQL (multi-row statements), a bind-array batch for Oracle
 * (`executeMany`).
 */
export interface TargetDialect<S = Statement> {
  /** Short name for logs and errors: `mysql`, `oracle`. */
  readonly name: string;
  /** Quotes one identifier (table, column) so that any name is safe in SQL. */
  quoteIdentifier(name: string): string;
  /** Quotes `schema.table`. */
  quoteTable(ref: TableRef): string;
  /** Statements to run once on a new connection before applying anything. */
  sessionSetup(options?: SessionOptions): Statement[];
  /** Statements that delete the given rows (all of one table), chunked to the database's limits. */
  deleteStatements(info: TargetTableInfo, deletes: DeleteOp[]): Array<Chunk<DeleteOp, S>>;
  /** Statements that insert-or-update the given rows (all of one table), chunked to the database's limits. */
  upsertStatements(info: TargetTableInfo, upserts: UpsertOp[]): Array<Chunk<UpsertOp, S>>;
}

/** A statement together with the operations it carries, so an applier can count and report them. */
export interface Chunk<Op, S = Statement> {
  statement: S;
  ops: Op[];
}

/** Reads what the applier must know about a target table; cached until {@link invalidate}. */
export interface TableInfoSource {
  get(ref: TableRef): Promise<TargetTableInfo>;
  /** Forget one table (after DDL on it), or every table when called without a ref. */
  invalidate(ref?: TableRef): void;
}

/** A row the target did not hold although the source changed it: the status shows the first few. */
export interface MissingRow {
  /** `schema.table` on the target. */
  table: string;
  /** `update`: an UPDATE found no row (it was written as an insert); `delete`: a DELETE found no row. */
  op: 'update' | 'delete';
  /** Key column → value as text (Buffers in hex, `0x…`), for messages. */
  key: Record<string, string>;
}

/** What one apply did: the counters plus the first few missing rows (bounded, for Temporal payloads). */
export interface ApplyResult {
  stats: ApplyStats;
  missing: MissingRow[];
}

/** One operation that failed in {@link TargetApplier.applyRowByRow}. */
export interface RowFailure {
  table: string;
  op: 'upsert' | 'delete';
  key: Record<string, string>;
  /** The database's error message. */
  message: string;
  /** The database's error code (`ER_DUP_ENTRY`, `ORA-01400`, …), when it gave one. */
  code?: string;
}

export interface RowByRowResult extends ApplyResult {
  /** Operations that failed and were skipped (only with `skipFailures`). */
  failures: RowFailure[];
}

/** What the caller knows about the connection an apply runs on. */
export interface ApplyContext {
  inTransaction?: boolean;
}

/**
 * Executes apply plans on one target connection. The caller opens the transaction, calls `apply`,
 * writes its checkpoint on the same connection and commits: the applier never begins, commits or
 * rolls back, so rows and checkpoint are atomic.
 */
export interface TargetApplier {
  /**
   * Applies a plan with multi-row statements: per table, deletes first, then upserts; tables in plan order.
   * `inTransaction: true` says the caller has opened a transaction on the connection, so the applier
   * need not find out itself (a MySQL savepoint probe costs two round trips per batch).
   */
  apply(plan: ApplyPlan, context?: ApplyContext): Promise<ApplyResult>;
  /**
   * The slow path for `onError: retryRowByRow`: one statement per operation, so a failure names
   * the row. Call it in a fresh transaction (after rolling back the one whose `apply` failed).
   * Without `skipFailures` the first failure throws {@link RowApplyError}; with it, failed rows
   * are skipped and listed.
   */
  applyRowByRow(plan: ApplyPlan, options?: { skipFailures?: boolean }): Promise<RowByRowResult>;
}

/**
 * A failure that goes away when the whole transaction is retried (deadlock, lock wait timeout).
 * The transaction has been or must be rolled back; the caller retries the batch from its checkpoint.
 */
export class RetryableTargetError extends Error {
  readonly retryable = true;
  constructor(
    message: string,
    /** The database's error code, e.g. `ER_LOCK_DEADLOCK`. */
    readonly code: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'RetryableTargetError';
  }
}

/** Raised when the target has no such table: the pipeline stops with this message (or applies the DDL first). */
export class TargetTableMissingError extends Error {
  constructor(readonly ref: TableRef) {
    super(`target table ${tableKey(ref)} does not exist`);
    this.name = 'TargetTableMissingError';
  }
}

/** Row-by-row apply stopped at this row. */
export class RowApplyError extends Error {
  constructor(readonly failure: RowFailure) {
    super(
      `${failure.op} on ${failure.table} failed for key ${JSON.stringify(failure.key)}: ${failure.message}`,
    );
    this.name = 'RowApplyError';
  }
}

/** How many missing rows an {@link ApplyResult} lists; the counters count all of them. */
export const MAX_MISSING_SAMPLES = 10;

/** Renders a value for messages: Buffers in hex, everything else as text. */
export function describeValue(v: CellValue): string {
  if (v === null) return 'NULL';
  if (Buffer.isBuffer(v)) return `0x${v.toString('hex')}`;
  return String(v);
}

/** Key columns → values as text, for {@link MissingRow} and {@link RowFailure}. */
export function describeKey(keyColumns: string[], key: CellValue[]): Record<string, string> {
  const out: Record<string, string> = {};
  keyColumns.forEach((c, i) => {
    out[c] = describeValue(key[i] ?? null);
  });
  return out;
}
