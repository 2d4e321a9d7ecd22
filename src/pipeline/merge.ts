import type { CellValue } from '../binlog/types';
import type { ApplyPlan, KeyKind, MappedChange, MergedOp, Row, TablePlan, TableRef } from './model';
import { tableKey } from './model';
import { type MergeKey, mergeKey } from './values';

/**
 * Per-key merging of a batch (otter's "merge by primary key"): whatever happened to a row inside the
 * batch becomes at most one op per (target table, key):
 *
 *   I+U → upsert (not expectExisting)     U+U → upsert (changed columns united)
 *   any+D → delete                        D+I → upsert (not expectExisting, whole row)
 *   U changing the key k1→k2 → delete k1 + upsert k2 (whole row), merged with what k1/k2 already had
 *
 * Because a plan runs all of a table's deletes before its upserts, and no key has two ops, applying
 * the plan gives the same rows as replaying the source changes one by one (test/unit/pipeline-merge
 * checks this exhaustively for short sequences).
 *
 * Keys compare EXACTLY (see values.ts): 5 and 5n are one key, strings compare by code units. A target
 * whose collation folds case sees 'a' and 'A' as one row; they stay two ops here and are applied in
 * the order the plan holds them, which is still the order the source wrote them — never a wrong merge.
 * Keys must also be unique on the target by the same columns the merger uses (`keyColumnsOf`).
 *
 * Tables without a primary or unique key (`fullRow`, see `keyKindOf`) may hold identical rows, which
 * no per-key merge can represent: their changes stay one op each (an UPDATE is a delete of the old
 * row + an insert of the new one), and when a row value repeats the table gets another entry later in
 * the plan. Appliers run `plan.tables` in order, so the same table appearing twice is replayed in order.
 */

/** The columns identifying a row of a target table (TargetTableInfo.keyColumns, supplied by the activity). */
export type KeyColumnsOf = (target: TableRef) => readonly string[];

/** Apply order of target tables: lower weight first (Mapper.weightOf). */
export type WeightOf = (target: TableRef) => number;

/** One key's merged state. */
interface Entry {
  key: CellValue[];
  op: 'upsert' | 'delete';
  /** Upsert: the row to write. Delete: the last known row (before image). */
  row: Row;
  /** Upsert: an UPDATE of a row the target should have. Delete: the source had the row before the batch. */
  expectExisting: boolean;
  /** Upsert in FIELD mode: changed target columns; undefined = whole row. */
  changed: Set<string> | undefined;
  /** The source had this key before the batch (its first op here was an UPDATE or DELETE). */
  sourceHadRow: boolean;
  /** [bidirectional] The first before image of the key in this batch (only with keepFirstBefore). */
  firstBefore?: Row;
  /** The key's first change in the batch was a re-sync copy (carried to the op as `fromResync`). */
  resync?: true;
}

interface TableState {
  target: TableRef;
  keyColumns: readonly string[];
  entries: Map<MergeKey, Entry>;
  /** Order of first appearance in this batch (tie-break after weight). */
  seq: number;
  /** False for full-row keys: identical rows may repeat, so ops on one key are never combined. */
  mergeable: boolean;
  /** A non-mergeable table starts a new generation (a later TablePlan) when a key repeats. */
  generation: number;
}

/** The current generation of a table's state (what new changes go into). */
interface TableSlot {
  current: TableState;
}

/**
 * How the target identifies rows of a table. `fullRow` tables (no primary or unique key) may hold
 * identical rows, so their changes are kept one op per change, in order, never merged.
 */
export type KeyKindOf = (target: TableRef) => KeyKind;

export class BatchMerger {
  private tables = new Map<TableRef, TableSlot>();
  private byName = new Map<string, TableSlot>();
  private states: TableState[] = [];
  private ops = 0;
  private changes = 0;
  private seq = 0;

  /**
   * `keyKindOf` (TargetTableInfo.keyKind) matters only for `fullRow` tables: without it every table is
   * merged as if its key columns were unique.
   */
  constructor(
    private readonly keyColumnsOf: KeyColumnsOf,
    private readonly weightOf: WeightOf = () => 0,
    private readonly keyKindOf: KeyKindOf = () => 'primary',
    /** [bidirectional] Carry each key's first before image to the plan (`sourceBefore`) for conflict checks. */
    private readonly keepFirstBefore = false,
  ) {}

  /** Number of merged ops held (bounded memory: flush when it reaches the batch limit). */
  size(): number {
    return this.ops;
  }

  /** Number of changes added since the last drain (before merging). */
  changeCount(): number {
    return this.changes;
  }

  /** Add the changes of one source row change (the mapper's output), in source order. */
  addAll(changes: readonly MappedChange[]): void {
    for (const c of changes) this.add(c);
  }

  /** Add one change, in source order. Throws when a key column is missing from a row image. */
  add(change: MappedChange): void {
    this.changes++;
    const slot = this.table(change.target);
    if (!slot.current.mergeable) {
      this.addUnmerged(slot, change);
      return;
    }
    const t = slot.current;
    switch (change.kind) {
      case 'insert':
        this.put(
          t,
          keyOf(t, change.after),
          change.after,
          false,
          undefined,
          'insert',
          undefined,
          undefined,
          change.resync,
        );
        return;
      case 'delete':
        this.remove(t, keyOf(t, change.before), change.before);
        return;
      case 'update': {
        const oldKey = keyOf(t, change.before);
        const newKey = keyOfUpdate(t, change.after, oldKey);
        const oldId = mergeKey(oldKey);
        const newId = newKey === oldKey ? oldId : mergeKey(newKey);
        if (sameKey(oldId, newId)) {
          this.put(t, oldKey, change.after, true, change.changedColumns, 'update', oldId, change.before);
        } else {
          // A key change is a delete of the old row and an insert of the new one; the new key's row is
          // written whole (the target has no row under that key to update column by column).
          const row = fillFrom(change.after, change.before);
          this.remove(t, oldKey, change.before, oldId);
          this.put(t, newKey, row, false, undefined, 'insert', newId);
        }
        return;
      }
    }
  }

  /**
   * Full-row tables: one op per change. A change touching a row value already in the current
   * generation opens a new generation (a later TablePlan for the same table), so that applying the
   * plan's table entries in order replays the changes in order.
   */
  private addUnmerged(slot: TableSlot, change: MappedChange): void {
    let t = slot.current;
    const oldRow = change.kind === 'insert' ? undefined : change.before;
    const newRow = change.kind === 'delete' ? undefined : change.after;
    const oldKey = oldRow && keyOf(t, oldRow);
    const newKey = newRow && keyOf(t, newRow);
    const oldId = oldKey && mergeKey(oldKey);
    const newId = newKey && mergeKey(newKey);
    // An update that leaves the whole mapped row as it was changes nothing on the target.
    if (oldId !== undefined && newId !== undefined && sameKey(oldId, newId)) return;
    if ((oldId !== undefined && t.entries.has(oldId)) || (newId !== undefined && t.entries.has(newId))) {
      t = this.newState(t.target, t.keyColumns, false, t.generation + 1, t.seq);
      slot.current = t;
    }
    if (oldRow && oldKey) this.remove(t, oldKey, oldRow, oldId);
    if (newRow && newKey) this.put(t, newKey, newRow, false, undefined, 'insert', newId);
  }

  /** Empty the merger and return its ops as a plan: tables by weight, then first appearance. */
  drain(): ApplyPlan {
    const states = [...this.states].sort(
      (a, b) =>
        this.weightOf(a.target) - this.weightOf(b.target) || a.seq - b.seq || a.generation - b.generation,
    );
    const tables: TablePlan[] = [];
    for (const s of states) {
      if (s.entries.size === 0) continue;
      const plan: TablePlan = { target: s.target, deletes: [], upserts: [] };
      for (const e of s.entries.values()) {
        if (e.op === 'delete') {
          const op: Extract<MergedOp, { kind: 'delete' }> = {
            kind: 'delete',
            target: s.target,
            key: e.key,
            before: e.row,
            expectExisting: e.expectExisting,
          };
          if (e.firstBefore) op.sourceBefore = e.firstBefore; // [bidirectional]
          plan.deletes.push(op);
        } else {
          const op: Extract<MergedOp, { kind: 'upsert' }> = {
            kind: 'upsert',
            target: s.target,
            key: e.key,
            row: e.row,
            expectExisting: e.expectExisting,
          };
          if (e.changed) op.changedColumns = [...e.row.keys()].filter((c) => e.changed?.has(c));
          if (e.firstBefore) op.sourceBefore = e.firstBefore; // [bidirectional]
          if (e.resync) op.fromResync = true;
          plan.upserts.push(op);
        }
      }
      tables.push(plan);
    }
    this.tables = new Map();
    this.byName = new Map();
    this.states = [];
    this.ops = 0;
    this.changes = 0;
    this.seq = 0;
    return { tables };
  }

  private table(target: TableRef): TableSlot {
    let slot = this.tables.get(target);
    if (slot) return slot;
    // Different TableRef objects for the same table (e.g. from a transform) share one state.
    const name = tableKey(target);
    slot = this.byName.get(name);
    if (!slot) {
      const keyColumns = this.keyColumnsOf(target);
      if (keyColumns.length === 0) throw new Error(`target ${name} has no key columns`);
      const mergeable = this.keyKindOf(target) !== 'fullRow';
      slot = { current: this.newState(target, keyColumns, mergeable, 0, this.seq++) };
      this.byName.set(name, slot);
    }
    this.tables.set(target, slot);
    return slot;
  }

  private newState(
    target: TableRef,
    keyColumns: readonly string[],
    mergeable: boolean,
    generation: number,
    seq: number,
  ): TableState {
    const state: TableState = { target, keyColumns, entries: new Map(), seq, mergeable, generation };
    this.states.push(state);
    return state;
  }

  /** Merge an insert (`cause` 'insert': whole row, not expected to exist) or an update of an existing key. */
  private put(
    t: TableState,
    key: CellValue[],
    row: Row,
    isUpdate: boolean,
    changed: string[] | undefined,
    cause: 'insert' | 'update',
    id: MergeKey = mergeKey(key),
    before?: Row,
    resync?: true,
  ): void {
    const e = t.entries.get(id);
    if (!e) {
      const entry: Entry = {
        key,
        op: 'upsert',
        row,
        expectExisting: isUpdate,
        changed: cause === 'update' && changed ? new Set(changed) : undefined,
        sourceHadRow: isUpdate,
      };
      if (this.keepFirstBefore && isUpdate && before) entry.firstBefore = before; // [bidirectional]
      if (resync) entry.resync = true;
      t.entries.set(id, entry);
      this.ops++;
      return;
    }
    if (e.op === 'delete' || cause === 'insert') {
      // D+I (or a replayed I): the row is written whole and the target need not have it.
      e.op = 'upsert';
      e.row = cause === 'insert' ? row : fillFrom(row, e.row);
      e.expectExisting = false;
      e.changed = undefined;
      return;
    }
    // U after I or U: the latest image wins; FIELD changed columns accumulate (whole row stays whole).
    e.row = fillFrom(row, e.row);
    if (e.changed) {
      if (changed) for (const c of changed) e.changed.add(c);
      else e.changed = undefined;
    }
  }

  private remove(t: TableState, key: CellValue[], before: Row, id: MergeKey = mergeKey(key)): void {
    const e = t.entries.get(id);
    if (!e) {
      const entry: Entry = {
        key,
        op: 'delete',
        row: before,
        expectExisting: true,
        changed: undefined,
        sourceHadRow: true,
      };
      if (this.keepFirstBefore) entry.firstBefore = before; // [bidirectional]
      t.entries.set(id, entry);
      this.ops++;
      return;
    }
    if (e.op === 'delete') return; // cannot happen on a consistent source; the delete stands
    // any+D → D. The target should have the row at apply time (deletes run first, on the state before
    // the batch) exactly when the source had it before the batch; I+D leaves a delete that may miss.
    e.op = 'delete';
    e.row = before;
    e.changed = undefined;
    e.expectExisting = e.sourceHadRow;
  }
}

/** Key values of a row; a missing key column means the mapping dropped it, which cannot be applied. */
function keyOf(t: TableState, row: Row): CellValue[] {
  const cols = t.keyColumns;
  const key = new Array<CellValue>(cols.length);
  for (let i = 0; i < cols.length; i++) {
    const v = row.get(cols[i] as string);
    if (v === undefined) {
      throw new Error(
        `key column ${cols[i]} of ${tableKey(t.target)} is absent from the row: is it excluded by the mapping?`,
      );
    }
    key[i] = v;
  }
  return key;
}

/** The after-image key of an update; a key column absent from the after image kept its old value. */
function keyOfUpdate(t: TableState, after: Row, oldKey: CellValue[]): CellValue[] {
  const cols = t.keyColumns;
  let key: CellValue[] | undefined;
  for (let i = 0; i < cols.length; i++) {
    const v = after.get(cols[i] as string);
    if (v === undefined) continue;
    key ??= oldKey.slice();
    key[i] = v;
  }
  return key ?? oldKey;
}

/** `row` completed with the columns only `base` has (partial images, MINIMAL/NOBLOB). */
function fillFrom(row: Row, base: Row): Row {
  if (row.size >= base.size) return row;
  const out = new Map(base);
  for (const [k, v] of row) out.set(k, v);
  return out;
}

/** Map identity of two merge keys (SameValueZero: NaN is itself, like its encodeKey spelling). */
function sameKey(a: MergeKey, b: MergeKey): boolean {
  return a === b || (Number.isNaN(a) && Number.isNaN(b));
}
