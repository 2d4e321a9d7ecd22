import type { CellValue, ColumnDef, RowImage } from '../../binlog/types';
import type { ColumnsConfig } from '../config';
import type { Row } from '../model';
import { cellEquals } from '../values';
import { PackedRow, RowLayout } from './packed-row';

/**
 * Column projection of one mapping for one source table: which source ordinals are sent and under
 * which target names, compiled once per table so that projecting a row is a loop over two arrays.
 */
export interface Projection {
  /** Source column ordinals, in source table order. */
  ordinals: number[];
  /** Target column name of each projected column (same index as `ordinals`). */
  names: string[];
  /** FIELD mode: for each projected column, the projected indexes of its group (undefined: no group). */
  groupOf: (number[] | undefined)[];
  /** True when every source column is sent under its own name (lets callers skip some work). */
  identity: boolean;
  /** Shared by the rows projectRow builds with every column present (made on first use). */
  layout?: RowLayout;
}

/** The column configuration does not fit the source table (an included column is missing). */
export class ColumnMappingError extends Error {}

/**
 * Compile the projection of `config` (include with renames, or exclude, plus groups) for a table.
 * Excluding or grouping a column the table lacks is tolerated (it may have been dropped); including
 * one is an error, because the target would silently miss data the user asked for.
 */
export function compileProjection(
  columns: readonly ColumnDef[],
  config: ColumnsConfig | undefined,
): Projection {
  const ordinals: number[] = [];
  const names: string[] = [];
  if (config?.include) {
    const rename = new Map<string, string>();
    for (const entry of config.include) {
      if (typeof entry === 'string') rename.set(entry, entry);
      else rename.set(entry.from, entry.to);
    }
    const present = new Set(columns.map((c) => c.name));
    const missing = [...rename.keys()].filter((n) => !present.has(n));
    if (missing.length) {
      throw new ColumnMappingError(`included column(s) ${missing.join(', ')} not found in the source table`);
    }
    columns.forEach((c, i) => {
      const to = rename.get(c.name);
      if (to !== undefined) {
        ordinals.push(i);
        names.push(to);
      }
    });
  } else {
    const excluded = new Set(config?.exclude ?? []);
    columns.forEach((c, i) => {
      if (!excluded.has(c.name)) {
        ordinals.push(i);
        names.push(c.name);
      }
    });
  }
  const groupOf: (number[] | undefined)[] = names.map(() => undefined);
  for (const group of config?.groups ?? []) {
    const members = group
      .map((source) => ordinals.findIndex((o) => columns[o]?.name === source))
      .filter((j) => j >= 0);
    for (const j of members) groupOf[j] = members;
  }
  const identity = ordinals.length === columns.length && names.every((n, j) => n === columns[j]?.name);
  return { ordinals, names, groupOf, identity };
}

/**
 * The target row of an image: projected columns that are present (absent ones stay absent, or are
 * taken from `fallback` — an update's before image — when the row must be written whole).
 */
export function projectRow(p: Projection, image: RowImage, fallback?: RowImage): Row {
  const { ordinals } = p;
  const cells = new Array<CellValue>(ordinals.length);
  for (let j = 0; j < ordinals.length; j++) {
    const o = ordinals[j] as number;
    let v = image[o];
    if (v === undefined && fallback) v = fallback[o];
    // A column absent from the image (MINIMAL row images): the row keeps only the present ones.
    if (v === undefined) return sparseRow(p, image, fallback);
    cells[j] = v;
  }
  p.layout ??= new RowLayout(p.names);
  return new PackedRow(p.layout, cells);
}

function sparseRow(p: Projection, image: RowImage, fallback?: RowImage): Row {
  const row: Row = new Map();
  const { ordinals, names } = p;
  for (let j = 0; j < ordinals.length; j++) {
    const o = ordinals[j] as number;
    let v = image[o];
    if (v === undefined && fallback) v = fallback[o];
    if (v !== undefined) row.set(names[j] as string, v);
  }
  return row;
}

/**
 * FIELD mode: target names of the projected columns an update changed, widened to whole groups, in
 * table order. A column absent from the after image did not change; one absent only from the before
 * image is taken as changed (it cannot be proven equal).
 */
export function changedColumns(p: Projection, before: RowImage, after: RowImage): string[] {
  const { ordinals, names, groupOf } = p;
  let changed: boolean[] | undefined;
  for (let j = 0; j < ordinals.length; j++) {
    const o = ordinals[j] as number;
    const a = after[o];
    if (a === undefined) continue;
    const b = before[o];
    if (b !== undefined && cellEquals(a, b)) continue;
    changed ??= new Array<boolean>(ordinals.length).fill(false);
    changed[j] = true;
    const group = groupOf[j];
    if (group) for (const g of group) changed[g] = true;
  }
  if (!changed) return [];
  const out: string[] = [];
  // A group member absent from the after image has no value to write, so it stays out.
  for (let j = 0; j < changed.length; j++) {
    if (changed[j] && after[ordinals[j] as number] !== undefined) out.push(names[j] as string);
  }
  return out;
}
