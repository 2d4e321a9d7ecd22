import type { ResolvedDatasource } from '../../config/datasources';
import type { ApplyPlan, ApplyStats, TableRef } from '../../pipeline/model';
import type { BackfillConnector } from '../backfill-target';
import {
  type ApplyResult,
  RetryableTargetError,
  type RowByRowResult,
  type TableInfoSource,
} from '../dialect';
import type {
  DdlApplyOutcome,
  ResyncRequests,
  TargetCapabilities,
  TargetCheckResult,
  TargetConnector,
  TargetSession,
  TargetSessionOptions,
} from '../target';
import type { VerificationConnector } from '../verification-target';
import { OracleApplier, OracleBatchRowError } from './applier';
import { OracleBackfill } from './backfill/connector';
import { OracleBackfillSql } from './backfill/progress-sql';
import { OracleResyncRequests } from './backfill/progress-store';
import { OracleCheckpoint, OracleCheckpointSql } from './checkpoint';
import { type OracleConnectionLike, openOracle } from './connection';
import { checkOracleTargetPrerequisites, readOracleTargetState, readOracleVersion } from './prerequisites';
import { OracleRowAccess } from './row-access';
import { type OracleTargetSettings, oracleTargetSettings } from './settings';
import { OracleValueError, type ValueTally } from './values';
import { OracleVerificationConnector } from './verification/session';

/**
 * What an Oracle target can do. No source DDL (MySQL DDL is not translated: `ddl: apply` stops with a
 * message, `skip`/`stop` work as for MySQL), no channel marks (a bidirectional channel needs a binlog
 * on both sides, and Oracle is never a source here), no bulk load (initial loads and re-syncs go
 * through the applier's executeMany), no statements built ahead, no MySQL checksum SQL (verifications compare rows in the worker).
 */
export const ORACLE_TARGET_CAPABILITIES: TargetCapabilities = {
  transactionalDdl: false,
  sourceDdl: false,
  channels: false,
  bulkLoad: false,
  prebuild: false,
  checksumSql: false,
};

/**
 * ORA- codes about the data itself: retrying the batch cannot help. Unique key (00001), NULL into NOT
 * NULL (01400, 01407), too large (12899, 01401, 01438, 01426), not a number or a date (01722, 01830,
 * 01839–01861), foreign and check constraints (02290–02292), interval precision (01873), JSON syntax (40441).
 */
const DATA_ERRORS = new Set([
  'ORA-00001',
  'ORA-01400',
  'ORA-01407',
  'ORA-12899',
  'ORA-01401',
  'ORA-01438',
  'ORA-01426',
  'ORA-01722',
  'ORA-01830',
  'ORA-01839',
  'ORA-01840',
  'ORA-01841',
  'ORA-01843',
  'ORA-01847',
  'ORA-01850',
  'ORA-01851',
  'ORA-01852',
  'ORA-01858',
  'ORA-01861',
  'ORA-01873',
  'ORA-02290',
  'ORA-02291',
  'ORA-02292',
  'ORA-40441',
]);

/** ORA-00942: table or view does not exist. */
const NO_SUCH_TABLE = 'ORA-00942';

export function isOracleDataError(err: unknown): boolean {
  if (err instanceof RetryableTargetError) return false;
  if (err instanceof OracleValueError || err instanceof OracleBatchRowError) return true;
  const e = err as { code?: unknown; cause?: unknown };
  if (typeof e?.code === 'string' && DATA_ERRORS.has(e.code)) return true;
  return e?.cause !== undefined && e.cause !== err ? isOracleDataError(e.cause) : false;
}

/**
 * An Oracle target: one connection carrying the applier and the checkpoint, so rows and position share
 * its transaction. Oracle opens a transaction implicitly with the first DML; `begin` only marks it
 * open, `commit`/`rollback` end it. Values Oracle forces to change ('' stored as NULL) are counted in
 * `stats.emptyAsNull` and named per column in `notes`.
 */
export class OracleTargetSession implements TargetSession {
  readonly dialect = 'oracle';
  readonly capabilities = ORACLE_TARGET_CAPABILITIES;
  readonly checkpoint: OracleCheckpoint;
  readonly resyncRequests: ResyncRequests;
  readonly applier: OracleApplier;
  readonly verifyRows: OracleRowAccess;
  private open = false;

  constructor(
    readonly connection: OracleConnectionLike,
    pipeline: string,
    private readonly settings: OracleTargetSettings = {},
  ) {
    this.applier = new OracleApplier(connection, settings);
    this.checkpoint = new OracleCheckpoint(
      connection,
      pipeline,
      new OracleCheckpointSql(settings.checkpointSchema, settings.identifierCase),
    );
    this.resyncRequests = new OracleResyncRequests(
      connection,
      pipeline,
      new OracleBackfillSql(settings.checkpointSchema, settings.identifierCase),
    );
    this.verifyRows = new OracleRowAccess(
      connection,
      this.applier.tables,
      (ref) => this.applier.quoteTable(ref),
      {
        ...(settings.identifierCase ? { identifierCase: settings.identifierCase } : {}),
        ...(settings.zeroDates ? { zeroDates: settings.zeroDates } : {}),
        ...(settings.emptyStrings ? { emptyStrings: settings.emptyStrings } : {}),
      },
    );
  }

  get tables(): TableInfoSource {
    return this.applier.tables;
  }

  get inTransaction(): boolean {
    return this.open;
  }

  async begin(): Promise<void> {
    if (this.open) throw new Error('internal: a target transaction is already open');
    this.open = true;
  }

  async commit(): Promise<void> {
    await this.connection.commit();
    this.open = false;
  }

  async rollback(): Promise<void> {
    if (!this.open) return;
    this.open = false;
    await this.connection.rollback().catch(() => {});
  }

  async apply(plan: ApplyPlan): Promise<ApplyResult> {
    const r = await this.applier.apply(plan);
    return withTally(r, r.tally);
  }

  async applyRowByRow(plan: ApplyPlan, options?: { skipFailures?: boolean }): Promise<RowByRowResult> {
    const r = await this.applier.applyRowByRow(plan, options);
    return withTally(r, r.tally);
  }

  async prebuild(_plan: ApplyPlan): Promise<void> {}

  isDataError(err: unknown): boolean {
    return isOracleDataError(err);
  }

  async applyDdl(statement: string): Promise<DdlApplyOutcome> {
    throw new Error(`an Oracle target does not run MySQL DDL (capability sourceDdl is false): ${statement}`);
  }

  lacksSourceType(dataType: string): string | undefined {
    // MySQL 9's VECTOR arrives as packed float32 bytes; Oracle's VECTOR type takes no such binding, and
    // storing the bytes in a RAW would look like success while the column means something else.
    return dataType === 'vector' ? 'no mapping of MySQL VECTOR values to Oracle is defined' : undefined;
  }

  async tableExists(ref: TableRef): Promise<boolean> {
    try {
      await this.connection.execute(`SELECT 1 FROM ${this.applier.quoteTable(ref)} WHERE 1 = 0`);
      return true;
    } catch (err) {
      // Any doubt (an error other than "no such table") counts as existing.
      return (err as { code?: string }).code !== NO_SUCH_TABLE;
    }
  }

  async close(): Promise<void> {
    await this.rollback();
    await this.connection.close().catch(() => {});
  }

  get targetSettings(): OracleTargetSettings {
    return this.settings;
  }
}

/** Adds the tally to the stats (`emptyAsNull`) and one note per column, whose text stays the same from batch to batch. */
function withTally<R extends ApplyResult>(r: R, tally: ValueTally): R {
  if (tally.emptyAsNull.size === 0) return r;
  const stats: ApplyStats = { ...r.stats, emptyAsNull: (r.stats.emptyAsNull ?? 0) + tally.total };
  const notes = [...(r.notes ?? [])];
  for (const column of tally.emptyAsNull.keys())
    notes.push(
      `${column}: empty strings are stored as NULL (Oracle does not distinguish '' from NULL); counted in emptyAsNull`,
    );
  return { ...r, stats, notes };
}

/** Opens sessions on Oracle datasources; `connect` is the driver seam (a recording connection in tests). */
export class OracleTargetConnector implements TargetConnector {
  readonly dialect = 'oracle';
  readonly capabilities = ORACLE_TARGET_CAPABILITIES;
  readonly backfill: BackfillConnector;
  readonly verification: VerificationConnector;

  constructor(
    private readonly connect: (ds: ResolvedDatasource) => Promise<OracleConnectionLike> = openOracle,
  ) {
    this.backfill = new OracleBackfill(connect);
    this.verification = new OracleVerificationConnector(connect);
  }

  async open(datasource: ResolvedDatasource, options: TargetSessionOptions): Promise<TargetSession> {
    const conn = await this.connect(datasource);
    try {
      const settings: OracleTargetSettings = {
        ...oracleTargetSettings(datasource),
        ...(options.session ? { session: options.session } : {}),
      };
      const session = new OracleTargetSession(conn, options.pipeline, settings);
      await session.applier.prepareSession();
      return session;
    } catch (err) {
      await conn.close().catch(() => {});
      throw err;
    }
  }

  async serverVersion(datasource: ResolvedDatasource): Promise<string> {
    const conn = await this.connect(datasource);
    try {
      return `Oracle ${await readOracleVersion(conn)}`;
    } finally {
      await conn.close().catch(() => {});
    }
  }

  async check(datasource: ResolvedDatasource): Promise<TargetCheckResult> {
    const conn = await this.connect(datasource);
    try {
      const state = await readOracleTargetState(conn);
      return { serverVersion: `Oracle ${state.version}`, checks: checkOracleTargetPrerequisites(state) };
    } finally {
      await conn.close().catch(() => {});
    }
  }
}

export const oracleTargetConnector = new OracleTargetConnector();
