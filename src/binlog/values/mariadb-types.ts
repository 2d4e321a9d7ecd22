/**
 * MariaDB's UUID (10.7+), INET4 (10.10+) and INET6 (10.5+) types. The binlog carries no trace of
 * them: they are logged as BINARY(16) / BINARY(4) / BINARY(16) (type STRING, collation 63), with
 * trailing zero bytes trimmed like any BINARY value. Only information_schema.COLUMNS.DATA_TYPE
 * (ColumnDef.dataType) tells them apart. We print the text form MariaDB prints, which re-inserts
 * as the same value.
 */

const HEX: string[] = [];
for (let i = 0; i < 256; i++) HEX.push(i.toString(16).padStart(2, '0'));

/** Byte `i` of a value whose stored bytes are `buf[start, end)`, padded with zeros (BINARY trimming). */
function byteAt(buf: Buffer, start: number, end: number, i: number): number {
  return start + i < end ? (buf[start + i] as number) : 0;
}

/** UUID: 16 bytes in text order → "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx". */
export function uuidText(buf: Buffer, start: number, end: number): string {
  let s = '';
  for (let i = 0; i < 16; i++) {
    if (i === 4 || i === 6 || i === 8 || i === 10) s += '-';
    s += HEX[byteAt(buf, start, end, i)];
  }
  return s;
}

/** INET4: 4 bytes → dotted quad. */
export function inet4Text(buf: Buffer, start: number, end: number): string {
  return `${byteAt(buf, start, end, 0)}.${byteAt(buf, start, end, 1)}.${byteAt(buf, start, end, 2)}.${byteAt(buf, start, end, 3)}`;
}

/**
 * INET6: 16 bytes → the canonical text MariaDB prints: lower-case hex groups without leading
 * zeros, the longest run (≥ 2) of zero groups as "::", and IPv4-compatible / IPv4-mapped
 * addresses with a dotted-quad tail (like inet_ntop).
 */
export function inet6Text(buf: Buffer, start: number, end: number): string {
  const words: number[] = [];
  for (let i = 0; i < 8; i++)
    words.push(byteAt(buf, start, end, 2 * i) * 256 + byteAt(buf, start, end, 2 * i + 1));
  let bestStart = -1;
  let bestLen = 0;
  for (let i = 0; i < 8; ) {
    if (words[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && words[j] === 0) j++;
    if (j - i > bestLen) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  if (bestLen < 2) bestStart = -1;
  const v4Tail = bestStart === 0 && (bestLen === 6 || (bestLen === 5 && words[5] === 0xffff));
  let s = '';
  for (let i = 0; i < 8; i++) {
    if (i === bestStart) {
      s += '::';
      i += bestLen - 1;
      continue;
    }
    if (v4Tail && i === 6) {
      if (!s.endsWith(':')) s += ':';
      s += `${byteAt(buf, start, end, 12)}.${byteAt(buf, start, end, 13)}.${byteAt(buf, start, end, 14)}.${byteAt(buf, start, end, 15)}`;
      break;
    }
    if (s !== '' && !s.endsWith(':')) s += ':';
    s += (words[i] as number).toString(16);
  }
  return s;
}
