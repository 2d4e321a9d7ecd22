/**
 * The JSON lines of `otterflow binlog decode`: one line per row change,
 * `{"file","position","gtid","timestamp","schema","table","type","before","after"}` (docs/binlog-decoder.md).
 * Values: bigint as a decimal string, Buffer as {"hex": …}, the rest as JSON has them; absent
 * columns are left out, unnamed columns are `@1`, `@2`, ….
 *
 * The bytes are what JSON.stringify of that object gives (a unit test compares them), written
 * straight into 1 MiB output chunks: the keys of a table and the head of an event are encoded
 * once, and a value costs its formatting only. Building each line as an object (then as joined
 * strings) cost 4× the decoding itself, mostly in garbage collection.
 */
import { type CellValue, ColumnType, type RowChange, type RowImage, type TableSchema } from '../binlog/types';

/** What every line of one rows event shares. */
export interface LineContext {
  file: string;
  position: number;
  gtid: string | undefined;
  /** Seconds since the epoch (the event's timestamp). */
  timestamp: number;
  table: TableSchema;
}

/** The text of a line up to its row's type: the same for every row of an event. */
export function lineHead(c: LineContext): string {
  const gtid = c.gtid === undefined ? 'null' : JSON.stringify(c.gtid);
  const time = JSON.stringify(new Date(c.timestamp * 1000).toISOString());
  return `{"file":${JSON.stringify(c.file)},"position":${c.position},"gtid":${gtid},"timestamp":${time},"schema":${JSON.stringify(c.table.schema)},"table":${JSON.stringify(c.table.table)},"type":`;
}

/** Characters that JSON.stringify escapes (quote, backslash, controls, lone surrogates). */
// biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what it looks for
const NEEDS_ESCAPE = /["\\\u0000-\u001f\ud800-\udfff]/;
const CHUNK = 1 << 20;
const QUOTE = 0x22;

const INSERT = Buffer.from('"insert","after":');
const DELETE = Buffer.from('"delete","before":');
const UPDATE = Buffer.from('"update","before":');
const AFTER = Buffer.from(',"after":');
const NULL = Buffer.from('null');
const HEX = Buffer.from('{"hex":"');

/** Types whose decoded text is always plain ASCII (digits, sign, point, separators): no escaping. */
const PLAIN_TEXT_TYPES = new Set<number>([
  ColumnType.DECIMAL,
  ColumnType.NEWDECIMAL,
  ColumnType.DATE,
  ColumnType.NEWDATE,
  ColumnType.TIME,
  ColumnType.TIME2,
  ColumnType.DATETIME,
  ColumnType.DATETIME2,
  ColumnType.TIMESTAMP,
  ColumnType.TIMESTAMP2,
]);

/** Per table definition, encoded once: `"name":` per column, and which columns hold plain text. */
interface Layout {
  keys: Buffer[];
  plainText: boolean[];
}

const layouts = new WeakMap<TableSchema, Layout>();

function layoutOf(table: TableSchema, width: number): Layout {
  let layout = layouts.get(table);
  if (!layout || layout.keys.length < width) {
    layout = { keys: [], plainText: [] };
    for (let i = 0; i < Math.max(width, table.columns.length); i++) {
      const col = table.columns[i];
      layout.keys.push(Buffer.from(`${JSON.stringify(col?.name || `@${i + 1}`)}:`));
      layout.plainText.push(col !== undefined && PLAIN_TEXT_TYPES.has(col.type));
    }
    layouts.set(table, layout);
  }
  return layout;
}

/**
 * Writes JSON lines into chunks and hands each full chunk to `emit` (which may return a promise
 * to slow the producer down). Call `end()` for the last chunk.
 */
export class JsonLinesWriter {
  private buf = Buffer.allocUnsafe(CHUNK);
  private pos = 0;

  constructor(private readonly emit: (chunk: Buffer) => void | Promise<void>) {}

  /** One row change's line; `head` is the event's `lineHead` as bytes. */
  row(head: Buffer, table: TableSchema, r: RowChange): void | Promise<void> {
    this.bytes(head);
    switch (r.kind) {
      case 'insert':
        this.bytes(INSERT);
        this.image(layoutOf(table, r.after.length), r.after);
        break;
      case 'delete':
        this.bytes(DELETE);
        this.image(layoutOf(table, r.before.length), r.before);
        break;
      case 'update': {
        const layout = layoutOf(table, Math.max(r.before.length, r.after.length));
        this.bytes(UPDATE);
        this.image(layout, r.before);
        this.bytes(AFTER);
        this.image(layout, r.after);
        break;
      }
    }
    this.ensure(2);
    this.buf[this.pos++] = 0x7d; // }
    this.buf[this.pos++] = 0x0a; // \n
    if (this.pos >= CHUNK - 4096) return this.flush();
  }

  /** Hands over what is left. */
  end(): void | Promise<void> {
    return this.flush();
  }

  private flush(): void | Promise<void> {
    if (this.pos === 0) return;
    const chunk = this.buf.subarray(0, this.pos);
    // A fresh chunk: the one handed over may still be queued in the stream.
    this.buf = Buffer.allocUnsafe(CHUNK);
    this.pos = 0;
    return this.emit(chunk);
  }

  private ensure(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    const bigger = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.pos + n));
    this.buf.copy(bigger, 0, 0, this.pos);
    this.buf = bigger;
  }

  // Keys, heads and numbers are short: a byte loop beats Buffer.copy / Buffer.write, whose
  // per-call overhead showed up at the top of the profile.
  private bytes(b: Buffer): void {
    const n = b.length;
    this.ensure(n);
    const buf = this.buf;
    const p = this.pos;
    if (n > 64) b.copy(buf, p);
    else for (let i = 0; i < n; i++) buf[p + i] = b[i]!;
    this.pos = p + n;
  }

  private ascii(s: string): void {
    const n = s.length;
    this.ensure(n);
    const buf = this.buf;
    const p = this.pos;
    for (let i = 0; i < n; i++) buf[p + i] = s.charCodeAt(i);
    this.pos = p + n;
  }

  /** Digits of a safe integer, without a string in between. */
  private integer(v: number): void {
    this.ensure(17);
    const buf = this.buf;
    let p = this.pos;
    if (v < 0) {
      buf[p++] = 0x2d; // -
      v = -v;
    }
    let digits = 1;
    if (v <= 0x7fffffff) {
      // 32-bit: integer division by `| 0`.
      for (let x = v; x >= 10; x = (x / 10) | 0) digits++;
      for (let i = digits - 1; i >= 0; i--) {
        const q = (v / 10) | 0;
        buf[p + i] = 0x30 + v - q * 10;
        v = q;
      }
    } else {
      for (let x = v; x >= 10; x = Math.floor(x / 10)) digits++;
      for (let i = digits - 1; i >= 0; i--) {
        buf[p + i] = 0x30 + (v % 10);
        v = Math.floor(v / 10);
      }
    }
    this.pos = p + digits;
  }

  /**
   * A short string of printable ASCII without quote or backslash (dates, decimals, most keys and
   * codes), quoted byte by byte; false (nothing written) when it has anything else.
   */
  private plainAscii(s: string): boolean {
    const n = s.length;
    this.ensure(n + 2);
    const buf = this.buf;
    const p = this.pos;
    for (let i = 0; i < n; i++) {
      const c = s.charCodeAt(i);
      if (c < 0x20 || c > 0x7e || c === QUOTE || c === 0x5c) return false;
      buf[p + 1 + i] = c;
    }
    buf[p] = QUOTE;
    buf[p + n + 1] = QUOTE;
    this.pos = p + n + 2;
    return true;
  }

  private image(layout: Layout, image: RowImage): void {
    const { keys, plainText } = layout;
    this.ensure(1);
    this.buf[this.pos++] = 0x7b; // {
    let first = true;
    for (let i = 0; i < image.length; i++) {
      const v = image[i];
      if (v === undefined) continue;
      if (!first) {
        this.ensure(1);
        this.buf[this.pos++] = 0x2c; // ,
      }
      first = false;
      this.bytes(keys[i]!);
      if (plainText[i] && typeof v === 'string') this.quotedAscii(v);
      else this.cell(v);
    }
    this.ensure(1);
    this.buf[this.pos++] = 0x7d; // }
  }

  /** A string known to be plain ASCII (a DECIMAL or temporal value), quoted. */
  private quotedAscii(s: string): void {
    const n = s.length;
    this.ensure(n + 2);
    const buf = this.buf;
    const p = this.pos;
    buf[p] = QUOTE;
    for (let i = 0; i < n; i++) buf[p + 1 + i] = s.charCodeAt(i);
    buf[p + n + 1] = QUOTE;
    this.pos = p + n + 2;
  }

  private cell(v: CellValue): void {
    switch (typeof v) {
      case 'number':
        if (Number.isSafeInteger(v) && !Object.is(v, -0)) this.integer(v);
        else this.ascii(Number.isFinite(v) ? String(v) : 'null');
        return;
      case 'string':
        if (v.length <= 64 && this.plainAscii(v)) return;
        if (NEEDS_ESCAPE.test(v)) {
          const s = JSON.stringify(v);
          this.ensure(s.length * 3);
          this.pos += this.buf.utf8Write(s, this.pos);
        } else {
          this.ensure(v.length * 3 + 2);
          this.buf[this.pos++] = QUOTE;
          this.pos += this.buf.utf8Write(v, this.pos);
          this.buf[this.pos++] = QUOTE;
        }
        return;
      case 'bigint':
        this.ascii(`"${v}"`);
        return;
      default:
        if (v === null) this.bytes(NULL);
        else if (Buffer.isBuffer(v)) {
          this.bytes(HEX);
          this.ascii(v.toString('hex'));
          this.ascii('"}');
        } else this.ascii(JSON.stringify(v));
    }
  }
}
