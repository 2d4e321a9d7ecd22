import type { CellValue } from '../binlog/types';
import type { CanonicalValue } from './target';

/**
 * Building blocks of the canonical value form (target.ts {@link CanonicalValue}), shared by the
 * connectors (pure). Each connector decides per column type which of these applies; both the value read
 * back from the target and the value computed from a source row go through the same function, so the
 * form only has to be deterministic and to forget what the database forgets (trailing zeros, padding).
 */

/**
 * A value the applier would refuse: a text no read returns (it starts with a NUL), so the row compares
 * as different instead of stopping the verification.
 */
export function refusedValue(why: string): CanonicalValue {
  return `\u0000refused: ${why}`;
}

/** Any value as text: Buffers as UTF-8 (lossy for bytes that are not UTF-8), numbers as JS prints them. */
export function textOf(v: CellValue): string | null {
  if (v === null) return null;
  if (Buffer.isBuffer(v)) return v.toString('utf8');
  return String(v);
}

/** Bytes as lower-case hex; text as its UTF-8 bytes. */
export function hexOf(v: CellValue): string | null {
  if (v === null) return null;
  if (Buffer.isBuffer(v)) return v.toString('hex');
  return Buffer.from(String(v), 'utf8').toString('hex');
}

const NUMBER_TEXT = /^([-+]?)(\d*)(?:\.(\d*))?(?:[eE]([-+]?\d+))?$/;

/**
 * A decimal number's text in one form: no `+`, no leading zeros, no trailing fraction zeros, no
 * exponent, `0` for every zero (`-0.00`, `0E+10`). `1.50` → `1.5`, `.5` → `0.5`, `1E+3` → `1000`.
 * Text that is not a number is returned unchanged (it then differs from any number).
 */
export function canonicalDecimal(text: string): string {
  const s = text.trim();
  const m = NUMBER_TEXT.exec(s);
  if (!m || (m[2] === '' && (m[3] ?? '') === '')) return text;
  const sign = m[1] === '-' ? '-' : '';
  let intPart = m[2] ?? '';
  let frac = m[3] ?? '';
  const exp = Number(m[4] ?? 0);
  if (exp > 0) {
    const moved = frac.slice(0, exp).padEnd(exp, '0');
    intPart += moved;
    frac = frac.slice(exp);
  } else if (exp < 0) {
    const n = -exp;
    const padded = intPart.padStart(n, '0');
    frac = padded.slice(padded.length - n) + frac;
    intPart = padded.slice(0, padded.length - n);
  }
  intPart = intPart.replace(/^0+/, '') || '0';
  frac = frac.replace(/0+$/, '');
  if (intPart === '0' && frac === '') return '0';
  return `${sign}${intPart}${frac ? `.${frac}` : ''}`;
}

/** A JS number as canonical decimal text (exponent expanded): `1e21` → `1000000000000000000000`. */
export function canonicalNumber(n: number): string {
  if (!Number.isFinite(n)) return String(n);
  return canonicalDecimal(String(n));
}

/** Any numeric CellValue (number, bigint, decimal text, BIT bytes as an unsigned integer) as canonical text. */
export function numericText(v: CellValue): string | null {
  if (v === null) return null;
  if (typeof v === 'number') return canonicalNumber(v);
  if (typeof v === 'bigint') return v.toString();
  if (Buffer.isBuffer(v)) return BigInt(`0x${v.toString('hex') || '0'}`).toString();
  return canonicalDecimal(v);
}

const DATE_TIME = /^(\d{4}-\d{2}-\d{2})(?:[ T](\d{2}:\d{2}:\d{2})(?:\.(\d*))?)?$/;

/**
 * A date or date-time's text: `YYYY-MM-DD`, or `YYYY-MM-DD HH:MM:SS` with the fraction's trailing
 * zeros (and a bare point) dropped. With `withTime`, a date alone gets ` 00:00:00` (Oracle DATE and
 * TIMESTAMP always carry a time). Other text is returned unchanged.
 */
export function canonicalDateTime(text: string, withTime = false): string {
  const m = DATE_TIME.exec(text.trim());
  if (!m) return text;
  const time = m[2] ?? (withTime ? '00:00:00' : undefined);
  if (time === undefined) return m[1] as string;
  const frac = (m[3] ?? '').replace(/0+$/, '');
  return `${m[1]} ${time}${frac ? `.${frac}` : ''}`;
}

/** A MySQL TIME's text (`-838:59:59.000000`) with the fraction's trailing zeros dropped. */
export function canonicalTime(text: string): string {
  const m = /^(-?\d+:\d{2}:\d{2})(?:\.(\d*))?$/.exec(text.trim());
  if (!m) return text;
  const frac = (m[2] ?? '').replace(/0+$/, '');
  return `${m[1]}${frac ? `.${frac}` : ''}`;
}

/**
 * JSON text in one form: parsed and printed again with object keys sorted and no spaces, so two
 * servers' spellings of one document agree (MySQL normalises JSON, MariaDB keeps it as written).
 * Numbers go through JS numbers. Text that is not JSON is returned unchanged.
 */
export function canonicalJson(text: string): string {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    return text;
  }
  return JSON.stringify(sortKeys(doc));
}

function sortKeys(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(sortKeys);
  if (v && typeof v === 'object') {
    const out: Record<string, unknown> = {};
    for (const k of Object.keys(v as object).sort()) out[k] = sortKeys((v as Record<string, unknown>)[k]);
    return out;
  }
  return v;
}

/** An integer's canonical text as a key value: a number when it is exact as one, else a bigint. */
export function integerKeyValue(text: string): CellValue {
  if (!/^-?\d+$/.test(text)) return text;
  const n = Number(text);
  return Number.isSafeInteger(n) ? n : BigInt(text);
}
