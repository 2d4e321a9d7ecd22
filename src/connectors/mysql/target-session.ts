import type mysql from 'mysql2/promise';
import type { ResolvedDatasource } from '../../config/datasources';
import type { ApplyPlan, TableRef } from '../../pipeline/model';
import type { ApplyContext, ApplyResult, RowByRowResult, TableInfoSource } from '../dialect';
import type {
  DdlApplyOutcome,
  ResyncChunkProgress,
  ResyncRequest,
  ResyncRequests,
  TargetCapabilities,
  TargetConnector,
  TargetSession,
  TargetSessionOptions,
} from '../target';
import { MysqlApplier } from './applier';
import { mysqlBackfill } from './backfill/connector';
import {
  ensureBackfillTables,
  failResyncRequest,
  nextResyncRequest,
  recordResyncChunk,
} from './backfill/progress-store';
import { MysqlCheckpoint } from './checkpoint';
import { openMysql } from './connection';
import { quoteMysqlTable } from './dialect';
import { MysqlChannelMarks } from './marks';
import { MysqlRowAccess } from './row-access';
import { missingOnTarget, readServerFlavour, type ServerFlavour } from './type-support';
import { mysqlVerificationConnector } from './verification/session';

/**
 * MySQL errors that mean "this DDL is already in effect on the target": table/column/index already
 * there, or already gone. A DDL is not transactional, so after a crash between the DDL and its
 * checkpoint the statement is read again; these errors then mean it was applied the first time.
 */
const ALREADY_APPLIED = new Map<number, string>([
  [1007, 'database exists'],
  [1008, 'database does not exist'],
  [1050, 'table exists'],
  [1051, 'unknown table'],
  [1060, 'duplicate column'],
  [1061, 'duplicate key name'],
  [1091, 'cannot drop: column or key does not exist'],
  [1146, 'table does not exist'],
]);

/** ER_NO_SUCH_TABLE, ER_BAD_DB_ERROR. */
const NO_SUCH_TABLE = new Set([1146, 1049]);

export const MYSQL_TARGET_CAPABILITIES: TargetCapabilities = {
  transactionalDdl: false,
  sourceDdl: true,
  channels: true,
  bulkLoad: true,
  prebuild: true,
  checksumSql: true,
};

/**
 * A MySQL/MariaDB target: one connection carrying the applier, the checkpoint, the channel marks and
 * the re-sync bookkeeping, so they all share its transaction.
 */
export class MysqlTargetSession implements TargetSession {
  readonly dialect = 'mysql';
  readonly capabilities = MYSQL_TARGET_CAPABILITIES;
  readonly checkpoint: MysqlCheckpoint;
  readonly marks: MysqlChannelMarks;
  readonly resyncRequests: ResyncRequests;
  readonly verifyRows: MysqlRowAccess;
  readonly applier: MysqlApplier;
  private open = false;

  constructor(
    readonly connection: mysql.Connection,
    pipeline: string,
    applier?: MysqlApplier,
    /** The server's flavour and version, for {@link lacksSourceType}; unknown = every type accepted. */
    private readonly flavour?: ServerFlavour,
  ) {
    this.applier = applier ?? new MysqlApplier(connection);
    this.checkpoint = new MysqlCheckpoint(connection, pipeline);
    this.marks = new MysqlChannelMarks(connection, pipeline);
    this.resyncRequests = new MysqlResyncRequests(connection, pipeline);
    this.verifyRows = new MysqlRowAccess(connection, this.applier.tables);
  }

  get tables(): TableInfoSource {
    return this.applier.tables;
  }

  lacksSourceType(dataType: string): string | undefined {
    return this.flavour ? missingOnTarget(dataType, this.flavour) : undefined;
  }

  get inTransaction(): boolean {
    return this.open;
  }

  async begin(): Promise<void> {
    if (this.open) throw new Error('internal: a target transaction is already open');
    await this.connection.query('START TRANSACTION');
    this.open = true;
  }

  async commit(): Promise<void> {
    await this.connection.query('COMMIT');
    this.open = false;
  }

  async rollback(): Promise<void> {
    if (!this.open) return;
    this.open = false;
    await this.connection.query('ROLLBACK').catch(() => {});
  }

  apply(plan: ApplyPlan, context?: ApplyContext): Promise<ApplyResult> {
    return this.applier.apply(plan, context);
  }

  applyRowByRow(plan: ApplyPlan, options?: { skipFailures?: boolean }): Promise<RowByRowResult> {
    return this.applier.applyRowByRow(plan, options);
  }

  prebuild(plan: ApplyPlan): Promise<void> {
    return this.applier.prebuild(plan);
  }

  isDataError(err: unknown): boolean {
    return isSqlDataError(err);
  }

  async applyDdl(statement: string): Promise<DdlApplyOutcome> {
    try {
      await this.connection.query(statement);
      return { result: 'applied' };
    } catch (err) {
      const why = ALREADY_APPLIED.get((err as { errno?: number }).errno ?? 0);
      if (!why) throw err;
      return { result: 'already-in-effect', why };
    }
  }

  async tableExists(ref: TableRef): Promise<boolean> {
    try {
      await this.connection.query(`SELECT 1 FROM ${quoteMysqlTable(ref)} LIMIT 0`);
      return true;
    } catch (err) {
      // Any doubt (an error other than "no such table/database") counts as existing.
      return !NO_SUCH_TABLE.has((err as { errno?: number }).errno ?? 0);
    }
  }

  async close(): Promise<void> {
    await this.rollback();
    await this.connection.end().catch(() => {});
  }
}

/**
 * Errors about the data itself (SQLSTATE classes 22 "data exception" and 23 "integrity constraint"):
 * retrying the same batch cannot succeed, unlike a lost connection or a deadlock.
 */
export function isSqlDataError(err: unknown): boolean {
  const e = err as { sqlState?: string; cause?: unknown; retryable?: boolean };
  if (e?.retryable === true) return false;
  if (typeof e?.sqlState === 'string') return e.sqlState.startsWith('22') || e.sqlState.startsWith('23');
  return e?.cause !== undefined && e.cause !== err ? isSqlDataError(e.cause) : false;
}

class MysqlResyncRequests implements ResyncRequests {
  private tablesReady = false;

  constructor(
    private readonly conn: mysql.Connection,
    private readonly pipeline: string,
  ) {}

  async next(): Promise<ResyncRequest | undefined> {
    if (!this.tablesReady) {
      await ensureBackfillTables(this.conn);
      this.tablesReady = true;
    }
    return nextResyncRequest(this.conn, this.pipeline);
  }

  recordChunk(progress: ResyncChunkProgress): Promise<void> {
    return recordResyncChunk(this.conn, progress);
  }

  fail(requestId: string, message: string): Promise<void> {
    return failResyncRequest(this.conn, requestId, message);
  }
}

export const mysqlTargetConnector: TargetConnector = {
  dialect: 'mysql',
  backfill: mysqlBackfill,
  verification: mysqlVerificationConnector,
  capabilities: MYSQL_TARGET_CAPABILITIES,
  async open(datasource: ResolvedDatasource, options: TargetSessionOptions): Promise<TargetSession> {
    const conn = await openMysql(datasource);
    try {
      const applier = new MysqlApplier(conn, options.session ? { session: options.session } : {});
      await applier.prepareSession();
      return new MysqlTargetSession(conn, options.pipeline, applier, await readServerFlavour(conn));
    } catch (err) {
      await conn.end().catch(() => {});
      throw err;
    }
  },
  async serverVersion(datasource: ResolvedDatasource): Promise<string> {
    const conn = await openMysql(datasource);
    try {
      const [rows] = await conn.query('SELECT VERSION() AS v');
      return String((rows as Array<{ v: unknown }>)[0]?.v ?? '');
    } finally {
      await conn.end().catch(() => {});
    }
  },
};
