import type mysql from 'mysql2/promise';
import { keyIn } from '../../../backfill/keys';
import { openSourceReader, readSourceTable } from '../../../backfill/source-table';
import type { BinlogPosition, CellValue } from '../../../binlog/types';
import type { ResolvedDatasource } from '../../../config/datasources';
import type { TableRef } from '../../../pipeline/model';
import type { TableColumns } from '../../../verification/table-plan';
import { TargetTableMissingError } from '../../dialect';
import type { VerificationConnector, VerificationTargetSession } from '../../verification-target';
import { readCheckpoint } from '../checkpoint';
import { quoteMysqlTable } from '../source';
import { MysqlVerificationReport } from './report-store';

/**
 * A verification's session on a MySQL/MariaDB target: one connection with the backfill reader's
 * settings (UTC, READ COMMITTED, decoder-style values), carrying the report, the checkpoint read and
 * the checksum SQL of src/verification.
 */
export class MysqlVerificationTarget extends MysqlVerificationReport implements VerificationTargetSession {
  readonly dialect = 'mysql';

  constructor(
    readonly checksumConnection: mysql.Connection,
    private readonly pipeline: string,
  ) {
    super(checksumConnection);
  }

  appliedPosition(): Promise<BinlogPosition | undefined> {
    return readCheckpoint(this.checksumConnection, this.pipeline);
  }

  async tableColumns(ref: TableRef): Promise<TableColumns> {
    const conn = this.checksumConnection;
    const t = await readSourceTable(conn, ref).catch((err: Error) => {
      if (/does not exist/.test(err.message)) throw new TargetTableMissingError(ref);
      throw err;
    });
    return mysqlTableColumns(conn, t);
  }

  async deleteKeys(
    ref: TableRef,
    keyColumns: readonly string[],
    keys: readonly (readonly CellValue[])[],
  ): Promise<number> {
    if (keys.length === 0) return 0;
    const w = keyIn(keyColumns, keys);
    const [r] = await this.checksumConnection.query<mysql.ResultSetHeader>(
      `DELETE FROM ${quoteMysqlTable(ref)} WHERE ${w.sql}`,
      w.params,
    );
    return r.affectedRows;
  }

  async close(): Promise<void> {
    await this.checksumConnection.end().catch(() => {});
  }
}

/** Columns (with character sets, for the row hash) and key of a table read by readSourceTable. */
export async function mysqlTableColumns(
  conn: mysql.Connection,
  t: Awaited<ReturnType<typeof readSourceTable>>,
): Promise<TableColumns> {
  const [rows] = await conn.query<mysql.RowDataPacket[]>(
    'SELECT COLUMN_NAME AS n, CHARACTER_SET_NAME AS cs FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ?',
    [t.ref.schema, t.ref.table],
  );
  const charset = new Map(rows.map((r) => [String(r.n), r.cs === null ? null : String(r.cs)]));
  return {
    ref: t.ref,
    columns: t.schema.columns.map((c) => ({
      name: c.name,
      dataType: String(c.dataType ?? '').toLowerCase(),
      charset: charset.get(c.name) ?? null,
      nullable: c.nullable,
    })),
    keyColumns: t.keyColumns,
  };
}

export const mysqlVerificationConnector: VerificationConnector = {
  async open(target: ResolvedDatasource, pipeline: string): Promise<VerificationTargetSession> {
    return new MysqlVerificationTarget(await openSourceReader(target), pipeline);
  },
};
