import type { BinlogPosition, CellValue } from '../binlog/types';
import type { ResolvedDatasource } from '../config/datasources';
import type { ApplyPlan, TableRef } from '../pipeline/model';
import type { ConflictRecord, TargetRowReader } from '../replication/conflicts';
import type { BackfillConnector } from './backfill-target';
import type { ApplyContext, ApplyResult, RowByRowResult, SessionOptions, TableInfoSource } from './dialect';
import type { VerificationConnector } from './verification-target';

/**
 * The target connector interface: everything the replication engine, the backfill and the service
 * layer need from a TARGET database, and nothing that says which database it is. Each database lives in
 * its own folder (`connectors/mysql`, `connectors/oracle`) and implements {@link TargetConnector};
 * the registry (`connectors/registry.ts`) picks one by datasource kind. Outside `src/connectors`, code
 * talks to these types only: differences between databases are {@link TargetCapabilities}, never a
 * test of the kind.
 *
 * Ownership: a {@link TargetSession} owns its connection(s). Nothing else writes on them, and nothing
 * in a session is shared with another session, so a committer may later run several sessions of one
 * target side by side (ordered parallel lanes: one session per lane, commits kept in source order by
 * the committer, the checkpoint fenced and written by one of them).
 */

/** The schema (MySQL database, Oracle user) that holds Otterflow's own tables on a server. */
export const SYSTEM_SCHEMA = 'otterflow';

/** What a target can do beyond the core contract. The engine branches on these, never on the kind. */
export interface TargetCapabilities {
  /**
   * DDL statements run inside a transaction and roll back with it. False for MySQL/MariaDB (a DDL
   * commits implicitly): the engine then applies DDL only with no transaction open and writes the
   * checkpoint right after it.
   */
  readonly transactionalDdl: boolean;
  /**
   * The target can run the source's DDL (as rewritten by the mapping) through
   * {@link TargetSession.applyDdl}. Without it, `ddl: apply` stops the pipeline with a message saying
   * so; `skip` and `stop` behave as everywhere.
   */
  readonly sourceDdl: boolean;
  /** {@link TargetSession.marks} is present: the target can be one side of a bidirectional channel. */
  readonly channels: boolean;
  /**
   * The connector's backfill copier has a bulk path besides the applier (LOAD DATA LOCAL for
   * MySQL/MariaDB); without it initial loads and re-syncs write through the applier.
   */
  readonly bulkLoad: boolean;
  /**
   * {@link TargetSession.prebuild} does real work: statements of the next batch can be built while the
   * batch before is still being applied on the connection.
   */
  readonly prebuild: boolean;
  /**
   * The target runs a verification's checksum SQL (MySQL dialect, src/verification/checksum-sql.ts), so
   * equal chunks are compared without rows leaving the servers. Absent or false: rows are compared in
   * the worker through {@link TargetSession.verifyRows}.
   */
  readonly checksumSql?: boolean;
}

/** The result of {@link TargetCheckpoint.claim}. */
export interface CheckpointClaim {
  /**
   * The new epoch, strictly greater than every epoch claimed before for this pipeline on this target.
   * Every batch transaction of this attempt is fenced with it.
   */
  epoch: number;
  /**
   * Where to resume: the position committed last (with the rows it covers), or `initial()` on the
   * first run. Never a position whose rows are not committed.
   */
  position: BinlogPosition;
  /** True when this claim created the checkpoint (first run of the pipeline). */
  created: boolean;
}

/**
 * The pipeline checkpoint, stored in the TARGET (authoritative), one row per pipeline. The position is
 * written in the SAME target transaction as the rows it covers: both commit or neither does. That is the
 * whole exactly-once argument, so every implementation must keep it.
 *
 * Epoch fence: each replicate attempt claims a new epoch. The fence is the first statement of every
 * batch transaction; it succeeds only while the attempt's epoch is still the current one and it locks
 * the checkpoint row until COMMIT/ROLLBACK, so a newer claim waits for an older batch in flight and then
 * reads the position that batch committed. A superseded attempt gets {@link StaleEpochError} and must
 * roll back without committing anything.
 */
export interface TargetCheckpoint {
  /**
   * Claims a new epoch (creating the system table and the row when needed) in a transaction of its own
   * that it commits before returning. Call with no transaction open. `initial` is called, outside any
   * transaction, only when the pipeline has no checkpoint yet.
   */
  claim(initial: () => Promise<BinlogPosition>): Promise<CheckpointClaim>;
  /** The committed position, or undefined for a pipeline that never ran. No epoch, no lock, no transaction. */
  read(): Promise<BinlogPosition | undefined>;
  /**
   * First statement of every batch transaction (right after {@link TargetSession.begin}). Given the
   * batch's end `position` (known when the transaction opens), it writes the checkpoint too, saving
   * {@link write} a round trip. Throws {@link StaleEpochError} when `epoch` was superseded.
   */
  fence(epoch: number, position?: BinlogPosition): Promise<void>;
  /**
   * Writes `position` in the open transaction (a batch whose fence did not know its end: slices of a
   * source transaction still being read). Throws {@link StaleEpochError} when superseded.
   */
  write(epoch: number, position: BinlogPosition): Promise<void>;
  /**
   * Deletes the pipeline's checkpoint and what is recorded with it (pipeline deleted with its
   * checkpoint). Call with no transaction open. True when there was one.
   */
  remove(): Promise<boolean>;
  /**
   * Ties the checkpoint to the source server it was read from (an identity string the source side
   * builds, e.g. MySQL's server_uuid): records `identity` when nothing is recorded yet or when
   * `replace` (the checkpoint was just created), and returns what is recorded afterwards. A caller
   * that gets back another identity must not resume: that binlog position belongs to another server.
   * Absent where the target cannot record it yet (then a run resumes without this check).
   */
  recordSource?(identity: string, replace: boolean): Promise<string>;
}

/** A fenced attempt found that a newer attempt claimed the pipeline: it must not commit. */
export class StaleEpochError extends Error {
  constructor(pipeline: string, epoch: number) {
    super(
      `pipeline "${pipeline}": epoch ${epoch} was superseded by a newer attempt; this attempt must not commit`,
    );
    this.name = 'StaleEpochError';
  }
}

/** This pipeline's registration in a bidirectional channel. */
export interface ChannelMark {
  channel: string;
  pipeline: string;
  sitePriority: number;
}

/** Loop prevention and conflict bookkeeping of a channel pipeline on its target (capability `channels`). */
export interface ChannelMarks {
  /**
   * Run start, no transaction open: creates the mark and conflict tables and registers `mark` (with its
   * site priority) in a transaction of its own. That transaction carries the mark, so the opposite
   * pipeline drops it.
   */
  prepare(mark: ChannelMark): Promise<void>;
  /** In the open batch transaction, right after the fence and before any replicated row. */
  write(mark: ChannelMark): Promise<void>;
  /** Reads (and locks) target rows by key inside the open batch transaction, for conflict checks. */
  readonly rows: TargetRowReader;
  /** In the open batch transaction, before the commit: conflicts commit with the rows they are about. */
  insertConflicts(records: readonly ConflictRecord[]): Promise<void>;
  /**
   * The newest conflicts recorded for the session's pipeline (newest first) and how many there are in
   * all; none when the pipeline never ran with a channel on this target. No transaction needed.
   */
  listConflicts(limit: number): Promise<{ total: number; conflicts: StoredConflict[] }>;
}

/** A stored conflict as the API lists it. */
export interface StoredConflict extends ConflictRecord {
  id: number;
  /** ISO time of detection. */
  at: string;
}

/** A DBLog re-sync request as stored in the target (inserted by the backfill workflow). */
export interface ResyncRequest {
  requestId: string;
  backfillId: string;
  /** The SOURCE table to re-read. */
  table: TableRef;
  where?: string;
  keysJson?: string;
  chunkSize: number;
  maxRowsPerSecond?: number;
  status: 'pending' | 'running' | 'done' | 'cancelled' | 'failed';
  lastKey?: string;
  keysDone: number;
  rowsCopied: number;
  rowsSkipped: number;
  chunksDone: number;
  estimatedRows: number;
  error?: string;
}

/** Progress of one re-sync chunk, written in the batch transaction that holds its rows. */
export interface ResyncChunkProgress {
  requestId: string;
  lastKey?: string;
  keysDone: number;
  rows: number;
  skipped: number;
  finished: boolean;
}

/** The pipeline's re-sync requests on the target. */
export interface ResyncRequests {
  /** The oldest unfinished request of the pipeline, creating the tables when needed. No transaction. */
  next(): Promise<ResyncRequest | undefined>;
  /**
   * In the open batch transaction that holds the chunk's rows (so progress and rows commit together).
   * A request cancelled meanwhile stays cancelled.
   */
  recordChunk(progress: ResyncChunkProgress): Promise<void>;
  /** Marks a request failed (its table or condition is no longer valid). No transaction. */
  fail(requestId: string, message: string): Promise<void>;
}

/** What {@link TargetSession.applyDdl} did. */
export type DdlApplyOutcome =
  | { result: 'applied' }
  /** The statement failed because its effect is already there (a replay after a crash): `why` says how. */
  | { result: 'already-in-effect'; why: string };

/**
 * One open target: connection(s), table information, the applier, transaction control, the
 * checkpoint, channel marks and DDL. Calls are made one after the other (each awaited before the
 * next), with one exception: `tables.get` may be called while a batch commit is in flight (the driver
 * must serialise the two, or read table information on a connection of its own).
 *
 * Transactions: the committer calls {@link begin}, then `checkpoint.fence`, then (channels)
 * `marks.write`, then `apply`/`applyRowByRow`, hooks, `checkpoint.write` when the fence did not write
 * the position, then {@link commit}. Nothing in the session commits on its own between begin and
 * commit, except {@link applyDdl} when `transactionalDdl` is false (never called with a transaction
 * open). Any error inside the transaction leaves it to the committer to {@link rollback}.
 */
export interface TargetSession {
  /** Short name for logs and errors: `mysql`, `oracle`. */
  readonly dialect: string;
  readonly capabilities: TargetCapabilities;
  /** Target table information (key columns, types), cached until invalidated after DDL. */
  readonly tables: TableInfoSource;
  /** The pipeline's checkpoint on this target. */
  readonly checkpoint: TargetCheckpoint;
  /** Present when `capabilities.channels`. */
  readonly marks?: ChannelMarks;
  /** True between {@link begin} and {@link commit}/{@link rollback}. */
  readonly inTransaction: boolean;

  /** Opens a transaction. Throws when one is open already. */
  begin(): Promise<void>;
  /** Commits the open transaction: its rows and its checkpoint become visible together. */
  commit(): Promise<void>;
  /** Rolls back the open transaction, if any. Never throws (a dead connection rolls back by itself). */
  rollback(): Promise<void>;

  /**
   * Applies a merged batch inside the open transaction (multi-row statements; per table deletes, then
   * upserts; tables in plan order). Never begins, commits or rolls back. Throws
   * {@link RetryableTargetError} for deadlocks and the like; data errors (see {@link isDataError}) as
   * the driver reported them.
   */
  apply(plan: ApplyPlan, context?: ApplyContext): Promise<ApplyResult>;
  /**
   * `onError: retryRowByRow`: one statement per operation, in a fresh transaction opened by the
   * committer after rolling back the one whose `apply` failed; with `skipFailures`, failed rows are
   * skipped and listed.
   */
  applyRowByRow(plan: ApplyPlan, options?: { skipFailures?: boolean }): Promise<RowByRowResult>;
  /**
   * Builds (and caches) the statements of a plan that will be applied next, while another batch is still
   * being applied. Must not touch the connection's transaction state. A no-op when `capabilities.prebuild`
   * is false.
   */
  prebuild(plan: ApplyPlan): Promise<void>;
  /**
   * True for errors about the data itself (a value the target refuses, a duplicate in a secondary
   * unique key, a foreign key): retrying the same batch cannot succeed, unlike a lost connection.
   */
  isDataError(err: unknown): boolean;

  /** Runs one DDL statement (capability `sourceDdl`), outside any transaction unless `transactionalDdl`. */
  applyDdl(statement: string): Promise<DdlApplyOutcome>;
  /**
   * Why this target cannot hold a source column of `dataType` (information_schema DATA_TYPE, lowercase),
   * or undefined when it can. A run refuses such a mapped column at start, naming it, instead of
   * writing its values into some other type.
   */
  lacksSourceType(dataType: string): string | undefined;
  /** Whether a target table exists (no transaction needed). */
  tableExists(ref: TableRef): Promise<boolean>;

  /** DBLog re-sync request bookkeeping (the requests live in the target). */
  readonly resyncRequests: ResyncRequests;

  /**
   * Reading target rows for a verification computed in the worker (values in a canonical form, see
   * {@link TargetRowAccess}). Absent: the target's rows cannot be compared in the worker.
   */
  readonly verifyRows?: TargetRowAccess;

  /** Rolls back what is open and closes the connection(s). Never throws. */
  close(): Promise<void>;
}

/**
 * A value as a verification compares it: text (or NULL) in a form that does not depend on how it was
 * obtained. The same value read back from the target and computed from a source row by
 * {@link TargetRowCodec.canonical} give the same text; e.g. numbers without trailing fraction zeros,
 * date-times as `YYYY-MM-DD HH:MM:SS[.ffffff]` without trailing fraction zeros, bytes as lower-case hex.
 * Each connector documents its form per column type (`connectors/<db>/canonical.ts`).
 */
export type CanonicalValue = string | null;

/** Which rows {@link TargetRowAccess.read} returns: a key range, or a list of keys. */
export interface TargetRowsQuery {
  table: TableRef;
  /** The target table's key columns (pipeline names), in key order: `after`, `upTo` and `keys` follow it. */
  keyColumns: readonly string[];
  /** Columns to return (pipeline names), in this order; include the key columns when they are wanted. */
  columns: readonly string[];
  /** Rows whose key is greater than `after` (absent: from the start), in the target's key order. */
  after?: readonly CellValue[];
  /** … and at most `upTo` (absent: to the end). */
  upTo?: readonly CellValue[];
  /**
   * Instead of a range: exactly these keys (source key values, or values {@link TargetRowCodec.keyValue}
   * gave). Any number; the connector splits long lists.
   */
  keys?: readonly (readonly CellValue[])[];
}

/** How one target table's columns turn values into their canonical form. */
export interface TargetRowCodec {
  /**
   * The canonical values of a row as this target would hold it once the applier wrote `values` (a
   * mapped source row, in the codec's column order): the connector's own value conversion first (Oracle:
   * '' becomes NULL, NUMBER drops trailing zeros, …), then the canonical form a read of it returns.
   * Never throws: a value the applier would refuse gets a text no read returns (it compares as different).
   */
  canonical(values: readonly CellValue[]): CanonicalValue[];
  /**
   * A key value (for reports, re-syncs and {@link TargetRowsQuery.keys}) from the canonical value of
   * the codec's column `i`: integers as number (bigint beyond 2^53), bytes as Buffer, the rest as text.
   * Pure, so both sides of a comparison turn the same canonical key into the same value.
   */
  keyValue(i: number, value: CanonicalValue): CellValue;
}

/**
 * Target rows for a verification computed in the worker (when the target cannot run the checksum SQL,
 * or the mapping's transform is code): reads rows, and says how a source row would look once written.
 * Used outside transactions, on the session's own connection.
 */
export interface TargetRowAccess {
  /** The selected rows, each as the canonical values of `query.columns`; in no particular order. */
  read(query: TargetRowsQuery): Promise<CanonicalValue[][]>;
  /** The codec of `columns` (pipeline names) of a target table (reads the table's column types, cached). */
  codec(table: TableRef, columns: readonly string[]): Promise<TargetRowCodec>;
}

/** How a session is opened. */
export interface TargetSessionOptions {
  /** The pipeline whose checkpoint, marks and re-sync requests the session works with. */
  pipeline: string;
  session?: SessionOptions;
}

/** One target database: its capabilities and how to open a session on a datasource of its kind. */
export interface TargetConnector {
  readonly dialect: string;
  readonly capabilities: TargetCapabilities;
  /**
   * Opens a session for one pipeline: connection(s) made, session settings applied. Connection errors
   * come out as the driver raised them (the caller describes them; they never contain the password).
   */
  open(datasource: ResolvedDatasource, options: TargetSessionOptions): Promise<TargetSession>;
  /** Connects, asks the server's version, disconnects (the datasource connection test). */
  serverVersion(datasource: ResolvedDatasource): Promise<string>;
  /** Initial loads and re-syncs into this target; absent when the connector has none yet. */
  readonly backfill?: BackfillConnector;
  /** Verifications and repairs of pipelines into this target; absent when the connector has none yet. */
  readonly verification?: VerificationConnector;
  /**
   * Connects and checks what the target needs (privileges, space); each failed check says what to
   * change. Absent: a connection test is all there is to check.
   */
  check?(datasource: ResolvedDatasource): Promise<TargetCheckResult>;
}

/** What {@link TargetConnector.check} found. */
export interface TargetCheckResult {
  serverVersion: string;
  checks: Array<{ name: string; ok: boolean; actual: string; fix?: string }>;
}
