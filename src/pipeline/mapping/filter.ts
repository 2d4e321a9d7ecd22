import { type CellValue, type ColumnDef, ColumnType, type RowImage } from '../../binlog/types';
import type { FilterExpr, FilterScalar } from '../config';

/**
 * Row filters, compiled once per source table into closures over column ordinals, so that a row is
 * tested without lookups by name, regex construction or allocation.
 *
 * Values are compared by the column's type, following the decoder's value representation
 * (src/binlog/types.ts): integers as numbers or bigints (BIGINT), DECIMAL as exact decimal strings,
 * TIME by its signed duration, DATE/DATETIME/TIMESTAMP as their MySQL text (which sorts correctly as
 * text), character columns by UTF-16 code units — i.e. case-sensitive and accent-sensitive, whatever
 * the column's collation — and binary columns by bytes. SQL NULL satisfies only `isNull` (and `!=`
 * is false against NULL, as in SQL). `like` supports `%`, `_` and `\` escapes and is case-sensitive.
 */

/** Reads a column of the row being tested; `undefined` when the column is absent from the image. */
export type ColumnReader = (ordinal: number) => CellValue | undefined;

/** A compiled filter: true keeps the row. */
export type RowPredicate = (image: RowImage, fallback?: RowImage) => boolean;

/** Thrown when a filter cannot apply to a table (unknown column, value of the wrong type). */
export class FilterError extends Error {}

type Category = 'int' | 'float' | 'decimal' | 'time' | 'text' | 'bytes';

function categoryOf(col: ColumnDef): Category {
  switch (col.type) {
    case ColumnType.TINY:
    case ColumnType.SHORT:
    case ColumnType.INT24:
    case ColumnType.LONG:
    case ColumnType.LONGLONG:
    case ColumnType.YEAR:
      return 'int';
    case ColumnType.FLOAT:
    case ColumnType.DOUBLE:
      return 'float';
    case ColumnType.DECIMAL:
    case ColumnType.NEWDECIMAL:
      return 'decimal';
    case ColumnType.TIME:
    case ColumnType.TIME2:
      return 'time';
    case ColumnType.BIT:
    case ColumnType.GEOMETRY:
      return 'bytes';
    default:
      // Character, BLOB, ENUM/SET, JSON, dates: text when decoded as strings; Buffers compare by bytes.
      return col.charset === 63 && isStringType(col.type) ? 'bytes' : 'text';
  }
}

function isStringType(t: number): boolean {
  return (
    t === ColumnType.VARCHAR ||
    t === ColumnType.VAR_STRING ||
    t === ColumnType.STRING ||
    t === ColumnType.BLOB ||
    t === ColumnType.TINY_BLOB ||
    t === ColumnType.MEDIUM_BLOB ||
    t === ColumnType.LONG_BLOB
  );
}

/**
 * Compile a filter for one source table. The row is read from `image`; a column absent there is read
 * from `fallback` (an update's other image); a condition on a column absent from both is false.
 */
export function compileFilter(expr: FilterExpr, columns: readonly ColumnDef[]): RowPredicate {
  const byName = new Map(columns.map((c, i) => [c.name, i] as const));
  const node = compileNode(expr, columns, byName);
  return (image, fallback) =>
    node((i) => {
      const v = image[i];
      return v === undefined && fallback ? fallback[i] : v;
    });
}

type Node = (read: ColumnReader) => boolean;

function compileNode(expr: FilterExpr, columns: readonly ColumnDef[], byName: Map<string, number>): Node {
  if (expr.all) {
    const parts = expr.all.map((e) => compileNode(e, columns, byName));
    return (read) => parts.every((p) => p(read));
  }
  if (expr.any) {
    const parts = expr.any.map((e) => compileNode(e, columns, byName));
    return (read) => parts.some((p) => p(read));
  }
  if (expr.not) {
    const inner = compileNode(expr.not, columns, byName);
    return (read) => !inner(read);
  }
  const name = expr.column ?? '';
  const ordinal = byName.get(name);
  if (ordinal === undefined)
    throw new FilterError(`filter column ${name} does not exist in the source table`);
  const col = columns[ordinal] as ColumnDef;
  const category = categoryOf(col);
  const op = expr.op;
  switch (op) {
    case 'isNull':
      return (read) => read(ordinal) === null;
    case 'notNull':
      return (read) => {
        const v = read(ordinal);
        return v !== null && v !== undefined;
      };
    case 'like': {
      const re = likeToRegExp(String(expr.value));
      return (read) => {
        const v = read(ordinal);
        if (v === null || v === undefined) return false;
        return re.test(typeof v === 'string' ? v : Buffer.isBuffer(v) ? v.toString('utf8') : String(v));
      };
    }
    case 'in': {
      const values = (Array.isArray(expr.value) ? expr.value : []).map((x) => constant(x, category, name));
      return (read) => {
        const v = read(ordinal);
        if (v === null || v === undefined) return false;
        for (const c of values) if (compare(v, c) === 0) return true;
        return false;
      };
    }
    case '=':
    case '!=':
    case '<':
    case '<=':
    case '>':
    case '>=': {
      const c = constant(expr.value as FilterScalar, category, name);
      const test = comparisonTest(op);
      return (read) => {
        const v = read(ordinal);
        if (v === null || v === undefined) return false;
        return test(compare(v, c));
      };
    }
    default:
      throw new FilterError(`unknown filter op ${String(op)}`);
  }
}

function comparisonTest(op: '=' | '!=' | '<' | '<=' | '>' | '>='): (c: number) => boolean {
  switch (op) {
    case '=':
      return (c) => c === 0;
    case '!=':
      return (c) => c !== 0;
    case '<':
      return (c) => c < 0;
    case '<=':
      return (c) => c <= 0;
    case '>':
      return (c) => c > 0;
    case '>=':
      return (c) => c >= 0;
  }
}

/** A filter constant prepared for its column's category, so rows compare without conversions of it. */
type Constant =
  | { kind: 'int'; big: bigint; num: number; integral: boolean }
  | { kind: 'float'; num: number }
  | { kind: 'decimal'; dec: Decimal; fast: number | undefined }
  | { kind: 'time'; micros: number }
  | { kind: 'text'; text: string; bytes: Buffer };

function constant(value: FilterScalar, category: Category, column: string): Constant {
  const v = typeof value === 'boolean' ? (value ? 1 : 0) : value;
  switch (category) {
    case 'int':
    case 'float': {
      const text = String(v).trim();
      if (typeof v === 'string' && !/^[-+]?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?$/.test(text)) {
        throw new FilterError(`filter on ${column}: ${JSON.stringify(v)} is not a number`);
      }
      if (category === 'float') return { kind: 'float', num: Number(text) };
      const integral = /^[-+]?\d+$/.test(text);
      const num = Number(text);
      return { kind: 'int', big: integral ? BigInt(text) : BigInt(Math.trunc(num)), num, integral };
    }
    case 'decimal': {
      const dec = parseDecimal(String(v).trim());
      if (!dec) throw new FilterError(`filter on ${column}: ${JSON.stringify(v)} is not a decimal number`);
      const digits = dec.int.length + dec.frac.length;
      return { kind: 'decimal', dec, fast: digits <= 15 ? Number(String(v).trim()) : undefined };
    }
    case 'time': {
      const micros = typeof v === 'number' ? undefined : parseTime(v);
      if (micros === undefined)
        throw new FilterError(`filter on ${column}: ${JSON.stringify(v)} is not a TIME 'HH:MM:SS'`);
      return { kind: 'time', micros };
    }
    default: {
      const text = String(v);
      return { kind: 'text', text, bytes: Buffer.from(text, 'utf8') };
    }
  }
}

/** Sign of (cell − constant). Cells of an unexpected runtime type fall back to a text comparison. */
function compare(cell: CellValue, c: Constant): number {
  switch (c.kind) {
    case 'int':
      if (typeof cell === 'bigint') {
        if (c.integral) return cell < c.big ? -1 : cell > c.big ? 1 : 0;
        return cmpNum(Number(cell), c.num);
      }
      if (typeof cell === 'number') return cmpNum(cell, c.num);
      break;
    case 'float':
      if (typeof cell === 'number') return cmpNum(cell, c.num);
      if (typeof cell === 'bigint') return cmpNum(Number(cell), c.num);
      break;
    case 'decimal':
      if (typeof cell === 'string') {
        // Decimals of at most 15 digits convert to doubles exactly enough to keep their order.
        if (c.fast !== undefined && decimalDigits(cell) <= 15) {
          const n = Number(cell);
          if (!Number.isNaN(n) && cell !== '') return cmpNum(n, c.fast);
        }
        const d = parseDecimal(cell);
        if (d) return compareDecimal(d, c.dec);
      }
      if (typeof cell === 'number' || typeof cell === 'bigint') {
        const d = parseDecimal(String(cell));
        if (d) return compareDecimal(d, c.dec);
      }
      break;
    case 'time':
      if (typeof cell === 'string') {
        const m = parseTime(cell);
        if (m !== undefined) return cmpNum(m, c.micros);
      }
      break;
    case 'text':
      if (typeof cell === 'string') return cell < c.text ? -1 : cell > c.text ? 1 : 0;
      if (Buffer.isBuffer(cell)) return Buffer.compare(cell, c.bytes);
      break;
  }
  const text = Buffer.isBuffer(cell) ? cell.toString('utf8') : String(cell);
  const other = c.kind === 'text' ? c.text : constantText(c);
  return text < other ? -1 : text > other ? 1 : 0;
}

function constantText(c: Constant): string {
  switch (c.kind) {
    case 'int':
      return c.integral ? c.big.toString() : String(c.num);
    case 'float':
      return String(c.num);
    case 'decimal':
      return (c.dec.negative ? '-' : '') + c.dec.int + (c.dec.frac ? `.${c.dec.frac}` : '');
    case 'time':
      return String(c.micros);
    case 'text':
      return c.text;
  }
}

function cmpNum(a: number, b: number): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Digits of a decimal string (sign and point not counted; leading zeros counted, which is safe). */
function decimalDigits(s: string): number {
  let n = s.length;
  if (s.charCodeAt(0) === 45 || s.charCodeAt(0) === 43) n--;
  if (s.indexOf('.') >= 0) n--;
  return n;
}

/** An exact decimal: digits without leading zeros (int) and without trailing zeros (frac). */
interface Decimal {
  negative: boolean;
  int: string;
  frac: string;
}

export function parseDecimal(text: string): Decimal | undefined {
  const m = /^([-+]?)(\d*)(?:\.(\d*))?$/.exec(text);
  if (!m || (m[2] === '' && (m[3] ?? '') === '')) return undefined;
  const int = (m[2] ?? '').replace(/^0+/, '');
  const frac = (m[3] ?? '').replace(/0+$/, '');
  // -0 and 0 are the same number.
  return { negative: m[1] === '-' && (int !== '' || frac !== ''), int, frac };
}

/** Compare two exact decimals without converting them to floating point. */
export function compareDecimal(a: Decimal, b: Decimal): number {
  if (a.negative !== b.negative) return a.negative ? -1 : 1;
  const sign = a.negative ? -1 : 1;
  if (a.int.length !== b.int.length) return a.int.length < b.int.length ? -sign : sign;
  if (a.int !== b.int) return a.int < b.int ? -sign : sign;
  const len = Math.max(a.frac.length, b.frac.length);
  const af = a.frac.padEnd(len, '0');
  const bf = b.frac.padEnd(len, '0');
  return af === bf ? 0 : af < bf ? -sign : sign;
}

/** TIME text (`[-]HHH:MM:SS[.ffffff]`) → signed microseconds; undefined when malformed. */
export function parseTime(text: string): number | undefined {
  const m = /^(-?)(\d+):(\d{2}):(\d{2})(?:\.(\d{1,6}))?$/.exec(text.trim());
  if (!m) return undefined;
  const micros =
    ((Number(m[2]) * 60 + Number(m[3])) * 60 + Number(m[4])) * 1_000_000 +
    Number((m[5] ?? '').padEnd(6, '0'));
  return m[1] === '-' ? -micros : micros;
}

/** SQL LIKE (`%`, `_`, backslash escape) → an anchored, case-sensitive RegExp. */
export function likeToRegExp(pattern: string): RegExp {
  let out = '';
  for (let i = 0; i < pattern.length; i++) {
    const ch = pattern[i] as string;
    if (ch === '\\' && i + 1 < pattern.length) {
      out += escapeRegExp(pattern[++i] as string);
    } else if (ch === '%') out += '[\\s\\S]*';
    else if (ch === '_') out += '[\\s\\S]';
    else out += escapeRegExp(ch);
  }
  return new RegExp(`^${out}$`, 'u');
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
}
