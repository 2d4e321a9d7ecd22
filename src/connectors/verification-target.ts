import type mysql from 'mysql2/promise';
import type { BinlogPosition, CellValue } from '../binlog/types';
import type { ResolvedDatasource } from '../config/datasources';
import type { TableRef } from '../pipeline/model';
import type { VerificationReportStore } from '../verification/report-store';
import type { TableColumns } from '../verification/table-plan';
import type { TargetRowAccess } from './target';

/**
 * What a verification (and its repair) needs from a TARGET database besides the rows it compares:
 * the report store, the pipeline's applied position, the target tables' columns and keys, and the
 * deletion of rows by key. A target connector offers it as `TargetConnector.verification`; the
 * verification activities and the API use only these types.
 */
export interface VerificationConnector {
  /** Opens a session on the target for one pipeline's verifications (connection made, nothing created). */
  open(target: ResolvedDatasource, pipeline: string): Promise<VerificationTargetSession>;
}

/** One open target connection of a verification. Every method runs on its own (commits what it writes). */
export interface VerificationTargetSession extends VerificationReportStore {
  /** Short name for messages: `mysql`, `oracle`. */
  readonly dialect: string;
  /**
   * The pipeline's checkpoint: the source position up to which the target holds the pipeline's rows
   * (committed with them); undefined for a pipeline that never ran here. Reads only: a verification
   * never writes the checkpoint.
   */
  appliedPosition(): Promise<BinlogPosition | undefined>;
  /**
   * A target table's columns (pipeline names, in table order) and key (primary key, else the first
   * NOT NULL unique key; empty when it has none). Throws `TargetTableMissingError` when absent.
   */
  tableColumns(ref: TableRef): Promise<TableColumns>;
  /** Deletes the rows with these keys (values in `keyColumns` order) and commits. Returns rows deleted. */
  deleteKeys(
    ref: TableRef,
    keyColumns: readonly string[],
    keys: readonly (readonly CellValue[])[],
  ): Promise<number>;
  /**
   * A connection speaking the MySQL dialect of src/verification (server-side checksums, key walks
   * over the target's index); absent where rows are compared in the worker.
   */
  readonly checksumConnection?: mysql.Connection;
  /**
   * The target's rows in canonical form (the same reader a target session offers), on this session's
   * connection: what a comparison computed in the worker reads. Absent where the target has none.
   */
  readonly verifyRows?: TargetRowAccess;
  /** Closes the connection. Never throws. */
  close(): Promise<void>;
}
