/**
 * Micro-benchmark of the compiled row-image decoder (src/binlog/values/row-image.ts): decodes the
 * same buffer of synthetic rows repeatedly for a few table shapes and prints one JSON line per shape
 * with rows/s and MB/s. No event framing: this is the value-decoding ceiling.
 *   node --import tsx bench/decode/values.ts [rowsPerShape]
 */
import { type ColumnDef, ColumnType, type RowImage, type TableSchema } from '../../src/binlog/types';
import { compileRowImageDecoder } from '../../src/binlog/values/row-image';

function col(name: string, type: number, meta = 0, extra: Partial<ColumnDef> = {}): ColumnDef {
  return { name, type, meta, nullable: true, unsigned: false, ...extra };
}

interface Shape {
  name: string;
  columns: ColumnDef[];
  /** Bytes of one row image (null bitmap + values) for row i. */
  row(i: number): Buffer;
}

function lenStr(s: string, enc: BufferEncoding = 'utf8'): Buffer {
  const b = Buffer.from(s, enc);
  return Buffer.concat([Buffer.from([b.length]), b]);
}

function u32(v: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeInt32LE(v);
  return b;
}

const shapes: Shape[] = [
  {
    name: 'ints: INT, BIGINT, INT, TINYINT',
    columns: [
      col('id', ColumnType.LONG),
      col('a', ColumnType.LONGLONG),
      col('b', ColumnType.LONG),
      col('c', ColumnType.TINY),
    ],
    row: (i) => {
      const big = Buffer.alloc(8);
      big.writeBigInt64LE(BigInt(i) * 1000003n);
      return Buffer.concat([Buffer.from([0]), u32(i), big, u32(i * 7), Buffer.from([i & 0x7f])]);
    },
  },
  {
    name: 'orders: INT, VARCHAR utf8mb4 x2, DATETIME, DECIMAL(10,2), ENUM, TIMESTAMP(3)',
    columns: [
      col('id', ColumnType.LONG),
      col('name', ColumnType.VARCHAR, 200, { charset: 45 }),
      col('email', ColumnType.VARCHAR, 200, { charset: 45 }),
      col('created', ColumnType.DATETIME2, 0),
      col('amount', ColumnType.NEWDECIMAL, (10 << 8) | 2),
      col('status', ColumnType.ENUM, 1, { enumValues: ['new', 'paid', 'shipped'] }),
      col('updated', ColumnType.TIMESTAMP2, 3),
    ],
    row: (i) =>
      Buffer.concat([
        Buffer.from([0]),
        u32(i),
        lenStr(`customer number ${i}`),
        lenStr(`user${i}@example.com`),
        Buffer.from('99b2bac8b8', 'hex'),
        Buffer.from([0x80, 0x00, 0x30, 0x39, 0x05]),
        Buffer.from([1 + (i % 3)]),
        Buffer.from('3b9aca0001f4', 'hex'),
      ]),
  },
  {
    name: 'bench:replicate row: BIGINT UNSIGNED, INT, VARCHAR, DECIMAL(12,2), DATETIME(6), INT, DOUBLE, VARCHAR',
    columns: [
      col('id', ColumnType.LONGLONG, 0, { unsigned: true }),
      col('customer', ColumnType.LONG),
      col('name', ColumnType.VARCHAR, 256, { charset: 45 }),
      col('price', ColumnType.NEWDECIMAL, (12 << 8) | 2),
      col('created', ColumnType.DATETIME2, 6),
      col('version', ColumnType.LONG),
      col('score', ColumnType.DOUBLE, 8),
      col('note', ColumnType.VARCHAR, 1020, { charset: 45 }),
    ],
    row: (i) => {
      const big = Buffer.alloc(8);
      big.writeBigUInt64LE(BigInt(i + 1));
      const dbl = Buffer.alloc(8);
      dbl.writeDoubleLE(i / 7);
      const name = Buffer.from(`customer name ${i}`);
      const note = Buffer.from(`preloaded row ${i} ${'x'.repeat(20)}`);
      return Buffer.concat([
        Buffer.from([0]),
        big,
        u32(i % 10007),
        Buffer.from([name.length, 0]), // VARCHAR(64) utf8mb4: up to 256 bytes, a 2-byte length
        name,
        Buffer.from([0x80, 0x00, 0x00, 0x30, 0x39, 0x05]),
        Buffer.from('99b2bac8b80a1b2c', 'hex'),
        u32(i & 7),
        dbl,
        Buffer.from([note.length, 0]),
        note,
      ]);
    },
  },
  {
    name: 'wide text: INT + 16 VARCHAR utf8mb4',
    columns: [
      col('id', ColumnType.LONG),
      ...Array.from({ length: 16 }, (_, k) => col(`s${k}`, ColumnType.VARCHAR, 100, { charset: 45 })),
    ],
    row: (i) =>
      Buffer.concat([
        Buffer.from([0, 0, 0]),
        u32(i),
        ...Array.from({ length: 16 }, (_, k) => lenStr(`value ${k} of row ${i}`)),
      ]),
  },
  {
    name: 'mixed: latin1 text, BLOB, DOUBLE, BIGINT UNSIGNED, TIME(6), NULLs',
    columns: [
      col('id', ColumnType.LONG),
      col('title', ColumnType.VARCHAR, 100, { charset: 8 }),
      col('data', ColumnType.BLOB, 2, { charset: 63 }),
      col('score', ColumnType.DOUBLE, 8),
      col('counter', ColumnType.LONGLONG, 0, { unsigned: true }),
      col('dur', ColumnType.TIME2, 6),
      col('note', ColumnType.BLOB, 2, { charset: 45 }),
    ],
    row: (i) => {
      const dbl = Buffer.alloc(8);
      dbl.writeDoubleLE(i / 3);
      const big = Buffer.alloc(8);
      big.writeBigUInt64LE(2n ** 63n + BigInt(i));
      return Buffer.concat([
        Buffer.from([0b1000000]), // note IS NULL
        u32(i),
        lenStr(`Café crème ${i}`, 'latin1'),
        Buffer.from([16, 0]),
        Buffer.alloc(16, i & 0xff),
        dbl,
        big,
        Buffer.from('87bb4601e240', 'hex'),
      ]);
    },
  },
];

function run(shape: Shape, rows: number): Record<string, unknown> {
  const table: TableSchema = {
    tableId: 1n,
    schema: 'bench',
    table: shape.name,
    columns: shape.columns,
    primaryKey: [0],
  };
  const decoder = compileRowImageDecoder(table);
  // 1,000 distinct rows in one buffer, decoded over and over (like a stream of rows events).
  const images = Array.from({ length: 1000 }, (_, i) => shape.row(i));
  const buf = Buffer.concat(images);
  const present = Buffer.alloc((shape.columns.length + 7) >> 3, 0xff);
  let sink = 0;
  const passes = Math.max(1, Math.round(rows / images.length));
  const decodeAll = () => {
    for (let p = 0; p < passes; p++) {
      let o = 0;
      while (o < buf.length) {
        // A new image per row, as decodeRowsBody makes them (their garbage is part of the cost).
        const out: RowImage = new Array(shape.columns.length);
        o = decoder.decode(buf, o, present, out);
        sink += out.length;
      }
    }
  };
  decodeAll(); // warm-up
  const t0 = process.hrtime.bigint();
  const cpu0 = process.cpuUsage();
  decodeAll();
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  const cpu = process.cpuUsage(cpu0);
  const decoded = passes * images.length;
  return {
    shape: shape.name,
    rows: decoded,
    seconds: Number(seconds.toFixed(3)),
    cpuSeconds: Number(((cpu.user + cpu.system) / 1e6).toFixed(3)),
    rowsPerSecond: Math.round(decoded / seconds),
    megabytesPerSecond: Number(((passes * buf.length) / seconds / 1e6).toFixed(1)),
    bytesPerRow: Math.round(buf.length / images.length),
    checksum: sink,
  };
}

const rows = Number(process.argv[2] ?? 2_000_000);
// An optional third argument picks the shapes whose name contains it.
const only = process.argv[3];
for (const shape of shapes)
  if (!only || shape.name.includes(only)) console.log(JSON.stringify(run(shape, rows)));
