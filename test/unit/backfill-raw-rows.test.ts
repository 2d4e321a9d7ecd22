import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { SourceTable } from '../../src/backfill/source-table';
import { planRawChunk, sourceWire, targetLoad } from '../../src/connectors/mysql/backfill/raw-chunk';
import type { ColumnTypeInfo } from '../../src/connectors/mysql/load-data';
import {
  FIELD_ESCAPED,
  FIELD_HEX,
  type FieldMode,
  LoadFileBuilder,
  RowFormatError,
} from '../../src/connectors/mysql/text-row-transcoder';

/** A text-protocol row packet payload: null → 0xFB, else a length-encoded string. */
function rowPacket(fields: Array<Buffer | string | null>): Buffer {
  const parts: Buffer[] = [];
  for (const f of fields) {
    if (f === null) {
      parts.push(Buffer.from([0xfb]));
      continue;
    }
    const b = typeof f === 'string' ? Buffer.from(f, 'utf8') : f;
    parts.push(lenenc(b.length), b);
  }
  return Buffer.concat(parts);
}

function lenenc(n: number): Buffer {
  if (n < 251) return Buffer.from([n]);
  if (n < 0x10000) return Buffer.from([0xfc, n & 255, n >> 8]);
  if (n < 0x1000000) return Buffer.from([0xfd, n & 255, (n >> 8) & 255, n >> 16]);
  const b = Buffer.alloc(9);
  b[0] = 0xfe;
  b.writeUInt32LE(n % 0x100000000, 1);
  b.writeUInt32LE(Math.floor(n / 0x100000000), 5);
  return b;
}

function transcode(
  modes: FieldMode[],
  rows: Array<Array<Buffer | string | null>>,
  blockSize?: number,
): Buffer {
  const b = new LoadFileBuilder(modes, blockSize);
  for (const r of rows) {
    const p = rowPacket(r);
    b.addRow(p, 0, p.length);
  }
  assert.equal(b.rows, rows.length);
  const out = Buffer.concat(b.finish());
  assert.equal(out.length, b.bytes);
  return out;
}

test('transcoder: NULL is \\N, the empty string is an empty field, text passes as it is', () => {
  const out = transcode([0, 0, 0, 0], [[null, '', 'abc', 'NULL']]);
  assert.equal(out.toString('latin1'), '\\N\t\tabc\tNULL\n');
  // A field holding the two characters \N is escaped, so it cannot read back as NULL.
  assert.equal(transcode([0], [['\\N']]).toString('latin1'), '\\\\N\n');
});

test('transcoder: tab, newline, backslash and NUL are escaped; every other byte is kept', () => {
  const all = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
  const out = transcode([FIELD_ESCAPED], [[all]]);
  const expected: number[] = [];
  for (let i = 0; i < 256; i++) {
    if (i === 9) expected.push(92, 0x74);
    else if (i === 10) expected.push(92, 0x6e);
    else if (i === 92) expected.push(92, 92);
    else if (i === 0) expected.push(92, 0x30);
    else expected.push(i);
  }
  expected.push(10);
  assert.deepEqual(out, Buffer.from(expected));
  assert.equal(transcode([0, 0], [['a\tb\nc', '\\\0']]).toString('latin1'), 'a\\tb\\nc\t\\\\\\0\n');
});

test('transcoder: hex fields are lowercase hex of the bytes, NULL stays \\N', () => {
  const out = transcode(
    [FIELD_HEX, FIELD_HEX, FIELD_ESCAPED],
    [[Buffer.from([0x00, 0x0a, 0xff, 0x5c]), null, 'x']],
  );
  assert.equal(out.toString('latin1'), '000aff5c\t\\N\tx\n');
});

test('transcoder: 0xFB is NULL, while 0xFC / 0xFD / 0xFE are 2-, 3- and 8-byte lengths', () => {
  const sizes = [250, 251, 0xffff, 0x10000, 0x123456];
  for (const n of sizes) {
    const v = Buffer.alloc(n, 0x61);
    v[n - 1] = 0x09; // the last byte escaped: proves the length was read exactly
    const out = transcode([0, 0], [[v, null]]);
    assert.equal(out.length, n + 1 + 3 + 1, `length ${n}`);
    assert.equal(out.subarray(n - 1).toString('latin1'), '\\t\t\\N\n');
  }
  // An 8-byte length (0xFE) as the server sends for values of 16 MB and more, here on a small value.
  const small = Buffer.concat([
    Buffer.from([0xfe, 3, 0, 0, 0, 0, 0, 0, 0]),
    Buffer.from('xyz'),
    Buffer.from([0xfb]),
  ]);
  const b = new LoadFileBuilder([0, 0]);
  b.addRow(small, 0, small.length);
  assert.equal(Buffer.concat(b.finish()).toString('latin1'), 'xyz\t\\N\n');
  // A length byte of 251 (0xFB) must never be read as a length: a field of 251 bytes uses 0xFC.
  assert.deepEqual(lenenc(251), Buffer.from([0xfc, 251, 0]));
});

test('transcoder: a row inside a larger buffer, many rows across blocks, a row larger than a block', () => {
  const p = rowPacket(['1', 'two']);
  const framed = Buffer.concat([Buffer.from([1, 2, 3, 4]), p, Buffer.from([0xff, 0xff])]);
  const b = new LoadFileBuilder([0, 0], 16);
  for (let i = 0; i < 10; i++) b.addRow(framed, 4, 4 + p.length);
  const big = rowPacket(['x'.repeat(100), null]);
  b.addRow(big, 0, big.length);
  const parts = b.finish();
  assert.ok(parts.length > 2);
  assert.equal(Buffer.concat(parts).toString('latin1'), `${'1\ttwo\n'.repeat(10)}${'x'.repeat(100)}\t\\N\n`);
});

test('transcoder: a packet with too few, too many or truncated fields is refused', () => {
  const two = rowPacket(['a', 'b']);
  assert.throws(() => new LoadFileBuilder([0, 0, 0]).addRow(two, 0, two.length), RowFormatError);
  assert.throws(() => new LoadFileBuilder([0]).addRow(two, 0, two.length), RowFormatError);
  const cut = rowPacket(['abcdef']);
  assert.throws(() => new LoadFileBuilder([0]).addRow(cut, 0, cut.length - 1), RowFormatError);
  const badLen = Buffer.from([0xfc, 5]);
  assert.throws(() => new LoadFileBuilder([0]).addRow(badLen, 0, badLen.length), RowFormatError);
  const ff = Buffer.from([0xff]);
  assert.throws(() => new LoadFileBuilder([0]).addRow(ff, 0, 1), RowFormatError);
});

const col = (name: string, dataType: string, charset: string | null = null): ColumnTypeInfo => ({
  name,
  dataType,
  charset,
});

test('fast-path columns: FLOAT is selected widened to a double, non-UTF-8 text as its stored bytes', () => {
  assert.deepEqual(sourceWire(col('f', 'float'), 'utf8mb4'), { expr: '`f` + 0e0', wire: { kind: 'number' } });
  assert.deepEqual(sourceWire(col('d', 'double'), 'utf8mb4'), { expr: '`d`', wire: { kind: 'number' } });
  assert.deepEqual(sourceWire(col('t', 'varchar', 'utf8mb4'), 'utf8mb4'), {
    expr: '`t`',
    wire: { kind: 'text', charset: 'utf8mb4' },
  });
  assert.deepEqual(sourceWire(col('l', 'text', 'latin1'), 'utf8mb4'), {
    expr: 'CAST(`l` AS BINARY)',
    wire: { kind: 'text', charset: 'latin1' },
  });
  // A session whose results are not UTF-8 gets UTF-8 columns as their bytes too.
  assert.equal(sourceWire(col('t', 'varchar', 'utf8mb4'), 'latin1')?.expr, 'CAST(`t` AS BINARY)');
  assert.equal(sourceWire(col('b', 'bit'), 'utf8mb4')?.wire.kind, 'hex');
  assert.equal(sourceWire(col('g', 'point'), 'utf8mb4')?.wire.kind, 'hex');
  assert.equal(sourceWire(col('v', 'vector'), 'utf8mb4'), undefined);
});

test('fast-path columns: target loads pair by kind and character set', () => {
  const latin1 = { kind: 'text', charset: 'latin1' } as const;
  const utf8 = { kind: 'text', charset: 'utf8mb4' } as const;
  assert.deepEqual(targetLoad(latin1, 'x', col('x', 'varchar', 'latin1')), { name: 'x', kind: 'bytes' });
  assert.deepEqual(targetLoad(latin1, 'x', col('x', 'varchar', 'utf8mb4')), {
    name: 'x',
    kind: 'convert',
    charset: 'latin1',
  });
  assert.deepEqual(targetLoad(utf8, 'x', col('x', 'text', 'utf8mb4')), { name: 'x', kind: 'bytes' });
  assert.equal(targetLoad(latin1, 'x', col('x', 'blob')), undefined); // the upsert would store UTF-8
  assert.deepEqual(targetLoad({ kind: 'ascii' }, 'u', col('u', 'uuid')), {
    name: 'u',
    kind: 'convert',
    charset: 'utf8mb4',
  });
  assert.deepEqual(targetLoad({ kind: 'hex' }, 'g', col('g', 'geometry')), { name: 'g', kind: 'unhex' });
  assert.equal(targetLoad({ kind: 'number' }, 'n', col('n', 'varchar', 'utf8mb4')), undefined);
  assert.equal(targetLoad({ kind: 'temporal' }, 'n', col('n', 'year')), undefined);
  assert.deepEqual(targetLoad({ kind: 'year' }, 'y', col('y', 'year')), { name: 'y', kind: 'bytes' });
});

test('fast-path plan: projected and renamed columns, one load per target, refusal reasons', () => {
  const table = { ref: { schema: 's', table: 't' } } as SourceTable;
  const src = [col('id', 'int'), col('secret', 'varchar', 'utf8mb4'), col('g', 'geometry')];
  const plan = planRawChunk(
    table,
    src,
    [0, 2],
    [
      {
        target: { schema: 'd', table: 't' },
        names: ['key', 'shape'],
        columns: [col('key', 'bigint'), col('shape', 'geometry')],
      },
    ],
    'utf8mb4',
  );
  assert.ok('targets' in plan);
  assert.deepEqual(plan.selectList, ['`id`', '`g`']);
  assert.deepEqual(plan.modes, [FIELD_ESCAPED, FIELD_HEX]);
  assert.deepEqual(plan.targets[0]?.columns, [
    { name: 'key', kind: 'bytes' },
    { name: 'shape', kind: 'unhex' },
  ]);
  const missing = planRawChunk(
    table,
    src,
    [0],
    [{ target: { schema: 'd', table: 't' }, names: ['id'], columns: [col('other', 'int')] }],
    'utf8mb4',
  );
  assert.match((missing as { reason: string }).reason, /has no column id/);
});
