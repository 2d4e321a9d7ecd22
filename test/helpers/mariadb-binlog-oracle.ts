/**
 * An independent oracle for row values: runs `mariadb-binlog -vv --base64-output=decode-rows` on a
 * binlog file, parses its `### INSERT INTO … ### SET ###   @1=…` pseudo-SQL, and compares the
 * values with ours. mariadb-binlog prints some types in forms of its own (TIMESTAMP as epoch
 * seconds, ENUM as an index, SET and BIT as bit strings, DATE with colons, YEAR 0 as 1900, strings as
 * their raw bytes with \xNN escapes); `compareCell` knows them.
 */
import { spawn } from 'node:child_process';
import { type CellValue, type ColumnDef, ColumnType, type RowChange } from '../../src/binlog/types';
import { textDecoderFor } from '../../src/binlog/values/charsets';

/** One value as mariadb-binlog printed it: the text after `@N=` and the type from the comment. */
export interface OracleCell {
  /** Raw bytes of the printed value (the output is read as bytes: strings are printed unconverted). */
  text: string;
  /** Type label from the `/* TYPE meta=… *\/` comment (e.g. `INT`, `VARSTRING(400)`). */
  type: string;
  isNull: boolean;
}

export interface OracleRow {
  /**
   * Offset of the last rows event of the statement (`# at N`): mariadb-binlog prints a statement's
   * rows after its last rows event, so this is not always the event that holds the row.
   */
  pos: number;
  schema: string;
  table: string;
  kind: 'insert' | 'update' | 'delete';
  /** By column ordinal (0-based); only the columns mariadb-binlog printed. */
  before?: Map<number, OracleCell>;
  after?: Map<number, OracleCell>;
}

/** Parses mariadb-binlog -vv output (as a latin1 string, so each char is one byte). */
export function parseOracleOutput(output: string): OracleRow[] {
  const rows: OracleRow[] = [];
  let pos = 0;
  let current: OracleRow | undefined;
  let image: Map<number, OracleCell> | undefined;
  for (const line of output.split('\n')) {
    if (line.startsWith('# at ')) {
      pos = Number(line.slice(5));
      continue;
    }
    if (!line.startsWith('###')) continue;
    const head = /^### (INSERT INTO|UPDATE|DELETE FROM) `((?:[^`]|``)*)`\.`((?:[^`]|``)*)`$/.exec(line);
    if (head) {
      const kind = head[1] === 'INSERT INTO' ? 'insert' : head[1] === 'UPDATE' ? 'update' : 'delete';
      current = { pos, schema: head[2]!.replace(/``/g, '`'), table: head[3]!.replace(/``/g, '`'), kind };
      rows.push(current);
      image = undefined;
      continue;
    }
    if (!current) continue;
    if (line === '### WHERE') {
      image = new Map();
      current.before = image;
      continue;
    }
    if (line === '### SET') {
      image = new Map();
      current.after = image;
      continue;
    }
    const cell = /^### {3}@(\d+)=(.*) \/\* (.*?) meta=\d+ nullable=\d is_null=(\d) \*\/$/s.exec(line);
    if (cell && image) {
      image.set(Number(cell[1]) - 1, { text: cell[2]!.trimEnd(), type: cell[3]!, isNull: cell[4] === '1' });
    }
  }
  return rows;
}

/** Runs mariadb-binlog on a file and parses its rows. */
export async function oracleRows(file: string): Promise<OracleRow[]> {
  const child = spawn('mariadb-binlog', ['-vv', '--base64-output=decode-rows', file], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const chunks: Buffer[] = [];
  const errors: Buffer[] = [];
  child.stdout.on('data', (c: Buffer) => chunks.push(c));
  child.stderr.on('data', (c: Buffer) => errors.push(c));
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
  if (code !== 0) throw new Error(`mariadb-binlog exited ${code}: ${Buffer.concat(errors).toString()}`);
  return parseOracleOutput(Buffer.concat(chunks).toString('latin1'));
}

/** Bytes of a quoted value: mariadb-binlog escapes bytes below 0x20 (and ' and \) as \xNN. */
function quotedBytes(text: string): Buffer | undefined {
  if (!text.startsWith("'") || !text.endsWith("'")) return undefined;
  const body = text.slice(1, -1);
  const out: number[] = [];
  for (let i = 0; i < body.length; i++) {
    if (body[i] === '\\' && body[i + 1] === 'x' && /^[0-9a-fA-F]{2}$/.test(body.slice(i + 2, i + 4))) {
      out.push(Number.parseInt(body.slice(i + 2, i + 4), 16));
      i += 3;
    } else out.push(body.charCodeAt(i) & 0xff);
  }
  return Buffer.from(out);
}

function stripTrailingZeros(b: Buffer): Buffer {
  let end = b.length;
  while (end > 0 && b[end - 1] === 0) end--;
  return b.subarray(0, end);
}

function inet6Bytes(text: string): Buffer {
  const [head, tail] = text.includes('::') ? text.split('::') : [text, undefined];
  const h = head ? head.split(':') : [];
  const t = tail ? tail.split(':') : [];
  const groups = tail === undefined ? h : [...h, ...new Array(8 - h.length - t.length).fill('0'), ...t];
  return Buffer.from(groups.map((g) => g.padStart(4, '0')).join(''), 'hex');
}

/** Seconds since the epoch of a UTC `YYYY-MM-DD HH:MM:SS[.f]` text, as mariadb-binlog prints TIMESTAMP. */
function timestampSeconds(text: string): string {
  const m = /^(\d{4})-(\d{2})-(\d{2}) (\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?$/.exec(text);
  if (!m) return `unparsable ${text}`;
  if (m[1] === '0000') return m[7] ? `0.${m[7]}` : '0';
  const secs = Date.UTC(+m[1]!, +m[2]! - 1, +m[3]!, +m[4]!, +m[5]!, +m[6]!) / 1000;
  return m[7] ? `${secs}.${m[7]}` : String(secs);
}

/**
 * Compares our value of one column with mariadb-binlog's. Returns undefined when they agree,
 * 'oracle-limit' where mariadb-binlog cannot show the value (YEAR 0 printed as 1900), else a
 * description of the difference.
 */
export function compareCell(ours: CellValue | undefined, o: OracleCell, col: ColumnDef): string | undefined {
  const show = () =>
    `ours ${typeof ours === 'bigint' ? `${ours}n` : Buffer.isBuffer(ours) ? `0x${ours.toString('hex')}` : JSON.stringify(ours)}, oracle ${o.text.slice(0, 80)} (${o.type})`;
  if (ours === undefined) return `absent in ours, oracle ${o.text}`;
  if (o.isNull || o.text === 'NULL') return ours === null ? undefined : show();
  if (ours === null) return show();
  const t = col.type;
  switch (t) {
    case ColumnType.TINY:
    case ColumnType.SHORT:
    case ColumnType.INT24:
    case ColumnType.LONG:
    case ColumnType.LONGLONG: {
      const m = /^(-?\d+)(?: \((\d+)\))?$/.exec(o.text);
      const v = col.unsigned && m?.[2] ? m[2] : m?.[1];
      return String(ours) === v ? undefined : show();
    }
    case ColumnType.NEWDECIMAL:
      return String(ours) === o.text ? undefined : show();
    case ColumnType.FLOAT: {
      // Printed with %g (6 significant digits).
      const a = Number(o.text);
      const b = Number(ours);
      return a === b || Math.abs(a - b) <= Math.abs(a) * 1e-5 ? undefined : show();
    }
    case ColumnType.DOUBLE:
      return Number(o.text) === ours ? undefined : show();
    case ColumnType.BIT: {
      const bits = /^b'([01]*)'$/.exec(o.text)?.[1];
      if (bits === undefined || !Buffer.isBuffer(ours)) return show();
      return BigInt(`0b${bits || '0'}`) === BigInt(`0x${ours.toString('hex') || '0'}`) ? undefined : show();
    }
    case ColumnType.YEAR:
      if (ours === 0 && o.text === '1900') return 'oracle-limit';
      return String(ours) === o.text ? undefined : show();
    case ColumnType.DATE:
    case ColumnType.NEWDATE:
      return `'${ours}'` === o.text.replace(/:/g, '-') ? undefined : show();
    case ColumnType.DATETIME:
    case ColumnType.DATETIME2:
    case ColumnType.TIME:
    case ColumnType.TIME2:
      return `'${ours}'` === o.text ? undefined : show();
    case ColumnType.TIMESTAMP:
    case ColumnType.TIMESTAMP2:
      return timestampSeconds(String(ours)) === o.text ? undefined : show();
    case ColumnType.ENUM: {
      const index = typeof ours === 'number' ? ours : (col.enumValues ?? []).indexOf(String(ours)) + 1;
      return String(index) === o.text ? undefined : show();
    }
    case ColumnType.SET: {
      const bits = /^b'([01]*)'$/.exec(o.text)?.[1];
      if (bits === undefined) return show();
      let mask = 0n;
      if (typeof ours === 'number' || typeof ours === 'bigint') mask = BigInt(ours);
      else if (ours !== '')
        for (const label of String(ours).split(','))
          mask |= 1n << BigInt((col.setValues ?? []).indexOf(label));
      return mask === BigInt(`0b${bits || '0'}`) ? undefined : show();
    }
    default: {
      const bytes = quotedBytes(o.text);
      if (!bytes) return show();
      if (Buffer.isBuffer(ours)) {
        // BINARY(n) values are logged without trailing zero bytes.
        const same =
          col.type === ColumnType.STRING
            ? stripTrailingZeros(ours).equals(stripTrailingZeros(bytes))
            : ours.equals(bytes);
        return same ? undefined : show();
      }
      const text = String(ours);
      // MariaDB UUID / INET4 / INET6 travel as BINARY(16/4/16).
      if (
        col.type === ColumnType.STRING &&
        /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/.test(text)
      )
        return stripTrailingZeros(Buffer.from(text.replace(/-/g, ''), 'hex')).equals(
          stripTrailingZeros(bytes),
        )
          ? undefined
          : show();
      if (col.type === ColumnType.STRING && /^\d+\.\d+\.\d+\.\d+$/.test(text) && (col.meta & 0xff) === 4)
        return stripTrailingZeros(Buffer.from(text.split('.').map(Number))).equals(stripTrailingZeros(bytes))
          ? undefined
          : show();
      if (col.type === ColumnType.STRING && text.includes(':') && (col.meta & 0xff) === 16)
        return stripTrailingZeros(inet6Bytes(text)).equals(stripTrailingZeros(bytes)) ? undefined : show();
      const decode = textDecoderFor(col.charset);
      const theirs = decode ? decode(bytes, 0, bytes.length) : bytes.toString('utf8');
      return text === String(theirs) ? undefined : show();
    }
  }
}

/** Result of comparing our row changes with the oracle's, in binlog order. */
export interface OracleComparison {
  compared: number;
  oracleLimits: number;
  mismatches: string[];
}

/** Compares row changes (ours, with event positions) against oracle rows, pairwise in order. */
export function compareWithOracle(
  ours: Array<{ pos: number; change: RowChange }>,
  oracle: OracleRow[],
  compare: typeof compareCell = compareCell,
): OracleComparison {
  const result: OracleComparison = { compared: 0, oracleLimits: 0, mismatches: [] };
  if (ours.length !== oracle.length)
    result.mismatches.push(`row count: ours ${ours.length}, oracle ${oracle.length}`);
  const n = Math.min(ours.length, oracle.length);
  for (let r = 0; r < n; r++) {
    const { pos, change } = ours[r]!;
    const o = oracle[r]!;
    const where = `row ${r} (${o.schema}.${o.table} at ${o.pos})`;
    if (change.kind !== o.kind || change.table.table !== o.table || change.table.schema !== o.schema) {
      result.mismatches.push(
        `${where}: ours ${change.kind} ${change.table.schema}.${change.table.table} at ${pos}`,
      );
      continue;
    }
    const images: Array<
      [string, ReadonlyArray<CellValue | undefined> | undefined, Map<number, OracleCell> | undefined]
    > = [
      ['before', change.kind === 'insert' ? undefined : change.before, o.before],
      ['after', change.kind === 'delete' ? undefined : change.after, o.after],
    ];
    for (const [label, image, oracleImage] of images) {
      if (!image || !oracleImage) continue;
      for (const [i, cell] of oracleImage) {
        const col = change.table.columns[i];
        if (!col) {
          result.mismatches.push(`${where} ${label} @${i + 1}: no such column in ours`);
          continue;
        }
        const diff = compare(image[i], cell, col);
        result.compared++;
        if (diff === 'oracle-limit') result.oracleLimits++;
        else if (diff) result.mismatches.push(`${where} ${label} ${col.name || `@${i + 1}`}: ${diff}`);
      }
      // Columns we have that the oracle did not print must be absent in ours too.
      image.forEach((v, i) => {
        if (v !== undefined && !oracleImage.has(i))
          result.mismatches.push(`${where} ${label} @${i + 1}: present in ours, absent in oracle`);
      });
    }
  }
  return result;
}
