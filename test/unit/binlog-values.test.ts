import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  type CellValue,
  type ColumnDef,
  ColumnType,
  type RowImage,
  type TableSchema,
} from '../../src/binlog/types';
import { charsetOfCollation, textDecoderFor } from '../../src/binlog/values/charsets';
import { resolveColumnType } from '../../src/binlog/values/column-type';
import { jsonBinaryToText } from '../../src/binlog/values/json-binary';
import { inet6Text } from '../../src/binlog/values/mariadb-types';
import { decimalSize, readDecimal } from '../../src/binlog/values/numeric';
import { compileRowImageDecoder, decodeColumnValue, RowImageError } from '../../src/binlog/values/row-image';
import { readColumnMetas } from '../helpers/column-metas';

function col(type: number, meta = 0, extra: Partial<ColumnDef> = {}): ColumnDef {
  return { name: 'c', type, meta, nullable: true, unsigned: false, ...extra };
}

interface Vector {
  what: string;
  column: ColumnDef;
  hex: string;
  value: CellValue;
}

/** Decodes `hex` as one value of `column` and checks the value and that every byte was consumed. */
function check(v: Vector): void {
  const buf = Buffer.from(`ee${v.hex}ee`, 'hex'); // guard bytes: reads must start and stop exactly
  const [value, end] = decodeColumnValue(v.column, buf, 1);
  assert.deepEqual(value, v.value, v.what);
  assert.equal(end, buf.length - 1, `${v.what}: consumed bytes`);
}

const U = { unsigned: true };

describe('integers', () => {
  const vectors: Vector[] = [
    { what: 'TINYINT -128', column: col(ColumnType.TINY), hex: '80', value: -128 },
    { what: 'TINYINT 127', column: col(ColumnType.TINY), hex: '7f', value: 127 },
    { what: 'TINYINT UNSIGNED 255', column: col(ColumnType.TINY, 0, U), hex: 'ff', value: 255 },
    { what: 'SMALLINT -32768', column: col(ColumnType.SHORT), hex: '0080', value: -32768 },
    { what: 'SMALLINT -1', column: col(ColumnType.SHORT), hex: 'ffff', value: -1 },
    { what: 'SMALLINT UNSIGNED 65535', column: col(ColumnType.SHORT, 0, U), hex: 'ffff', value: 65535 },
    { what: 'MEDIUMINT -8388608', column: col(ColumnType.INT24), hex: '000080', value: -8388608 },
    { what: 'MEDIUMINT 8388607', column: col(ColumnType.INT24), hex: 'ffff7f', value: 8388607 },
    { what: 'MEDIUMINT UNSIGNED max', column: col(ColumnType.INT24, 0, U), hex: 'ffffff', value: 16777215 },
    { what: 'INT -2^31', column: col(ColumnType.LONG), hex: '00000080', value: -2147483648 },
    { what: 'INT 2^31-1', column: col(ColumnType.LONG), hex: 'ffffff7f', value: 2147483647 },
    { what: 'INT UNSIGNED 2^32-1', column: col(ColumnType.LONG, 0, U), hex: 'ffffffff', value: 4294967295 },
    { what: 'BIGINT -2^63', column: col(ColumnType.LONGLONG), hex: '0000000000000080', value: -(2n ** 63n) },
    {
      what: 'BIGINT 2^63-1',
      column: col(ColumnType.LONGLONG),
      hex: 'ffffffffffffff7f',
      value: 2n ** 63n - 1n,
    },
    { what: 'BIGINT -1', column: col(ColumnType.LONGLONG), hex: 'ffffffffffffffff', value: -1n },
    {
      what: 'BIGINT UNSIGNED 2^64-1',
      column: col(ColumnType.LONGLONG, 0, U),
      hex: 'ffffffffffffffff',
      value: 2n ** 64n - 1n,
    },
    {
      what: 'BIGINT UNSIGNED 2^53+1',
      column: col(ColumnType.LONGLONG, 0, U),
      hex: '0100000000002000',
      value: 2n ** 53n + 1n,
    },
    { what: 'YEAR 0 stays 0', column: col(ColumnType.YEAR), hex: '00', value: 0 },
    { what: 'YEAR 1901', column: col(ColumnType.YEAR), hex: '01', value: 1901 },
    { what: 'YEAR 2155', column: col(ColumnType.YEAR), hex: 'ff', value: 2155 },
  ];
  for (const v of vectors) test(v.what, () => check(v));
});

describe('floating point', () => {
  const vectors: Vector[] = [
    {
      what: 'FLOAT 0.1 is the float32 value',
      column: col(ColumnType.FLOAT, 4),
      hex: 'cdcccc3d',
      value: Math.fround(0.1),
    },
    { what: 'FLOAT max', column: col(ColumnType.FLOAT, 4), hex: 'ffff7f7f', value: 3.4028234663852886e38 },
    { what: 'FLOAT -0', column: col(ColumnType.FLOAT, 4), hex: '00000080', value: -0 },
    { what: 'FLOAT smallest subnormal', column: col(ColumnType.FLOAT, 4), hex: '01000000', value: 2 ** -149 },
    {
      what: 'DOUBLE max',
      column: col(ColumnType.DOUBLE, 8),
      hex: 'ffffffffffffef7f',
      value: Number.MAX_VALUE,
    },
    {
      what: 'DOUBLE min subnormal',
      column: col(ColumnType.DOUBLE, 8),
      hex: '0100000000000000',
      value: 5e-324,
    },
    { what: 'DOUBLE -1.5', column: col(ColumnType.DOUBLE, 8), hex: '000000000000f8bf', value: -1.5 },
  ];
  for (const v of vectors) test(v.what, () => check(v));
  test('float32 text re-parses to the same float32', () => {
    const [v] = decodeColumnValue(col(ColumnType.FLOAT, 4), Buffer.from('cdcccc3d', 'hex'), 0);
    assert.equal(Math.fround(Number(String(v))), v);
  });
});

describe('DECIMAL', () => {
  const dec = (p: number, s: number) => col(ColumnType.NEWDECIMAL, (p << 8) | s);
  const nines = (n: number) => '9'.repeat(n);
  const max65 = `85f5e0ff${'3b9ac9ff'.repeat(6)}03e7`;
  const vectors: Vector[] = [
    // The example of MySQL's decimal.c: 1234567890.1234 as DECIMAL(14,4) and its negation.
    { what: '(14,4) 1234567890.1234', column: dec(14, 4), hex: '810dfb38d204d2', value: '1234567890.1234' },
    { what: '(14,4) -1234567890.1234', column: dec(14, 4), hex: '7ef204c72dfb2d', value: '-1234567890.1234' },
    { what: '(10,4) 0.0100', column: dec(10, 4), hex: '8000000064', value: '0.0100' },
    { what: '(10,4) -0.0100', column: dec(10, 4), hex: '7fffffff9b', value: '-0.0100' },
    { what: '(10,4) 0.0000', column: dec(10, 4), hex: '8000000000', value: '0.0000' },
    { what: '(5,0) 12345', column: dec(5, 0), hex: '803039', value: '12345' },
    { what: '(5,0) -12345', column: dec(5, 0), hex: '7fcfc6', value: '-12345' },
    { what: '(4,2) 0.99', column: dec(4, 2), hex: '8063', value: '0.99' },
    { what: '(65,30) max', column: dec(65, 30), hex: max65, value: `${nines(35)}.${nines(30)}` },
    {
      what: '(65,30) min',
      column: dec(65, 30),
      hex: Buffer.from(Buffer.from(max65, 'hex').map((b) => b ^ 0xff)).toString('hex'),
      value: `-${nines(35)}.${nines(30)}`,
    },
    {
      what: '(65,0) 10^64',
      column: dec(65, 0),
      hex: `8a${'00'.repeat(2)}00${'00000000'.repeat(6)}`,
      value: '',
    },
    { what: '(9,9) 0.000000001', column: dec(9, 9), hex: '80000001', value: '0.000000001' },
    { what: '(9,9) -0.123456789', column: dec(9, 9), hex: '78a432ea', value: '-0.123456789' },
  ];
  // (65,0): 2 leading digits in 1 byte + 7 groups of 9; 10^64 = "1" + 64 zeros → leading group 10.
  const big = vectors.find((v) => v.what === '(65,0) 10^64') as Vector;
  big.hex = `8a${'00000000'.repeat(7)}`;
  big.value = `1${'0'.repeat(64)}`;
  for (const v of vectors) test(v.what, () => check(v));
  test('sizes', () => {
    assert.equal(decimalSize(14, 4), 7);
    assert.equal(decimalSize(65, 30), 30);
    assert.equal(decimalSize(10, 0), 5);
    assert.equal(readDecimal(Buffer.from('810dfb38d204d2', 'hex'), 0, 14, 4), '1234567890.1234');
  });
});

describe('BIT', () => {
  test('BIT(1)', () =>
    check({ what: 'BIT(1)', column: col(ColumnType.BIT, 1), hex: '01', value: Buffer.from([1]) }));
  test('BIT(10)', () =>
    check({
      what: 'BIT(10)',
      column: col(ColumnType.BIT, (1 << 8) | 2),
      hex: '02aa',
      value: Buffer.from('02aa', 'hex'),
    }));
  test('BIT(64)', () =>
    check({
      what: 'BIT(64)',
      column: col(ColumnType.BIT, 8 << 8),
      hex: 'ffffffffffffffff',
      value: Buffer.alloc(8, 0xff),
    }));
  test('a BIT value is a copy, not a view of the event buffer', () => {
    const buf = Buffer.from('01', 'hex');
    const [v] = decodeColumnValue(col(ColumnType.BIT, 1), buf, 0);
    buf[0] = 9;
    assert.deepEqual(v, Buffer.from([1]));
  });
});

describe('temporal (vectors captured from MariaDB 10.11, values from SELECT)', () => {
  const vectors: Array<[string, number, number, string, string]> = [
    ['DATE', ColumnType.DATE, 0, '21d007', '1000-01-01'],
    ['DATE zero', ColumnType.DATE, 0, '000000', '0000-00-00'],
    ['DATE max', ColumnType.DATE, 0, '9f1f4e', '9999-12-31'],
    ['DATETIME(0)', ColumnType.DATETIME2, 0, '8cb2420000', '1000-01-01 00:00:00'],
    ['DATETIME(0) zero', ColumnType.DATETIME2, 0, '8000000000', '0000-00-00 00:00:00'],
    ['DATETIME(0) max', ColumnType.DATETIME2, 0, 'fef3ff7efb', '9999-12-31 23:59:59'],
    ['DATETIME(1)', ColumnType.DATETIME2, 1, 'fef3ff7efb5a', '9999-12-31 23:59:59.9'],
    ['DATETIME(1) zero', ColumnType.DATETIME2, 1, '800000000000', '0000-00-00 00:00:00.0'],
    ['DATETIME(1) .5', ColumnType.DATETIME2, 1, '996442000032', '2000-01-01 00:00:00.5'],
    ['DATETIME(3)', ColumnType.DATETIME2, 3, '99b2bac8b81ed2', '2024-02-29 12:34:56.789'],
    ['DATETIME(3) .001', ColumnType.DATETIME2, 3, '8cb2420000000a', '1000-01-01 00:00:00.001'],
    ['DATETIME(3) .000', ColumnType.DATETIME2, 3, '99644200000000', '2000-01-01 00:00:00.000'],
    ['DATETIME(6) zero', ColumnType.DATETIME2, 6, '8000000000000000', '0000-00-00 00:00:00.000000'],
    ['DATETIME(6) µs', ColumnType.DATETIME2, 6, '99b2443105000006', '2024-01-02 03:04:05.000006'],
    ['DATETIME(6) 1000-01-01', ColumnType.DATETIME2, 6, '8cb2420000000000', '1000-01-01 00:00:00.000000'],
    ['TIME(0) max', ColumnType.TIME2, 0, 'b46efb', '838:59:59'],
    ['TIME(0) -1s', ColumnType.TIME2, 0, '7fffff', '-00:00:01'],
    ['TIME(0) zero', ColumnType.TIME2, 0, '800000', '00:00:00'],
    ['TIME(1) min', ColumnType.TIME2, 1, '4b910500', '-838:59:59.0'],
    ['TIME(1) -0.1', ColumnType.TIME2, 1, '7ffffff6', '-00:00:00.1'],
    ['TIME(1) 12:00:00.5', ColumnType.TIME2, 1, '80c00032', '12:00:00.5'],
    ['TIME(3) -0.001', ColumnType.TIME2, 3, '7ffffffff6', '-00:00:00.001'],
    ['TIME(3) -12:34:56.780', ColumnType.TIME2, 3, '7f3747e188', '-12:34:56.780'],
    ['TIME(3) -01:00:00.999', ColumnType.TIME2, 3, '7fefffd8fa', '-01:00:00.999'],
    ['TIME(6) min', ColumnType.TIME2, 6, '4b9105000000', '-838:59:59.000000'],
    ['TIME(6) -1µs', ColumnType.TIME2, 6, '7fffffffffff', '-00:00:00.000001'],
    ['TIME(6) 123:45:06.123456', ColumnType.TIME2, 6, '87bb4601e240', '123:45:06.123456'],
    ['TIMESTAMP(0) 1', ColumnType.TIMESTAMP2, 0, '00000001', '1970-01-01 00:00:01'],
    ['TIMESTAMP(0) zero', ColumnType.TIMESTAMP2, 0, '00000000', '0000-00-00 00:00:00'],
    ['TIMESTAMP(6) max', ColumnType.TIMESTAMP2, 6, '7fffffff0f423f', '2038-01-19 03:14:07.999999'],
    ['TIMESTAMP(6) zero', ColumnType.TIMESTAMP2, 6, '00000000000000', '0000-00-00 00:00:00.000000'],
    ['TIMESTAMP(6) .5', ColumnType.TIMESTAMP2, 6, '3b9aca0007a120', '2001-09-09 01:46:40.500000'],
    // Legacy (MySQL < 5.6) formats, little-endian integers.
    [
      'legacy DATETIME',
      ColumnType.DATETIME,
      0,
      Buffer.from(BigInt(20060214220436).toString(16).padStart(16, '0'), 'hex').reverse().toString('hex'),
      '2006-02-14 22:04:36',
    ],
    ['legacy DATETIME zero', ColumnType.DATETIME, 0, '0000000000000000', '0000-00-00 00:00:00'],
    ['legacy TIMESTAMP', ColumnType.TIMESTAMP, 0, '49a1f243', '2006-02-15 03:34:33'],
    ['legacy TIMESTAMP zero', ColumnType.TIMESTAMP, 0, '00000000', '0000-00-00 00:00:00'],
    ['legacy TIME', ColumnType.TIME, 0, '53b601', '11:22:11'],
    ['legacy TIME negative', ColumnType.TIME, 0, 'ad49fe', '-11:22:11'],
  ];
  for (const [what, type, meta, hex, value] of vectors) {
    test(what, () => check({ what, column: col(type, meta), hex, value }));
  }
});

describe('strings and charsets', () => {
  const varchar = (charset: number, max = 80) => col(ColumnType.VARCHAR, max, { charset });
  test('Buffer slice helpers exist on this Node', () => {
    const b = Buffer.from('abc');
    assert.equal(b.utf8Slice(0, 2), 'ab');
    assert.equal(b.latin1Slice(1, 3), 'bc');
    assert.equal(Buffer.from('6100', 'hex').ucs2Slice(0, 2), 'a');
  });
  const emoji = Buffer.from('a😀é', 'utf8');
  const vectors: Vector[] = [
    {
      what: 'utf8mb4 emoji',
      column: varchar(45),
      hex: `${emoji.length.toString(16).padStart(2, '0')}${emoji.toString('hex')}`,
      value: 'a😀é',
    },
    { what: 'utf8mb4_0900_ai_ci (MySQL 8 id 255)', column: varchar(255), hex: '026869', value: 'hi' },
    { what: 'utf8mb3', column: varchar(33), hex: '03c3a978', value: 'éx' },
    { what: 'utf8mb4_uca1400_ai_ci (MariaDB id 2304)', column: varchar(2304), hex: '0178', value: 'x' },
    { what: 'empty', column: varchar(45), hex: '00', value: '' },
    {
      what: 'VARCHAR > 255 bytes uses a 2-byte length',
      column: varchar(45, 1020),
      hex: '03006162 63'.replace(' ', ''),
      value: 'abc',
    },
    {
      what: 'latin1 is cp1252: 0x80 = €, 0x81 stays U+0081',
      column: varchar(8),
      hex: '048081e9ff',
      value: '€\u0081éÿ',
    },
    { what: 'ascii', column: varchar(11), hex: '024142', value: 'AB' },
    { what: 'ucs2 (big-endian)', column: varchar(35), hex: '0400e90041', value: 'éA' },
    { what: 'utf16 surrogate pair', column: varchar(54), hex: '04d83dde00', value: '😀' },
    { what: 'utf16le', column: varchar(56), hex: '043dd800de', value: '😀' },
    { what: 'utf32', column: varchar(60), hex: '080001f60000000041', value: '😀A' },
    { what: 'cp1251', column: varchar(51), hex: '02c0ff', value: 'Ая' },
    { what: 'greek', column: varchar(25), hex: '01e1', value: 'α' },
    { what: 'gbk', column: varchar(28), hex: '04d6d0cec4', value: '中文' },
    {
      what: 'sjis stays bytes (MariaDB maps some codes unlike WHATWG)',
      column: varchar(13),
      hex: '02815f',
      value: Buffer.from('815f', 'hex'),
    },
    {
      what: 'binary collation → bytes',
      column: varchar(63),
      hex: '020001',
      value: Buffer.from('0001', 'hex'),
    },
    {
      what: 'unknown charset → bytes',
      column: col(ColumnType.VARCHAR, 80),
      hex: '0161',
      value: Buffer.from('a'),
    },
    {
      what: 'CHAR(3) latin1 as STRING meta',
      column: col(ColumnType.STRING, 0xfe03, { charset: 8 }),
      hex: '026162',
      value: 'ab',
    },
    // CHAR(100) utf8mb4 = 400 bytes: the length's bits 8–9 ride inverted in the real-type byte.
    {
      what: 'CHAR(100) utf8mb4, 400 bytes',
      column: col(ColumnType.STRING, 0xee90, { charset: 45 }),
      hex: '02006869',
      value: 'hi',
    },
    {
      what: 'BINARY(4) trailing zeros restored',
      column: col(ColumnType.STRING, 0xfe04, { charset: 63 }),
      hex: '026162',
      value: Buffer.from('61620000', 'hex'),
    },
    {
      what: 'TEXT (BLOB with charset)',
      column: col(ColumnType.BLOB, 2, { charset: 45 }),
      hex: '0300616263',
      value: 'abc',
    },
    {
      what: 'BLOB',
      column: col(ColumnType.BLOB, 1, { charset: 63 }),
      hex: '03ff0001',
      value: Buffer.from('ff0001', 'hex'),
    },
    {
      what: 'LONGBLOB',
      column: col(ColumnType.BLOB, 4, { charset: 63 }),
      hex: '01000000ff',
      value: Buffer.from('ff', 'hex'),
    },
    {
      what: 'MariaDB JSON is LONGTEXT utf8mb4_bin',
      column: col(ColumnType.BLOB, 4, { charset: 46 }),
      hex: '070000007b2261223a317d',
      value: '{"a":1}',
    },
  ];
  for (const v of vectors) test(v.what, () => check(v));
  test('latin1 decodes all 256 bytes as cp1252 with C1 fallbacks, exactly', () => {
    const all = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
    const s = textDecoderFor(8)?.(all, 0, 256);
    assert.equal(typeof s, 'string');
    // cp1252's 0x80–0x9F (Node's own windows-1252 TextDecoder decodes ISO-8859-1 there, so spell it out).
    const c1 = [
      0x20ac, 0x81, 0x201a, 0x192, 0x201e, 0x2026, 0x2020, 0x2021, 0x2c6, 0x2030, 0x160, 0x2039, 0x152, 0x8d,
      0x17d, 0x8f, 0x90, 0x2018, 0x2019, 0x201c, 0x201d, 0x2022, 0x2013, 0x2014, 0x2dc, 0x2122, 0x161, 0x203a,
      0x153, 0x9d, 0x17e, 0x178,
    ];
    const expected = Array.from({ length: 256 }, (_, i) =>
      String.fromCharCode(i >= 0x80 && i < 0xa0 ? (c1[i - 0x80] as number) : i),
    );
    assert.equal(s, expected.join(''));
  });
  test('an unmappable byte makes the value bytes', () => {
    // ascii has no 0x80: the value must stay a Buffer rather than turn into a lossy string.
    assert.deepEqual(textDecoderFor(11)?.(Buffer.from('4180', 'hex'), 0, 2), Buffer.from('4180', 'hex'));
  });
  test('collation ids', () => {
    assert.equal(charsetOfCollation(8), 'latin1');
    assert.equal(charsetOfCollation(63), 'binary');
    assert.equal(charsetOfCollation(255), 'utf8mb4');
    assert.equal(charsetOfCollation(323), 'utf8mb4');
    assert.equal(charsetOfCollation(2304), 'utf8mb4');
    assert.equal(charsetOfCollation(248), 'gb18030');
    assert.equal(charsetOfCollation(9999), undefined);
  });
});

describe('ENUM and SET', () => {
  const labels = ['a', 'b,c', "it's", 'say "hi"'];
  const vectors: Vector[] = [
    {
      what: 'ENUM label with a comma',
      column: col(ColumnType.STRING, 0xf701, { enumValues: labels }),
      hex: '02',
      value: 'b,c',
    },
    {
      what: 'ENUM label with quotes',
      column: col(ColumnType.ENUM, 1, { enumValues: labels }),
      hex: '04',
      value: 'say "hi"',
    },
    {
      what: 'ENUM index 0 is the empty string',
      column: col(ColumnType.ENUM, 1, { enumValues: labels }),
      hex: '00',
      value: '',
    },
    { what: 'ENUM without labels → index', column: col(ColumnType.STRING, 0xf701), hex: '03', value: 3 },
    { what: 'ENUM 2-byte index', column: col(ColumnType.STRING, 0xf702), hex: '2c01', value: 300 },
    {
      what: 'SET labels in member order',
      column: col(ColumnType.STRING, 0xf801, { setValues: ['x', "y'", 'z'] }),
      hex: '05',
      value: 'x,z',
    },
    {
      what: 'SET quote label',
      column: col(ColumnType.SET, 1, { setValues: ['x', "y'", 'z'] }),
      hex: '02',
      value: "y'",
    },
    { what: 'SET empty', column: col(ColumnType.SET, 1, { setValues: ['x'] }), hex: '00', value: '' },
    { what: 'SET without labels → mask', column: col(ColumnType.STRING, 0xf802), hex: '0180', value: 0x8001 },
    {
      what: 'SET of 64 members without labels → bigint',
      column: col(ColumnType.SET, 8),
      hex: '0100000000000080',
      value: 2n ** 63n + 1n,
    },
  ];
  for (const v of vectors) test(v.what, () => check(v));
  test('SET of 64 members with labels', () => {
    const names = Array.from({ length: 64 }, (_, i) => `m${i}`);
    check({
      what: 'set64',
      column: col(ColumnType.SET, 8, { setValues: names }),
      hex: '0100000000000080',
      value: 'm0,m63',
    });
  });
});

describe('MySQL binary JSON', () => {
  const vectors: Array<[string, string, string]> = [
    ['small object', '00' + '01000c000b000100050100' + '61', '{"a": 1}'],
    [
      'array of literals, string, double, int16',
      '02' +
        '05001e00' +
        '040100' +
        '040000' +
        '0c1300' +
        '0b1600' +
        '05ffff' +
        '026162' +
        '0000000000000440',
      '[true, null, "ab", 2.5, -1]',
    ],
    [
      'nested object, empty key, escapes',
      '00' + '02001c00' + '12000000' + '12000100' + '001300' + '0c1700' + '78' + '00000400' + '046122620a',
      '{"": {}, "x": "a\\"b\\n"}',
    ],
    ['large array with inline int32', '03' + '01000000' + '0d000000' + '0770110100', '[70000]'],
    ['uint64 max', '0a' + 'ffffffffffffffff', '18446744073709551615'],
    ['int64 min', '09' + '0000000000000080', '-9223372036854775808'],
    ['uint32', '08' + 'ffffffff', '4294967295'],
    ['double 1.0 stays a double', '0b' + '000000000000f03f', '1.0'],
    ['double 0.1', '0b' + '9a9999999999b93f', '0.1'],
    // As MySQL prints them (checked against SELECT JSON_ARRAY(…) on MySQL 9.7).
    ['double 1e300', '0b' + Buffer.from(new Float64Array([1e300]).buffer).toString('hex'), '1e300'],
    [
      'double 1e15 in exponent form',
      '0b' + Buffer.from(new Float64Array([1e15]).buffer).toString('hex'),
      '1e15',
    ],
    [
      'double 3.25e10 in fixed form',
      '0b' + Buffer.from(new Float64Array([3.25e10]).buffer).toString('hex'),
      '32500000000.0',
    ],
    [
      'double 1.5e-7 in fixed form',
      '0b' + Buffer.from(new Float64Array([1.5e-7]).buffer).toString('hex'),
      '0.00000015',
    ],
    ['double -1e-300', '0b' + Buffer.from(new Float64Array([-1e-300]).buffer).toString('hex'), '-1e-300'],
    ['literal false', '0402', 'false'],
    ['string with emoji', '0c' + '04f09f9880', '"😀"'],
    ['opaque DECIMAL(4,2)', '0ff6' + '04' + '04028c22', '12.34'],
    ['opaque DATETIME', '0f0c08' + '00000019761f9519', '"2015-01-15 23:24:25.000000"'],
    ['opaque DATE', '0f0a08' + '00000000001e9519', '"2015-01-15"'],
    ['opaque TIME negative', '0f0b08' + 'e05ef80491cbffff', '"-838:59:59.500000"'],
    ['opaque BLOB', '0ffc' + '02' + 'ff00', '"base64:type252:/wA="'],
    ['empty value is null', '', 'null'],
  ];
  for (const [what, hex, text] of vectors) {
    test(what, () => {
      const body = Buffer.from(hex, 'hex');
      assert.equal(jsonBinaryToText(body, 0, body.length), text);
      // Through the column decoder too: a JSON column has a 4-byte length prefix.
      const len = Buffer.alloc(4);
      len.writeUInt32LE(body.length);
      check({ what, column: col(ColumnType.JSON, 4), hex: len.toString('hex') + hex, value: text });
    });
  }
  test('a truncated document is an error, not garbage', () => {
    const body = Buffer.from('02' + '05001e00' + '040100', 'hex');
    assert.throws(() => jsonBinaryToText(body, 0, body.length), /malformed binary JSON|out of range/);
  });
});

describe('geometry, vector, MariaDB UUID/INET', () => {
  const point = 'e6100000' + '0101000000' + '000000000000f03f' + '0000000000000040';
  test('GEOMETRY keeps SRID 4326 + WKB', () =>
    check({
      what: 'point',
      column: col(ColumnType.GEOMETRY, 4),
      hex: `19000000${point}`,
      value: Buffer.from(point, 'hex'),
    }));
  test('VECTOR → bytes', () =>
    check({
      what: 'vector',
      column: col(ColumnType.VECTOR, 4),
      hex: '040000000000803f',
      value: Buffer.from('0000803f', 'hex'),
    }));
  test('NULL type reads nothing', () =>
    check({ what: 'null', column: col(ColumnType.NULL), hex: '', value: null }));
  const bin = (n: number, dataType: string) => col(ColumnType.STRING, 0xfe00 | n, { charset: 63, dataType });
  test('UUID with trimmed trailing zeros', () =>
    check({
      what: 'uuid',
      column: bin(16, 'uuid'),
      hex: '0e123e4567e89b12d3a456426655440000'.slice(0, 30),
      value: '123e4567-e89b-12d3-a456-426655440000',
    }));
  test('INET4', () => check({ what: 'inet4', column: bin(4, 'inet4'), hex: '0401020304', value: '1.2.3.4' }));
  test('INET4 0.0.0.0 (all trimmed)', () =>
    check({ what: 'inet4', column: bin(4, 'inet4'), hex: '00', value: '0.0.0.0' }));
  test('INET6 forms', () => {
    const cases: Array<[string, string]> = [
      ['00000000000000000000000000000001', '::1'],
      ['00000000000000000000000000000000', '::'],
      ['20010db8000000000000ff0000428329', '2001:db8::ff00:42:8329'],
      ['00000000000000000000ffff01020304', '::ffff:1.2.3.4'],
      ['00000000000000000000000001020304', '::1.2.3.4'],
      ['20010db8000000010000000000000001', '2001:db8:0:1::1'],
      ['20010db8000100010001000100010001', '2001:db8:1:1:1:1:1:1'],
      ['fe800000000000000000000000000000', 'fe80::'],
    ];
    for (const [hex, text] of cases) {
      const b = Buffer.from(hex, 'hex');
      assert.equal(inet6Text(b, 0, 16), text, hex);
    }
  });
});

describe('column meta', () => {
  test('table map metadata bytes → meta numbers (mysqlbinlog convention)', () => {
    // From a MariaDB table map: uuid (fe 10), json blob (04), enum (f7 01), varchar(10) (0a 00), year, bit(10) (02 01)
    const types = [254, 252, 254, 15, 13, 16, 246, 18];
    const metas = readColumnMetas(
      types,
      Buffer.from('fe10' + '04' + 'f701' + '0a00' + '0201' + '0e04' + '06', 'hex'),
      0,
    );
    assert.deepEqual(metas, [0xfe10, 4, 0xf701, 10, 0, 258, (14 << 8) | 4, 6]);
  });
  test('STRING packing', () => {
    assert.deepEqual(resolveColumnType(254, 0xfe03), { type: 254, meta: 3 });
    assert.deepEqual(resolveColumnType(254, 0xf701), { type: 247, meta: 1 });
    assert.deepEqual(resolveColumnType(254, 0xf808), { type: 248, meta: 8 });
    assert.deepEqual(resolveColumnType(254, 0xee90), { type: 254, meta: 400 });
    assert.deepEqual(resolveColumnType(254, 0xcefc), { type: 254, meta: 1020 });
  });
});

describe('row images', () => {
  const table: TableSchema = {
    tableId: 1n,
    schema: 's',
    table: 't',
    primaryKey: [0],
    columns: [
      col(ColumnType.LONG, 0, { name: 'id', nullable: false }),
      col(ColumnType.VARCHAR, 40, { name: 'name', charset: 45 }),
      col(ColumnType.LONGLONG, 0, { name: 'big', unsigned: true }),
      col(ColumnType.BLOB, 2, { name: 'body', charset: 63 }),
      col(ColumnType.TINY, 0, { name: 't' }),
      col(ColumnType.DATETIME2, 0, { name: 'at' }),
      col(ColumnType.SHORT, 0, { name: 's' }),
      col(ColumnType.NEWDECIMAL, (5 << 8) | 2, { name: 'd' }),
      col(ColumnType.TINY, 0, { name: 'u', unsigned: true }),
    ],
  };
  const decoder = compileRowImageDecoder(table);
  const all = Buffer.from([0xff, 0x01]);

  test('full image with NULLs, two rows back to back', () => {
    // Row 1: nulls for name (bit 1) and body (bit 3); row 2: no nulls but body empty.
    const row1 = '0a00' + '07000000' + 'ffffffffffffffff' + 'ff' + '8cb2420000' + 'feff' + '807b2d' + 'ff';
    const row2 =
      '0000' +
      '08000000' +
      '026869' +
      '0100000000000000' +
      '0000' +
      '01' +
      '8000000000' +
      '0100' +
      '7f84d2' +
      '00';
    const buf = Buffer.from(`99${row1}${row2}`, 'hex');
    const out1: RowImage = [];
    const end1 = decoder.decode(buf, 1, all, out1);
    assert.deepEqual(out1, [7, null, 2n ** 64n - 1n, null, -1, '1000-01-01 00:00:00', -2, '123.45', 255]);
    const out2: RowImage = [];
    const end2 = decoder.decode(buf, end1, all, out2);
    assert.equal(end2, buf.length);
    assert.deepEqual(out2, [8, 'hi', 1n, Buffer.alloc(0), 1, '0000-00-00 00:00:00', 1, '-123.45', 0]);
  });

  test('MINIMAL image: absent columns stay undefined, the null bitmap covers present columns only', () => {
    // Present: id (0), body (3), u (8). Null bitmap bits: id=0, body=1 (null), u=2.
    const present = Buffer.from([0b00001001, 0x01]);
    const buf = Buffer.from('02' + '05000000' + '2a', 'hex');
    const out: RowImage = [];
    assert.equal(decoder.decode(buf, 0, present, out), buf.length);
    assert.equal(out.length, 9);
    assert.deepEqual(out, [5, undefined, undefined, null, undefined, undefined, undefined, undefined, 42]);
    assert.ok(1 in out && !(out[1] === null));
  });

  test('a truncated row image is an error naming the table', () => {
    const buf = Buffer.from('0000' + '08000000' + '026869' + '01000000', 'hex');
    assert.throws(
      () => decoder.decode(buf, 0, all, []),
      (e: unknown) => e instanceof RowImageError && /s\.t/.test(e.message),
    );
  });

  test('an unknown column type is refused when compiling', () => {
    assert.throws(
      () => compileRowImageDecoder({ ...table, columns: [col(ColumnType.TYPED_ARRAY, 0, { name: 'x' })] }),
      RowImageError,
    );
  });
});
