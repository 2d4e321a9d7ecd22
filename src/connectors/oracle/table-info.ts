import { type TableRef, tableKey } from '../../pipeline/model';
import { type TableInfoSource, TargetTableMissingError } from '../dialect';
import type { OracleConnectionLike } from './connection';
import { type OracleTableInfo, oracleName, pipelineName } from './dialect';

export interface OracleColumnRow {
  name: string;
  /** DATA_TYPE, with precision and scale where they decide exactness (see {@link oracleColumnType}). */
  dataType: string;
  nullable: boolean;
}

/**
 * The type string the value mapping reads: `NUMBER(p,s)` for constrained numbers (`NUMBER(*,0)`
 * is `NUMBER(38,0)`), `FLOAT(b)`, otherwise DATA_TYPE as ALL_TAB_COLUMNS spells it.
 */
export function oracleColumnType(dataType: string, precision: number | null, scale: number | null): string {
  if (dataType === 'NUMBER' && (precision !== null || scale !== null))
    return `NUMBER(${precision ?? 38},${scale ?? 0})`;
  if (dataType === 'FLOAT' && precision !== null) return `FLOAT(${precision})`;
  return dataType;
}

export interface OracleConstraintRow {
  name: string;
  /** `P` primary key, `U` unique. */
  type: 'P' | 'U';
  column: string;
  position: number;
}

/**
 * Chooses row identity from catalog rows (pure): primary key, else the first unique constraint (by
 * name) whose columns are all NOT NULL, else every column. Catalog names are turned into pipeline
 * names (`CUSTOMER_ID` → `customer_id` under the default `upper` identifier case).
 */
export function chooseOracleTableInfo(
  ref: TableRef,
  columns: OracleColumnRow[],
  constraints: OracleConstraintRow[],
  identifierCase: 'upper' | 'exact' = 'upper',
): OracleTableInfo {
  const name = (n: string) => pipelineName(n, identifierCase);
  const notNull = new Map(columns.map((c) => [c.name, !c.nullable]));
  const byName = new Map<string, OracleConstraintRow[]>();
  for (const r of [...constraints].sort((a, b) => a.name.localeCompare(b.name) || a.position - b.position)) {
    const list = byName.get(r.name) ?? [];
    list.push(r);
    byName.set(r.name, list);
  }
  const base = {
    ref,
    columns: columns.map((c) => name(c.name)),
    columnTypes: Object.fromEntries(columns.map((c) => [name(c.name), c.dataType])),
  };
  const keyOf = (rows: OracleConstraintRow[]) => rows.map((r) => name(r.column));
  const primary = [...byName.values()].find((rows) => rows[0]?.type === 'P');
  if (primary) return { ...base, keyColumns: keyOf(primary), keyKind: 'primary' };
  const unique = [...byName.values()].find((rows) =>
    rows.every((r) => r.type === 'U' && notNull.get(r.column)),
  );
  if (unique) return { ...base, keyColumns: keyOf(unique), keyKind: 'unique' };
  return { ...base, keyColumns: [...base.columns], keyKind: 'fullRow' };
}

/** Reads a table's columns and key constraints from ALL_TAB_COLUMNS / ALL_CONSTRAINTS. */
export async function readOracleTableInfo(
  conn: Pick<OracleConnectionLike, 'execute'>,
  ref: TableRef,
  identifierCase: 'upper' | 'exact' = 'upper',
): Promise<OracleTableInfo> {
  const owner = oracleName(ref.schema, identifierCase);
  const table = oracleName(ref.table, identifierCase);
  const cols = await conn.execute<[string, string, string, number | null, number | null]>(
    'SELECT column_name, data_type, nullable, data_precision, data_scale FROM all_tab_columns ' +
      'WHERE owner = :1 AND table_name = :2 ORDER BY column_id',
    [owner, table],
    { outFormat: 4001 /* oracledb.OUT_FORMAT_ARRAY */ },
  );
  const colRows = (cols.rows ?? []).map(([n, t, nl, p, sc]) => ({
    name: n,
    dataType: oracleColumnType(t, p, sc),
    nullable: nl === 'Y',
  }));
  if (colRows.length === 0) throw new TargetTableMissingError(ref);
  const cons = await conn.execute<[string, string, string, number]>(
    'SELECT c.constraint_name, c.constraint_type, cc.column_name, cc.position FROM all_constraints c ' +
      'JOIN all_cons_columns cc ON cc.owner = c.owner AND cc.constraint_name = c.constraint_name ' +
      "WHERE c.owner = :1 AND c.table_name = :2 AND c.constraint_type IN ('P', 'U') AND c.status = 'ENABLED'",
    [owner, table],
    { outFormat: 4001 },
  );
  const consRows = (cons.rows ?? []).map(([n, t, c, p]) => ({
    name: n,
    type: t as 'P' | 'U',
    column: c,
    position: p,
  }));
  return chooseOracleTableInfo(ref, colRows, consRows, identifierCase);
}

/** Cached {@link readOracleTableInfo}; `invalidate(table)` after DDL. */
export class OracleTableInfoCache implements TableInfoSource {
  private readonly cache = new Map<string, Promise<OracleTableInfo>>();

  constructor(
    private readonly conn: Pick<OracleConnectionLike, 'execute'>,
    private readonly identifierCase: 'upper' | 'exact' = 'upper',
  ) {}

  get(ref: TableRef): Promise<OracleTableInfo> {
    const k = tableKey(ref);
    let p = this.cache.get(k);
    if (!p) {
      p = readOracleTableInfo(this.conn, ref, this.identifierCase);
      this.cache.set(k, p);
      p.catch(() => {
        if (this.cache.get(k) === p) this.cache.delete(k);
      });
    }
    return p;
  }

  invalidate(ref?: TableRef): void {
    if (ref) this.cache.delete(tableKey(ref));
    else this.cache.clear();
  }
}
