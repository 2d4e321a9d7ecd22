import { keyCompare, type SqlFragment } from '../backfill/keys';
import type { CellValue } from '../binlog/types';
import { quoteMysqlIdentifier } from '../connectors/mysql/source';
import type { KeyRange } from './contract';
import { ComparisonPlanError } from './table-plan';

/**
 * A verification's key range (docs/verification.md, "Key range"): bounds on the TARGET key, both
 * inclusive, in the target key's column order, applied as a condition to the rows both sides read —
 * so, unlike `where`, a row only on the target inside the range is found. Pure.
 */

/** A key range with values of the key columns' types (integers as bigint, so no digit is lost). */
export interface TypedKeyRange {
  from?: CellValue[];
  to?: CellValue[];
}

const INTEGER_TYPES = new Set(['tinyint', 'smallint', 'mediumint', 'int', 'integer', 'bigint']);

/** One problem with a bound: the field (`keyRange.from`) and what is wrong. */
export interface KeyRangeProblem {
  path: string;
  message: string;
}

/**
 * What is wrong with a range for a key of these columns (information_schema DATA_TYPE each): a bound
 * with another number of values than the key has columns, an integer column given something else.
 */
export function keyRangeProblems(
  range: KeyRange,
  key: readonly { name: string; dataType: string }[],
  table: string,
): KeyRangeProblem[] {
  const problems: KeyRangeProblem[] = [];
  for (const side of ['from', 'to'] as const) {
    const values = range[side];
    if (!values) continue;
    const path = `keyRange.${side}`;
    if (values.length !== key.length) {
      problems.push({
        path,
        message: `${table}'s key is ${key.length} column(s) (${key.map((k) => k.name).join(', ')}): give ${key.length} value(s), not ${values.length}`,
      });
      continue;
    }
    values.forEach((v, i) => {
      const col = key[i];
      if (col && INTEGER_TYPES.has(col.dataType) && !/^-?\d{1,20}$/.test(String(v).trim()))
        problems.push({
          path: `${path}.${i}`,
          message: `${col.name} is an integer column: ${JSON.stringify(v)} is not an integer`,
        });
    });
  }
  if (problems.length === 0 && range.from && range.to) {
    const types = key.map((k) => k.dataType);
    const typed = typedKeyRange(range, types);
    if (typed.from && typed.to && numericCompare(typed.from, typed.to) === 1)
      problems.push({
        path: 'keyRange',
        message: `from (${range.from.join(',')}) is after to (${range.to.join(',')})`,
      });
  }
  return problems;
}

/** The range with integer columns' values as bigint (the driver writes them as exact literals). */
export function typedKeyRange(range: KeyRange, dataTypes: readonly string[]): TypedKeyRange {
  const typed = (values: (string | number)[]) =>
    values.map((v, i): CellValue => (INTEGER_TYPES.has(dataTypes[i] ?? '') ? BigInt(String(v).trim()) : v));
  return {
    ...(range.from ? { from: typed(range.from) } : {}),
    ...(range.to ? { to: typed(range.to) } : {}),
  };
}

/** `key >= from AND key <= to` over this side's names of the target key columns. */
export function keyRangeCondition(columns: readonly string[], range: TypedKeyRange): SqlFragment {
  const conds: string[] = [];
  const params: CellValue[] = [];
  if (range.from) {
    const below = keyBelow(columns, range.from);
    conds.push(`NOT ${below.sql}`);
    params.push(...below.params);
  }
  if (range.to) {
    const upTo = keyCompare(columns, range.to, '<=');
    conds.push(upTo.sql);
    params.push(...upTo.params);
  }
  return { sql: conds.length ? conds.join(' AND ') : 'TRUE', params };
}

/** `(k1, …) < (v1, …)` in the expanded OR form (as keyCompare writes `>`), parenthesised. */
function keyBelow(columns: readonly string[], key: readonly CellValue[]): SqlFragment {
  if (columns.length !== key.length || columns.length === 0)
    throw new Error(`key has ${key.length} values for ${columns.length} key columns`);
  const q = columns.map(quoteMysqlIdentifier);
  const ors: string[] = [];
  const params: CellValue[] = [];
  for (let i = 0; i < q.length; i++) {
    const ands = q.slice(0, i).map((c) => `${c} = ?`);
    ands.push(`${q[i]} < ?`);
    params.push(...key.slice(0, i + 1));
    ors.push(`(${ands.join(' AND ')})`);
  }
  return { sql: `(${ors.join(' OR ')})`, params };
}

/**
 * Whether a planned chunk (after, upTo] may hold keys of the range. Decided only where the values
 * compare as numbers in JavaScript (integer keys, the usual case): other keys compare by the
 * servers' collations, so those chunks are kept and the range condition selects their rows.
 */
export function chunkMayOverlap(
  chunk: { after?: CellValue[]; upTo?: CellValue[] },
  range: TypedKeyRange,
): boolean {
  if (range.from && chunk.upTo && numericCompare(chunk.upTo, range.from) === -1) return false;
  const above = range.to && chunk.after ? numericCompare(chunk.after, range.to) : undefined;
  return !(above === 0 || above === 1);
}

/** -1, 0, 1 comparing two keys column by column; undefined when a column met is not numeric on both. */
export function numericCompare(a: readonly CellValue[], b: readonly CellValue[]): -1 | 0 | 1 | undefined {
  for (let i = 0; i < Math.min(a.length, b.length); i++) {
    const x = asBigint(a[i]);
    const y = asBigint(b[i]);
    if (x === undefined || y === undefined) return undefined;
    if (x < y) return -1;
    if (x > y) return 1;
  }
  return 0;
}

function asBigint(v: CellValue | undefined): bigint | undefined {
  if (typeof v === 'bigint') return v;
  if (typeof v === 'number' && Number.isInteger(v)) return BigInt(v);
  return undefined;
}

/**
 * Whether a key lies inside a range, judged in the worker (the comparison computed in the worker reads
 * whole chunks and keeps the rows in range on both sides alike): integers (and integer text) by value,
 * anything else by its text in code-point order — not the servers' collation, but the same rule on both
 * sides, so a row is never in range on one side only.
 */
export function inKeyRange(key: readonly CellValue[], range: TypedKeyRange): boolean {
  if (range.from && compareKeys(key, range.from) < 0) return false;
  if (range.to && compareKeys(key, range.to) > 0) return false;
  return true;
}

function compareKeys(a: readonly CellValue[], b: readonly CellValue[]): number {
  for (let i = 0; i < Math.min(a.length, b.length); i++) {
    const x = a[i] ?? null;
    const y = b[i] ?? null;
    const xi = asBigint(x) ?? integerText(x);
    const yi = asBigint(y) ?? integerText(y);
    let c: number;
    if (xi !== undefined && yi !== undefined) c = xi < yi ? -1 : xi > yi ? 1 : 0;
    else {
      const xs = textOf(x);
      const ys = textOf(y);
      c = xs < ys ? -1 : xs > ys ? 1 : 0;
    }
    if (c !== 0) return c;
  }
  return 0;
}

function integerText(v: CellValue): bigint | undefined {
  return typeof v === 'string' && /^-?\d{1,20}$/.test(v) ? BigInt(v) : undefined;
}

function textOf(v: CellValue): string {
  if (v === null) return '';
  if (Buffer.isBuffer(v)) return v.toString('hex');
  return String(v);
}

/** The key columns of a comparison's target side with their types, in key order. */
export function keyColumnTypes(target: {
  keyColumns: readonly string[];
  columns: readonly { name: string; dataType: string }[];
}): { name: string; dataType: string }[] {
  return target.keyColumns.map((name) => ({
    name,
    dataType: target.columns.find((c) => c.name === name)?.dataType ?? '',
  }));
}

/**
 * The planned chunks of a table that may hold keys of the range (all of them without one); at least
 * one stays, so the table is in the report even when the range holds none of its keys. A range that
 * does not fit the table's key is refused (the API checks the same before starting).
 */
export function chunksInKeyRange<C extends { after?: CellValue[]; upTo?: CellValue[] }>(
  planned: readonly C[],
  target: {
    ref: { schema: string; table: string };
    keyColumns: readonly string[];
    columns: readonly { name: string; dataType: string }[];
  },
  range: KeyRange | undefined,
): C[] {
  if (!range) return [...planned];
  const key = keyColumnTypes(target);
  const problems = keyRangeProblems(range, key, `${target.ref.schema}.${target.ref.table}`);
  if (problems.length)
    throw new ComparisonPlanError(problems.map((p) => `${p.path}: ${p.message}`).join('; '));
  const typed = typedKeyRange(
    range,
    key.map((k) => k.dataType),
  );
  const kept = planned.filter((c) => chunkMayOverlap(c, typed));
  return kept.length ? kept : planned.slice(0, 1);
}
