import oracledb from 'oracledb';
import type { CellValue } from '../../binlog/types';

/**
 * How MySQL/MariaDB values (CellValues, docs/value-representation.md) become Oracle binds, decided by
 * the target column's type. Pure; unit-tested without a server. The rule is the same as for MySQL
 * targets: a value is stored exactly or the apply fails with a message naming the column — Oracle's
 * silent roundings (NUMBER scale and 38 digits, TIMESTAMP precision, DATE without fractions) are
 * checked here before the value is sent. The one divergence Oracle forces, `'' = NULL`, is counted
 * per column (or refused with `emptyStrings: 'error'`), never silent.
 */

/**
 * Oracle column type as the table-info reader spells it: ALL_TAB_COLUMNS.DATA_TYPE, with precision
 * and scale for NUMBER (`NUMBER(10,2)`, `NUMBER(20,0)`, bare `NUMBER` when unconstrained) and FLOAT
 * (`FLOAT(126)`). TIMESTAMP carries its precision in DATA_TYPE already (`TIMESTAMP(6)`).
 */
export type OracleDataType = string;

/**
 * What to do with MySQL zero dates ('0000-00-00', '2020-00-15'), which Oracle cannot store:
 * `error` (default) stops with a message naming the column, `null` stores NULL.
 */
export type ZeroDatePolicy = 'error' | 'null';

/**
 * Oracle stores a zero-length string (and RAW, and LOB bind) as NULL. `null` (default): store NULL,
 * count it per column (the status shows the counts); `error`: refuse the row, naming the column.
 */
export type EmptyStringPolicy = 'null' | 'error';

export interface OracleValueOptions {
  zeroDates?: ZeroDatePolicy;
  emptyStrings?: EmptyStringPolicy;
}

/** Raised for a value Oracle cannot hold exactly (or under the configured policy). */
export class OracleValueError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'OracleValueError';
  }
}

/**
 * Counts values a conversion changed in a way Oracle forces: empty strings stored as NULL, per
 * `schema.table.column`. One tally per chunk of binds; the applier adds a chunk's tally to the
 * batch's only after the chunk ran.
 */
export class ValueTally {
  readonly emptyAsNull = new Map<string, number>();
  /** For a chunk's tally: the bind row of each counted value (an UPDATE counts only rows it found). */
  private readonly rows: Array<{ row: number; column: string }> = [];

  noteEmpty(column: string): void {
    this.emptyAsNull.set(column, (this.emptyAsNull.get(column) ?? 0) + 1);
  }

  /** Adds one converted row's tally as bind row `row` of a chunk. */
  addRow(row: number, rowTally: ValueTally): void {
    for (const [column, n] of rowTally.emptyAsNull)
      for (let i = 0; i < n; i++) {
        this.noteEmpty(column);
        this.rows.push({ row, column });
      }
  }

  /** The part of a chunk's tally whose bind rows pass `keep` (e.g. the rows an UPDATE found). */
  onlyRows(keep: (row: number) => boolean): ValueTally {
    const out = new ValueTally();
    for (const r of this.rows) if (keep(r.row)) out.noteEmpty(r.column);
    return out;
  }

  get total(): number {
    let n = 0;
    for (const v of this.emptyAsNull.values()) n += v;
    return n;
  }

  addTo(into: ValueTally): void {
    for (const [c, n] of this.emptyAsNull) into.emptyAsNull.set(c, (into.emptyAsNull.get(c) ?? 0) + n);
  }
}

/** Which bind type and SQL wrapper a column's values need. */
export interface ColumnBinding {
  type: oracledb.DbType;
  /** SQL around the placeholder, `$` standing for `:n`. */
  expr: string;
  /** `column` names the value in errors and tallies (`schema.table.column`). */
  convert: (v: CellValue, column: string, tally: ValueTally) => unknown;
  /** Whether `=` can compare the column (LOBs cannot). */
  comparable: boolean;
}

const TIMESTAMP_FORMAT = 'YYYY-MM-DD HH24:MI:SS.FF6';
/** Oracle NUMBER keeps 38 significant decimal digits and rounds the rest away without a word. */
const NUMBER_DIGITS = 38;
const utf8 = new TextDecoder('utf-8', { fatal: true });

/** Types with no faithful bind from a MySQL value: refused when a mapped table has such a column. */
const REFUSED: Array<[RegExp, string]> = [
  [/^(LONG|LONG RAW)$/, 'LONG and LONG RAW are deprecated and cannot be bound in bulk: use CLOB or BLOB'],
  [/^SDO_GEOMETRY$/, 'MySQL geometry arrives as SRID + WKB bytes: store it in a BLOB or RAW column'],
  [/^(BFILE|ROWID|UROWID|XMLTYPE)$/, 'no MySQL value maps onto it'],
  [/^INTERVAL YEAR/, 'no MySQL type is a year-to-month interval (TIME maps to INTERVAL DAY TO SECOND)'],
];

/**
 * The binding for one Oracle column type. Text types (VARCHAR2, CHAR, NVARCHAR2, NCHAR, CLOB, NCLOB,
 * JSON) take strings, numbers and bigints as text and Buffers as UTF-8 (bytes that are not UTF-8 are
 * refused: map such columns to RAW/BLOB).
 */
export function columnBinding(
  dataType: OracleDataType | undefined,
  options: OracleValueOptions = {},
): ColumnBinding {
  const t = (dataType ?? 'VARCHAR2').toUpperCase().trim();
  const zeroDates = options.zeroDates ?? 'error';
  const emptyStrings = options.emptyStrings ?? 'null';
  const empty = (column: string, tally: ValueTally): null => {
    if (emptyStrings === 'error')
      throw new OracleValueError(
        `column ${column}: an empty value would be stored as NULL (Oracle does not distinguish '' from NULL); ` +
          "set emptyStrings: 'null' on the Oracle datasource to accept that (the status counts such values)",
      );
    tally.noteEmpty(column);
    return null;
  };
  const text = (v: CellValue, column: string, tally: ValueTally) => {
    const s = toText(v, column);
    return s === '' ? empty(column, tally) : s;
  };
  const bytes = (v: CellValue, column: string, tally: ValueTally) => {
    const b = toBuffer(v);
    return b !== null && b.length === 0 ? empty(column, tally) : b;
  };

  for (const [re, why] of REFUSED)
    if (re.test(t))
      return {
        type: oracledb.DB_TYPE_VARCHAR,
        expr: '$',
        comparable: false,
        convert: (_v, column) => {
          throw new OracleValueError(
            `column ${column}: Oracle type ${t} is not supported as a target: ${why}`,
          );
        },
      };

  const number = /^(NUMBER|INTEGER|FLOAT)(?:\((\d+)(?:,\s*(-?\d+))?\))?$/.exec(t);
  if (number) {
    const limits = numberLimits(number[1]!, number[2], number[3]);
    return {
      type: oracledb.DB_TYPE_VARCHAR,
      expr: 'TO_NUMBER($)',
      comparable: true,
      convert: (v, column) => numberText(v, column, limits),
    };
  }
  if (t === 'BINARY_DOUBLE' || t === 'BINARY_FLOAT')
    return {
      type: oracledb.DB_TYPE_BINARY_DOUBLE,
      expr: '$',
      comparable: true,
      convert: (v, column) => binaryNumber(v, column, t === 'BINARY_FLOAT'),
    };
  if (t === 'DATE')
    return {
      type: oracledb.DB_TYPE_VARCHAR,
      expr: "TO_DATE($, 'YYYY-MM-DD HH24:MI:SS')",
      comparable: true,
      convert: (v, column) => dateText(v, column, zeroDates, 0)?.slice(0, 19) ?? null,
    };
  const ts = /^TIMESTAMP(?:\((\d)\))?( WITH (LOCAL )?TIME ZONE)?$/.exec(t);
  if (ts) {
    const fsp = ts[1] === undefined ? 6 : Number(ts[1]);
    return {
      type: oracledb.DB_TYPE_VARCHAR,
      // MySQL TIMESTAMP values arrive as UTC text; DATETIME has no zone and is taken as UTC too.
      expr: ts[2]
        ? `FROM_TZ(TO_TIMESTAMP($, '${TIMESTAMP_FORMAT}'), 'UTC')`
        : `TO_TIMESTAMP($, '${TIMESTAMP_FORMAT}')`,
      comparable: true,
      convert: (v, column) => dateText(v, column, zeroDates, fsp),
    };
  }
  if (t.startsWith('INTERVAL DAY'))
    return {
      type: oracledb.DB_TYPE_VARCHAR,
      expr: 'TO_DSINTERVAL($)',
      comparable: true,
      convert: (v, column) => timeToInterval(v, column),
    };
  if (t === 'RAW') return { type: oracledb.DB_TYPE_RAW, expr: '$', comparable: true, convert: bytes };
  if (t === 'BLOB') return { type: oracledb.DB_TYPE_BLOB, expr: '$', comparable: false, convert: bytes };
  if (t === 'CLOB' || t === 'JSON')
    // JSON columns accept JSON text bound as a CLOB (no 32 KB bind limit).
    return { type: oracledb.DB_TYPE_CLOB, expr: '$', comparable: false, convert: text };
  if (t === 'NCLOB') return { type: oracledb.DB_TYPE_NCLOB, expr: '$', comparable: false, convert: text };
  if (t === 'NVARCHAR2' || t === 'NCHAR')
    return { type: oracledb.DB_TYPE_NVARCHAR, expr: '$', comparable: true, convert: text };
  if (t === 'VARCHAR2' || t === 'VARCHAR' || t === 'CHAR')
    return { type: oracledb.DB_TYPE_VARCHAR, expr: '$', comparable: true, convert: text };
  return {
    type: oracledb.DB_TYPE_VARCHAR,
    expr: '$',
    comparable: false,
    convert: (_v, column) => {
      throw new OracleValueError(`column ${column}: Oracle type ${t} is not supported as a target`);
    },
  };
}

interface NumberLimits {
  /** Digits allowed after the point (NUMBER(p,s)); undefined: any (floating NUMBER). */
  scale?: number;
  /** Significant decimal digits kept. */
  digits: number;
}

function numberLimits(kind: string, p: string | undefined, s: string | undefined): NumberLimits {
  if (kind === 'INTEGER') return { scale: 0, digits: NUMBER_DIGITS };
  // FLOAT(b): b binary digits ≈ b·log10(2) decimal digits.
  if (kind === 'FLOAT') return { digits: p ? Math.ceil(Number(p) * Math.log10(2)) : NUMBER_DIGITS };
  if (p === undefined) return { digits: NUMBER_DIGITS };
  return { scale: s === undefined ? 0 : Number(s), digits: Number(p) };
}

/**
 * Integers, bigints, DECIMAL text, doubles and BIT bytes as decimal text for TO_NUMBER. A value that
 * NUMBER would round (more fraction digits than the scale, more than 38 significant digits) is
 * refused; too many integer digits Oracle refuses itself (ORA-01438).
 */
function numberText(v: CellValue, column: string, limits: NumberLimits): string | null {
  if (v === null) return null;
  let s: string;
  if (Buffer.isBuffer(v))
    s = BigInt(`0x${v.toString('hex') || '0'}`).toString(); // BIT(n) → its integer
  else if (typeof v === 'number') {
    if (!Number.isFinite(v)) throw new OracleValueError(`column ${column}: ${v} cannot be stored in NUMBER`);
    s = String(v);
  } else s = String(v);
  const m = /^[-+]?(\d*)(?:\.(\d*))?(?:[eE]([-+]?\d+))?$/.exec(s);
  if (!m) return s; // not a number: Oracle says so (ORA-01722) for the row
  const digits = `${m[1] ?? ''}${m[2] ?? ''}`.replace(/^0+/, '').replace(/0+$/, '');
  const fraction = (m[2] ?? '').replace(/0+$/, '');
  const fractionDigits = fraction.length - Number(m[3] ?? 0);
  if (digits.length > limits.digits)
    throw new OracleValueError(
      `column ${column}: ${s} has ${digits.length} significant digits; the Oracle column keeps ${limits.digits} ` +
        '(a VARCHAR2 column keeps DECIMAL(65,30) values exactly)',
    );
  if (limits.scale !== undefined && fractionDigits > limits.scale)
    throw new OracleValueError(
      `column ${column}: ${s} has more fraction digits than the Oracle column's scale ${limits.scale} (it would be rounded)`,
    );
  return s;
}

function binaryNumber(v: CellValue, column: string, float32: boolean): number | null {
  if (v === null) return null;
  let n: number;
  let exact: boolean;
  if (typeof v === 'number') {
    n = v;
    exact = true;
  } else if (typeof v === 'bigint') {
    n = Number(v);
    exact = BigInt(n) === v;
  } else {
    // DECIMAL text: up to 15 significant digits survive a double and print back the same.
    const s = String(v);
    n = Number(s);
    const digits = s
      .replace(/[-+.]|[eE].*$/g, '')
      .replace(/^0+/, '')
      .replace(/0+$/, '');
    exact = s.trim() !== '' && Number.isFinite(n) && digits.length <= 15;
  }
  if (!exact || (float32 && Math.fround(n) !== n))
    throw new OracleValueError(
      `column ${column}: ${String(v)} is not exactly representable as ${float32 ? 'BINARY_FLOAT' : 'BINARY_DOUBLE'}`,
    );
  return n;
}

/**
 * MySQL DATE/DATETIME/TIMESTAMP text → 'YYYY-MM-DD HH24:MI:SS.FF6'. Zero dates per policy; a
 * fraction the column would round (`fsp` digits kept, 0 for DATE) is refused.
 */
function dateText(v: CellValue, column: string, zeroDates: ZeroDatePolicy, fsp: number): string | null {
  if (v === null) return null;
  const s = String(v);
  const m = /^(\d{4})-(\d{2})-(\d{2})(?:[ T](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,6}))?)?$/.exec(s);
  if (!m) throw new OracleValueError(`column ${column}: ${JSON.stringify(s)} is not a date/time value`);
  if (m[1] === '0000' || m[2] === '00' || m[3] === '00') {
    if (zeroDates === 'null') return null;
    throw new OracleValueError(
      `column ${column}: zero date ${s} cannot be stored in Oracle (set zeroDates: 'null' on the Oracle datasource to store NULL)`,
    );
  }
  const fraction = (m[7] ?? '').padEnd(6, '0');
  if (/[1-9]/.test(fraction.slice(fsp)))
    throw new OracleValueError(
      fsp === 0
        ? `column ${column}: ${s} has fractional seconds, which an Oracle DATE cannot hold: make the column TIMESTAMP(6)`
        : `column ${column}: ${s} has more fractional digits than the column's TIMESTAMP(${fsp}) keeps`,
    );
  return `${m[1]}-${m[2]}-${m[3]} ${m[4] ?? '00'}:${m[5] ?? '00'}:${m[6] ?? '00'}.${fraction}`;
}

/** MySQL TIME text ('-838:59:59.000000') → Oracle day-to-second interval text ('-34 22:59:59.000000'). */
export function timeToInterval(v: CellValue, column = 'TIME'): string | null {
  if (v === null) return null;
  const m = /^(-?)(\d+):(\d{2}):(\d{2})(\.\d+)?$/.exec(String(v));
  if (!m) throw new OracleValueError(`column ${column}: ${JSON.stringify(v)} is not a TIME value`);
  const hours = Number(m[2]);
  return `${m[1]}${Math.floor(hours / 24)} ${String(hours % 24).padStart(2, '0')}:${m[3]}:${m[4]}${m[5] ?? ''}`;
}

function toBuffer(v: CellValue): Buffer | null {
  if (v === null) return null;
  if (Buffer.isBuffer(v)) return v;
  return Buffer.from(String(v), 'utf8');
}

function toText(v: CellValue, column: string): string | null {
  if (v === null) return null;
  if (!Buffer.isBuffer(v)) return String(v);
  try {
    return utf8.decode(v);
  } catch {
    throw new OracleValueError(
      `column ${column}: the value's bytes are not UTF-8 text (binary data or a non-UTF-8 character set): map it to a RAW or BLOB column`,
    );
  }
}
