import type { CellValue } from '../../binlog/types';
import {
  canonicalDateTime,
  canonicalDecimal,
  canonicalJson,
  canonicalNumber,
  hexOf,
  integerKeyValue,
  refusedValue,
  textOf,
} from '../canonical';
import type { CanonicalValue, TargetRowCodec } from '../target';
import { columnBinding, type OracleDataType, type OracleValueOptions, ValueTally } from './values';

/**
 * The canonical form of Oracle column values (pure), by the column's type as the table-info reader
 * spells it. A source row's canonical form is computed from the bind the applier would send
 * (values.ts: '' becomes NULL, zero dates NULL or refused, BIT bytes an integer, TIME an interval…),
 * so a row read back from Oracle and the source row converted as the applier converts it agree.
 * Reads select each column in a fixed text form (row-access.ts), which this file then normalises.
 *
 * | Oracle type | read as | form |
 * |---|---|---|
 * | NUMBER, INTEGER, FLOAT | `TO_CHAR(c, 'TM9')` | decimal text, no trailing zeros, `0.5` not `.5` |
 * | BINARY_DOUBLE, BINARY_FLOAT | the number | the double as decimal text |
 * | DATE | `YYYY-MM-DD HH24:MI:SS` | `YYYY-MM-DD HH:MM:SS` |
 * | TIMESTAMP(n) | `… .FF6` (WITH [LOCAL] TIME ZONE: in UTC) | `YYYY-MM-DD HH:MM:SS[.f…]`, no trailing fraction zeros |
 * | INTERVAL DAY TO SECOND | total seconds | decimal text of the seconds |
 * | RAW, BLOB | bytes | lower-case hex |
 * | CHAR, NCHAR | text | without trailing blanks (Oracle pads to the length) |
 * | VARCHAR2, NVARCHAR2, CLOB, NCLOB | text | the text ('' is NULL on Oracle) |
 * | JSON | `JSON_SERIALIZE` text | parsed and printed with sorted keys |
 */

export type OracleValueClass =
  | 'number'
  | 'binaryNumber'
  | 'date'
  | 'timestamp'
  | 'timestampZoned'
  | 'interval'
  | 'raw'
  | 'blob'
  | 'char'
  | 'text'
  | 'clob'
  | 'json'
  | 'unsupported';

/** The value class of an Oracle column type (see values.ts {@link OracleDataType}). */
export function oracleValueClass(dataType: OracleDataType | undefined): OracleValueClass {
  const t = (dataType ?? 'VARCHAR2').toUpperCase().trim();
  if (/^(NUMBER|INTEGER|FLOAT)(\(.*\))?$/.test(t)) return 'number';
  if (t === 'BINARY_DOUBLE' || t === 'BINARY_FLOAT') return 'binaryNumber';
  if (t === 'DATE') return 'date';
  const ts = /^TIMESTAMP(?:\(\d\))?( WITH (LOCAL )?TIME ZONE)?$/.exec(t);
  if (ts) return ts[1] ? 'timestampZoned' : 'timestamp';
  if (t.startsWith('INTERVAL DAY')) return 'interval';
  if (t === 'RAW') return 'raw';
  if (t === 'BLOB') return 'blob';
  if (t === 'CHAR' || t === 'NCHAR') return 'char';
  if (t === 'VARCHAR2' || t === 'VARCHAR' || t === 'NVARCHAR2') return 'text';
  if (t === 'CLOB' || t === 'NCLOB') return 'clob';
  if (t === 'JSON') return 'json';
  return 'unsupported';
}

/** The canonical form of a value as a read returns it (see the table above). */
export function canonicalOracleValue(c: OracleValueClass, v: unknown): CanonicalValue {
  if (v === null || v === undefined) return null;
  switch (c) {
    case 'number':
    case 'interval':
      return canonicalDecimal(String(v));
    case 'binaryNumber':
      return canonicalNumber(Number(v));
    case 'date':
    case 'timestamp':
    case 'timestampZoned':
      return canonicalDateTime(String(v), true);
    case 'raw':
    case 'blob':
      return hexOf(Buffer.isBuffer(v) ? v : String(v));
    case 'char':
      return String(v).replace(/ +$/, '');
    case 'text':
    case 'clob':
      return String(v);
    case 'json':
      return canonicalJson(String(v));
    case 'unsupported':
      return refusedValue('the column type is not supported as a target');
  }
}

/** Interval text as the applier binds it (`-34 22:59:59.5`) → its total seconds (`-3020399.5`). */
export function intervalSeconds(text: string): string {
  const m = /^(-?)(\d+) (\d{2}):(\d{2}):(\d{2})(?:\.(\d*))?$/.exec(text);
  if (!m) return text;
  const whole =
    BigInt(m[2] as string) * 86400n + BigInt(Number(m[3]) * 3600 + Number(m[4]) * 60 + Number(m[5]));
  return canonicalDecimal(`${m[1]}${whole}${m[6] ? `.${m[6]}` : ''}`);
}

/**
 * The canonical form of a source value written into a column of type `dataType`: the applier's
 * conversion (values.ts), then the form a read of the stored value gives. A value the applier refuses
 * gets a {@link refusedValue}.
 */
export function canonicalOracleSourceValue(
  dataType: OracleDataType | undefined,
  c: OracleValueClass,
  v: CellValue,
  options: OracleValueOptions,
  column = 'column',
): CanonicalValue {
  let bind: unknown;
  try {
    bind = columnBinding(dataType, options).convert(v, column, new ValueTally());
  } catch (err) {
    return refusedValue((err as Error).message);
  }
  if (bind === null || bind === undefined) return null;
  if (c === 'interval') return intervalSeconds(String(bind));
  if (c === 'text' || c === 'clob' || c === 'char' || c === 'json')
    return canonicalOracleValue(c, textOf(bind as CellValue));
  return canonicalOracleValue(c, bind);
}

/** A key value from a canonical value of a column of class `c`. */
export function oracleKeyValue(c: OracleValueClass, v: CanonicalValue): CellValue {
  if (v === null) return null;
  if (c === 'number') return integerKeyValue(v);
  if (c === 'raw' || c === 'blob') return Buffer.from(v, 'hex');
  return v;
}

/** The codec of some columns, given their Oracle types and the datasource's value options. */
export function oracleRowCodec(
  dataTypes: readonly (OracleDataType | undefined)[],
  options: OracleValueOptions,
  names: readonly string[] = [],
): TargetRowCodec {
  const classes = dataTypes.map(oracleValueClass);
  return {
    canonical: (values) =>
      classes.map((c, i) =>
        canonicalOracleSourceValue(dataTypes[i], c, values[i] ?? null, options, names[i]),
      ),
    keyValue: (i, v) => oracleKeyValue(classes[i] ?? 'text', v),
  };
}
