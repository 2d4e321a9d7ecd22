import type { CellValue } from '../binlog/types';

/**
 * The pipeline's view of rows after mapping: target table names and target column names.
 * Produced by the mapper (src/pipeline/mapping), merged per key (src/pipeline/merge.ts), turned into an
 * apply plan (src/pipeline/plan.ts) and executed by a target dialect (src/connectors/<db>/).
 */

/** A row keyed by TARGET column name. Only columns present in the image appear. */
export type Row = Map<string, CellValue>;

export interface TableRef {
  schema: string;
  table: string;
}

/** `schema.table` — a stable key for maps; never used as SQL (dialects quote names themselves). */
export function tableKey(t: TableRef): string {
  return `${t.schema}.${t.table}`;
}

/** One source row change after mapping, addressed to one target table. */
export type MappedChange =
  | {
      kind: 'insert';
      target: TableRef;
      after: Row;
      /**
       * A re-sync copy of the source's current row (backfill), not a source INSERT: the target may hold
       * any older version of it, which is what the copy repairs — never a write conflict.
       */
      resync?: true;
    }
  | {
      kind: 'update';
      target: TableRef;
      before: Row;
      after: Row;
      /**
       * FIELD sync mode only: target columns this update changed, widened to their column groups
       * (set by the mapper; undefined means the whole row).
       */
      changedColumns?: string[];
    }
  | { kind: 'delete'; target: TableRef; before: Row };

/**
 * How the target identifies a row. `fullRow` is the fallback for tables with neither a primary nor a
 * unique key: every column is compared (NULL-safe), and the status shows a warning.
 */
export type KeyKind = 'primary' | 'unique' | 'fullRow';

/** What the applier knows about a target table (read once from the target's catalog and cached). */
export interface TargetTableInfo {
  ref: TableRef;
  /** All columns, in table order. */
  columns: string[];
  /** Columns that identify a row: the primary key, else the first NOT NULL unique key, else all columns. */
  keyColumns: string[];
  keyKind: KeyKind;
}

/**
 * The net effect of a batch on one row, after per-key merging (I+U→I, U+U→U, any+D→D, D+I→I).
 * A key change (UPDATE that changes the key) is carried as `delete` of the old key plus `upsert`
 * of the new key; because a plan applies all deletes before all upserts and holds at most one
 * operation per key, the result equals the sequential replay.
 */
export type MergedOp =
  | {
      kind: 'upsert';
      target: TableRef;
      key: CellValue[];
      row: Row;
      /** True when the source changed an existing row (an UPDATE): a missing target row is reported. */
      expectExisting: boolean;
      /** FIELD sync mode: only these columns changed (undefined in ROW mode: write the whole row). */
      changedColumns?: string[];
      /**
       * [bidirectional] The source row as it was before the batch touched this key (the FIRST before
       * image), when the source had the row. Set only by a merger built with `keepFirstBefore`
       * (channel pipelines compare it with the target row to detect write conflicts).
       */
      sourceBefore?: Row;
      /** [bidirectional] The key's first change in the batch was a re-sync copy (MappedChange `resync`). */
      fromResync?: true;
    }
  | {
      kind: 'delete';
      target: TableRef;
      key: CellValue[];
      before: Row;
      /**
       * False when the row was created earlier in the same batch (insert then delete), so a missing
       * target row is expected and not worth reporting; true/undefined: the source had the row.
       */
      expectExisting?: boolean;
      /** [bidirectional] As for upserts: the first before image of this key in the batch. */
      sourceBefore?: Row;
    };

/** Statements for one target table, in the order they must run: deletes, then upserts. */
export interface TablePlan {
  target: TableRef;
  deletes: Extract<MergedOp, { kind: 'delete' }>[];
  upserts: Extract<MergedOp, { kind: 'upsert' }>[];
}

/**
 * A batch ready to apply: tables in dependency (weight) order; apply the entries in array order.
 * A table may appear more than once (a full-row-key table whose identical rows changed repeatedly).
 */
export interface ApplyPlan {
  tables: TablePlan[];
}

/** Counters returned by an applier; small enough to travel through Temporal. */
export interface ApplyStats {
  inserted: number;
  updated: number;
  deleted: number;
  /** UPDATEs whose row was missing on the target (written anyway as an insert, and reported). */
  missingOnUpdate: number;
  /** DELETEs whose row was already gone on the target. */
  missingOnDelete: number;
  /**
   * Empty strings stored as NULL because the target does not tell them apart (Oracle); absent for
   * targets that store them as they are.
   */
  emptyAsNull?: number;
}

export function emptyStats(): ApplyStats {
  return { inserted: 0, updated: 0, deleted: 0, missingOnUpdate: 0, missingOnDelete: 0 };
}
