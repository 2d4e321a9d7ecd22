import type { BinlogPosition, CellValue } from '../../../binlog/types';
import type { ResolvedDatasource } from '../../../config/datasources';
import type { TableRef } from '../../../pipeline/model';
import type { TableColumns } from '../../../verification/table-plan';
import type { VerificationConnector, VerificationTargetSession } from '../../verification-target';
import { OracleApplier } from '../applier';
import { CHECKPOINT_READ_OPTIONS, type CheckpointRow, OracleCheckpointSql, positionOf } from '../checkpoint';
import type { OracleConnectionLike } from '../connection';
import type { OracleTableInfo } from '../dialect';
import { OracleRowAccess } from '../row-access';
import { type OracleTargetSettings, oracleTargetSettings } from '../settings';
import { OracleVerificationSql } from './report-sql';
import { OracleVerificationReport } from './report-store';

/** ORA-00942: table or view does not exist. */
const NO_SUCH_TABLE = 'ORA-00942';

/**
 * A verification's session on an Oracle target: one connection carrying the report (next to the
 * checkpoint, in the checkpoint schema), the checkpoint read (never written), table information
 * from the catalog, and deletions by key through the pipeline's own applier (same statements, same
 * value mapping), and the row reader of a comparison computed in the worker (Oracle runs no checksum SQL).
 */
export class OracleVerificationTarget extends OracleVerificationReport implements VerificationTargetSession {
  readonly dialect = 'oracle';
  private readonly applier: OracleApplier;
  private readonly checkpointSql: OracleCheckpointSql;
  readonly verifyRows: OracleRowAccess;

  constructor(
    readonly connection: OracleConnectionLike,
    private readonly pipeline: string,
    settings: OracleTargetSettings = {},
  ) {
    super(connection, new OracleVerificationSql(settings.checkpointSchema, settings.identifierCase));
    this.applier = new OracleApplier(connection, settings);
    this.checkpointSql = new OracleCheckpointSql(settings.checkpointSchema, settings.identifierCase);
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

  /** Session setup of the applier (the deletions write through it). */
  async prepare(): Promise<void> {
    await this.applier.prepareSession();
  }

  async appliedPosition(): Promise<BinlogPosition | undefined> {
    try {
      const r = await this.connection.execute<CheckpointRow>(
        this.checkpointSql.select(),
        [this.pipeline],
        CHECKPOINT_READ_OPTIONS,
      );
      const row = r.rows?.[0];
      return row ? positionOf(row) : undefined;
    } catch (err) {
      if ((err as { code?: string }).code === NO_SUCH_TABLE) return undefined; // no pipeline ever ran here
      throw err;
    }
  }

  async tableColumns(ref: TableRef): Promise<TableColumns> {
    const info = (await this.applier.tables.get(ref)) as OracleTableInfo;
    return {
      ref,
      columns: info.columns.map((name) => ({
        name,
        dataType: String(info.columnTypes[name] ?? '').toLowerCase(),
        charset: null,
        // The catalog's NULL-ability is not kept with the table information: assume NULL possible.
        nullable: true,
      })),
      // A table without a key is matched on every column by the applier; a verification needs a key.
      keyColumns: info.keyKind === 'fullRow' ? [] : [...info.keyColumns],
    };
  }

  async deleteKeys(
    ref: TableRef,
    keyColumns: readonly string[],
    keys: readonly (readonly CellValue[])[],
  ): Promise<number> {
    if (keys.length === 0) return 0;
    const info = (await this.applier.tables.get(ref)) as OracleTableInfo;
    if (info.keyColumns.join() !== keyColumns.join())
      throw new Error(
        `${ref.schema}.${ref.table}: its key (${info.keyColumns.join(', ')}) is not the verified key (${keyColumns.join(', ')})`,
      );
    try {
      const r = await this.applier.apply({
        tables: [
          {
            target: ref,
            deletes: keys.map((key) => ({ kind: 'delete', target: ref, key: [...key], before: new Map() })),
            upserts: [],
          },
        ],
      });
      await this.connection.commit();
      return r.stats.deleted;
    } catch (err) {
      await this.connection.rollback().catch(() => {});
      throw err;
    }
  }

  async close(): Promise<void> {
    await this.connection.rollback().catch(() => {});
    await this.connection.close().catch(() => {});
  }
}

/** Opens verification sessions on Oracle datasources; `connect` is the driver seam (as for the target session). */
export class OracleVerificationConnector implements VerificationConnector {
  constructor(private readonly connect: (ds: ResolvedDatasource) => Promise<OracleConnectionLike>) {}

  async open(target: ResolvedDatasource, pipeline: string): Promise<VerificationTargetSession> {
    const conn = await this.connect(target);
    const settings = oracleTargetSettings(target);
    const session = new OracleVerificationTarget(conn, pipeline, settings);
    try {
      await session.prepare();
      return session;
    } catch (err) {
      await conn.close().catch(() => {});
      throw err;
    }
  }
}
