/**
 * Date and time column values as MySQL's own text forms, read straight from a row image buffer.
 * Text (not Date objects) because it is exact: fractions to the microsecond, zero dates, negative
 * and > 24 h TIME values, and years 0–9999 all survive a re-insert. TIMESTAMP values are rendered
 * in UTC; apply them with `time_zone = '+00:00'`.
 */

const PAD = ['00', '01', '02', '03', '04', '05', '06', '07', '08', '09'];

function two(n: number): string {
  return n < 10 ? (PAD[n] as string) : String(n);
}

function four(n: number): string {
  if (n >= 1000) return String(n);
  if (n >= 100) return `0${n}`;
  if (n >= 10) return `00${n}`;
  return `000${n}`;
}

/** Bytes of the fractional part of TIME2/DATETIME2/TIMESTAMP2 for a precision of 0..6. */
export function fracSize(fsp: number): number {
  return (fsp + 1) >> 1;
}

/**
 * Reads the fraction that follows TIME2/DATETIME2/TIMESTAMP2 as microseconds. The stored unit
 * depends on the byte count: 1 byte = 1/100 s, 2 bytes = 1/10,000 s, 3 bytes = 1/1,000,000 s.
 */
function readFracMicros(buf: Buffer, offset: number, fsp: number): number {
  switch (fsp) {
    case 1:
    case 2:
      return (buf[offset] as number) * 10000;
    case 3:
    case 4:
      return ((buf[offset] as number) * 256 + (buf[offset + 1] as number)) * 100;
    case 5:
    case 6:
      return (
        ((buf[offset] as number) << 16) | ((buf[offset + 1] as number) << 8) | (buf[offset + 2] as number)
      );
    default:
      return 0;
  }
}

/** ".ffffff" cut to `fsp` digits, or "" for fsp 0. */
function fraction(micros: number, fsp: number): string {
  if (fsp === 0) return '';
  const s = String(micros);
  return `.${'000000'.slice(s.length)}${s}`.slice(0, fsp + 1);
}

/** DATE: 3 bytes little-endian, day | month << 5 | year << 9 → "YYYY-MM-DD" (zero date "0000-00-00"). */
export function readDate(buf: Buffer, offset: number): string {
  const v =
    (buf[offset] as number) | ((buf[offset + 1] as number) << 8) | ((buf[offset + 2] as number) << 16);
  return `${four(v >>> 9)}-${two((v >>> 5) & 15)}-${two(v & 31)}`;
}

/** Character code of the decimal digit of `n` (0–9). */
const D = 48;

/**
 * DATETIME2(fsp): 5 bytes big-endian packed fields plus the fraction → "YYYY-MM-DD HH:MM:SS[.f…]".
 * Hot path (one call per DATETIME value of every row): for fsp 0 and 6 with a 4-digit year and a
 * fraction below one second, the text is made in one piece from character codes (a flat string, no
 * intermediate pieces); anything else takes readDatetime2Pieces, which gives the same text.
 */
export function readDatetime2(buf: Buffer, offset: number, fsp: number): string {
  if (fsp !== 0 && fsp !== 6) return readDatetime2Pieces(buf, offset, fsp);
  const hi = (buf[offset] as number) & 0x7f;
  const lo =
    (((buf[offset + 1] as number) << 24) |
      ((buf[offset + 2] as number) << 16) |
      ((buf[offset + 3] as number) << 8) |
      (buf[offset + 4] as number)) >>>
    0;
  const ymdFull = hi * 0x8000 + (lo >>> 17);
  const ym = ymdFull >>> 5;
  const y = Math.floor(ym / 13);
  if (y > 9999) return readDatetime2Pieces(buf, offset, fsp);
  const mo = ym % 13;
  const d = ymdFull & 31;
  const h = (lo >>> 12) & 31;
  const mi = (lo >>> 6) & 63;
  const s = lo & 63;
  const y2 = y % 100;
  const y1 = (y - y2) / 100;
  // Character codes of "YYYY-MM-DD HH:MM:SS", then ".ffffff" for fsp 6, in a reused array.
  const c = fsp === 0 ? CODES_0 : CODES_6;
  c[0] = D + ((y1 / 10) | 0);
  c[1] = D + (y1 % 10);
  c[2] = D + ((y2 / 10) | 0);
  c[3] = D + (y2 % 10);
  c[5] = D + ((mo / 10) | 0);
  c[6] = D + (mo % 10);
  c[8] = D + ((d / 10) | 0);
  c[9] = D + (d % 10);
  c[11] = D + ((h / 10) | 0);
  c[12] = D + (h % 10);
  c[14] = D + ((mi / 10) | 0);
  c[15] = D + (mi % 10);
  c[17] = D + ((s / 10) | 0);
  c[18] = D + (s % 10);
  if (fsp === 6) {
    const us =
      ((buf[offset + 5] as number) << 16) | ((buf[offset + 6] as number) << 8) | (buf[offset + 7] as number);
    if (us > 999999) return readDatetime2Pieces(buf, offset, fsp);
    const u3 = us % 1000;
    const u1 = (us - u3) / 1000;
    c[20] = D + ((u1 / 100) | 0);
    c[21] = D + (((u1 / 10) | 0) % 10);
    c[22] = D + (u1 % 10);
    c[23] = D + ((u3 / 100) | 0);
    c[24] = D + (((u3 / 10) | 0) % 10);
    c[25] = D + (u3 % 10);
  }
  return String.fromCharCode.apply(null, c);
}

/** The separators are fixed; readDatetime2 fills in the digits. */
const CODES_0: number[] = [0, 0, 0, 0, 45, 0, 0, 45, 0, 0, 32, 0, 0, 58, 0, 0, 58, 0, 0];
const CODES_6: number[] = [...CODES_0, 46, 0, 0, 0, 0, 0, 0];

/** DATETIME2 text built piece by piece: every precision and out-of-range value (see readDatetime2). */
export function readDatetime2Pieces(buf: Buffer, offset: number, fsp: number): string {
  // 40 bits: sign (1, always set), year*13+month (17), day (5), hour (5), minute (6), second (6).
  const hi = (buf[offset] as number) & 0x7f;
  const lo = buf.readUInt32BE(offset + 1);
  const ymdFull = hi * 0x8000 + (lo >>> 17); // (hi << 32 | lo) >> 17
  const ym = ymdFull >>> 5;
  const hms = lo & 0x1ffff;
  const micros = readFracMicros(buf, offset + 5, fsp);
  return `${four(Math.floor(ym / 13))}-${two(ym % 13)}-${two(ymdFull & 31)} ${two(hms >>> 12)}:${two((hms >>> 6) & 63)}:${two(hms & 63)}${fraction(micros, fsp)}`;
}

/** Days since 1970-01-01 → civil date (proleptic Gregorian), without Date objects. */
function civilFromDays(days: number): string {
  const z = days + 719468;
  const era = Math.floor(z / 146097);
  const doe = z - era * 146097;
  const yoe = Math.floor(
    (doe - Math.floor(doe / 1460) + Math.floor(doe / 36524) - Math.floor(doe / 146096)) / 365,
  );
  const doy = doe - (365 * yoe + Math.floor(yoe / 4) - Math.floor(yoe / 100));
  const mp = Math.floor((5 * doy + 2) / 153);
  const d = doy - Math.floor((153 * mp + 2) / 5) + 1;
  const m = mp < 10 ? mp + 3 : mp - 9;
  const y = yoe + era * 400 + (m <= 2 ? 1 : 0);
  return `${four(y)}-${two(m)}-${two(d)}`;
}

/** Seconds since the epoch → "YYYY-MM-DD HH:MM:SS" in UTC; 0 is MySQL's zero timestamp. */
function utcText(seconds: number): string {
  if (seconds === 0) return '0000-00-00 00:00:00';
  const days = Math.floor(seconds / 86400);
  const s = seconds - days * 86400;
  return `${civilFromDays(days)} ${two(Math.floor(s / 3600))}:${two(Math.floor(s / 60) % 60)}:${two(s % 60)}`;
}

/** TIMESTAMP2(fsp): 4 bytes big-endian seconds since the epoch plus the fraction → UTC text. */
export function readTimestamp2(buf: Buffer, offset: number, fsp: number): string {
  return utcText(buf.readUInt32BE(offset)) + fraction(readFracMicros(buf, offset + 4, fsp), fsp);
}

/** Legacy TIMESTAMP (MySQL < 5.6): 4 bytes little-endian seconds since the epoch → UTC text. */
export function readTimestampLegacy(buf: Buffer, offset: number): string {
  return utcText(buf.readUInt32LE(offset));
}

/** "[-]HH:MM:SS[.f…]" with at least two hour digits (TIME reaches ±838 hours). */
function timeText(
  negative: boolean,
  hours: number,
  minutes: number,
  seconds: number,
  micros: number,
  fsp: number,
) {
  return `${negative ? '-' : ''}${two(hours)}:${two(minutes)}:${two(seconds)}${fraction(micros, fsp)}`;
}

/**
 * TIME2(fsp): a signed packed value (hours << 12 | minutes << 6 | seconds) << 24 | microseconds,
 * stored big-endian with an offset so that it sorts as unsigned bytes; 3 bytes of integer part plus
 * the fraction, whose negative form borrows from the integer part.
 */
export function readTime2(buf: Buffer, offset: number, fsp: number): string {
  const intPart =
    ((buf[offset] as number) << 16) | ((buf[offset + 1] as number) << 8) | (buf[offset + 2] as number);
  let packed: number; // (hms << 24) + micros, signed; fits a double exactly (< 2^48)
  switch (fsp) {
    case 1:
    case 2: {
      let ip = intPart - 0x800000;
      let frac = buf[offset + 3] as number;
      if (ip < 0 && frac !== 0) {
        ip += 1;
        frac -= 0x100;
      }
      packed = ip * 0x1000000 + frac * 10000;
      break;
    }
    case 3:
    case 4: {
      let ip = intPart - 0x800000;
      let frac = buf.readUInt16BE(offset + 3);
      if (ip < 0 && frac !== 0) {
        ip += 1;
        frac -= 0x10000;
      }
      packed = ip * 0x1000000 + frac * 100;
      break;
    }
    case 5:
    case 6:
      packed = intPart * 0x1000000 + buf.readUIntBE(offset + 3, 3) - 0x800000000000;
      break;
    default:
      packed = (intPart - 0x800000) * 0x1000000;
  }
  const negative = packed < 0;
  if (negative) packed = -packed;
  const hms = Math.floor(packed / 0x1000000);
  const micros = packed - hms * 0x1000000;
  return timeText(negative, (hms >>> 12) & 0x3ff, (hms >>> 6) & 63, hms & 63, micros, fsp);
}

/** Legacy TIME (MySQL < 5.6): 3 bytes little-endian signed integer ±HHMMSS. */
export function readTimeLegacy(buf: Buffer, offset: number): string {
  const v = buf.readIntLE(offset, 3);
  const a = Math.abs(v);
  return timeText(v < 0, Math.floor(a / 10000), Math.floor(a / 100) % 100, a % 100, 0, 0);
}

/** Legacy DATETIME (MySQL < 5.6): 8 bytes little-endian integer YYYYMMDDHHMMSS. */
export function readDatetimeLegacy(buf: Buffer, offset: number): string {
  // < 2^47, so two 32-bit halves combine exactly in a double.
  const v = buf.readUInt32LE(offset) + buf.readUInt32LE(offset + 4) * 0x100000000;
  const date = Math.floor(v / 1000000);
  const time = v % 1000000;
  return `${four(Math.floor(date / 10000))}-${two(Math.floor(date / 100) % 100)}-${two(date % 100)} ${two(Math.floor(time / 10000))}:${two(Math.floor(time / 100) % 100)}:${two(time % 100)}`;
}

/**
 * A MySQL "packed" temporal value (64-bit integer, as used inside binary JSON): (fields << 24) | micros,
 * negative for negative TIME values. `kind` selects the text form; JSON prints six fraction digits.
 */
export function packedTemporalText(packed: bigint, kind: 'date' | 'time' | 'datetime'): string {
  const negative = packed < 0n;
  const abs = negative ? -packed : packed;
  const micros = Number(abs & 0xffffffn);
  const fields = Number(abs >> 24n);
  if (kind === 'time') {
    // fields = hours << 12 | minutes << 6 | seconds
    return timeText(negative, Math.floor(fields / 4096) % 1024, (fields >>> 6) & 63, fields & 63, micros, 6);
  }
  // fields = (year*13+month) << 22 | day << 17 | hour << 12 | minute << 6 | second
  const ymd = Math.floor(fields / 131072);
  const hms = fields % 131072;
  const ym = ymd >>> 5;
  const date = `${four(Math.floor(ym / 13))}-${two(ym % 13)}-${two(ymd & 31)}`;
  if (kind === 'date') return date;
  return `${date} ${two(hms >>> 12)}:${two((hms >>> 6) & 63)}:${two(hms & 63)}${fraction(micros, 6)}`;
}
