import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  type CellValue,
  ColumnType,
  type RowChange,
  type RowImage,
  type TableSchema,
} from '../../src/binlog/types';
import { JsonLinesWriter, lineHead } from '../../src/cli/json-lines';

/** The documented line, built the plain way: an object through JSON.stringify. */
function reference(head: Record<string, unknown>, table: TableSchema, r: RowChange): string {
  const cell = (v: CellValue) =>
    typeof v === 'bigint' ? v.toString() : Buffer.isBuffer(v) ? { hex: v.toString('hex') } : v;
  const image = (img: RowImage) => {
    const out: Record<string, unknown> = {};
    img.forEach((v, i) => {
      if (v !== undefined) out[table.columns[i]?.name || `@${i + 1}`] = cell(v);
    });
    return out;
  };
  const line: Record<string, unknown> = { ...head, type: r.kind };
  if (r.kind !== 'insert') line.before = image(r.before);
  if (r.kind !== 'delete') line.after = image(r.after);
  return JSON.stringify(line);
}

test('binlog decode lines (bytes written into chunks) equal JSON.stringify of the documented object for every kind of value', () => {
  const col = (name: string) => ({ name, type: ColumnType.LONG, meta: 0, nullable: true, unsigned: false });
  const table: TableSchema = {
    tableId: 1n,
    schema: 'sch"ema',
    table: 'tä\\ble',
    columns: [col('id'), col('quote"d'), col(''), col('b'), col('n'), col('u'), col('f')],
    primaryKey: [0],
  };
  const values: RowImage = [
    1,
    'line\nbreak "q" \\ \u0000 \ud800 é 𝄞',
    18446744073709551615n,
    Buffer.from([0, 255, 16]),
    null,
    undefined,
    -0.000001234,
  ];
  const head = {
    file: 'bin.000001',
    position: 1234,
    gtid: '0-1-5',
    timestamp: '2024-01-02T03:04:05.000Z',
    schema: table.schema,
    table: table.table,
  };
  const text = lineHead({ file: 'bin.000001', position: 1234, gtid: '0-1-5', timestamp: 1704164645, table });
  const changes: RowChange[] = [
    { kind: 'insert', table, after: values },
    { kind: 'delete', table, before: values },
    {
      kind: 'update',
      table,
      before: values,
      after: [2, 'x', undefined, undefined, undefined, undefined, 1e300],
    },
    { kind: 'insert', table, after: [...values, 'an eighth value beyond the named columns'] },
    {
      kind: 'insert',
      table,
      after: [0, -0, -2147483648, 2147483647, 2147483648, -9007199254740991, 2 ** 53 + 2],
    },
    { kind: 'insert', table, after: [Number.NaN, 0.1, -1e-7, 'plain ascii', 'tab\there', '~', 'DEL\u007f'] },
  ];
  const chunks: Buffer[] = [];
  const writer = new JsonLinesWriter((c) => {
    chunks.push(Buffer.from(c));
  });
  for (const r of changes) writer.row(Buffer.from(text), table, r);
  writer.end();
  const lines = Buffer.concat(chunks).toString('utf8').split('\n');
  assert.equal(lines.pop(), '');
  assert.deepEqual(
    lines,
    changes.map((r) => reference(head, table, r)),
  );
  const noGtid = lineHead({ file: 'f', position: 4, gtid: undefined, timestamp: 0, table });
  assert.match(noGtid, /"gtid":null,"timestamp":"1970-01-01T00:00:00.000Z"/);
});

test('lines longer than a chunk and many lines across chunks come out whole and in order', () => {
  const col = { name: 'v', type: ColumnType.BLOB, meta: 4, nullable: true, unsigned: false };
  const table: TableSchema = { tableId: 2n, schema: 's', table: 't', columns: [col], primaryKey: [] };
  const big = 'x'.repeat(3 << 20);
  const chunks: Buffer[] = [];
  const writer = new JsonLinesWriter((c) => {
    chunks.push(Buffer.from(c));
  });
  const head = Buffer.from(lineHead({ file: 'f', position: 4, gtid: undefined, timestamp: 0, table }));
  for (let i = 0; i < 20000; i++) writer.row(head, table, { kind: 'insert', table, after: [`row ${i} é`] });
  writer.row(head, table, { kind: 'insert', table, after: [big] });
  writer.end();
  assert.ok(chunks.length > 1);
  const lines = Buffer.concat(chunks).toString('utf8').split('\n');
  lines.pop();
  assert.equal(lines.length, 20001);
  assert.equal((JSON.parse(lines[19999]!) as { after: { v: string } }).after.v, 'row 19999 é');
  assert.equal((JSON.parse(lines[20000]!) as { after: { v: string } }).after.v, big);
});

test('DECIMAL and temporal columns (plain ASCII text) are written like any string', () => {
  const col = (name: string, type: number) => ({ name, type, meta: 0, nullable: true, unsigned: false });
  const table: TableSchema = {
    tableId: 3n,
    schema: 's',
    table: 't',
    columns: [
      col('d', ColumnType.NEWDECIMAL),
      col('dt', ColumnType.DATETIME2),
      col('t', ColumnType.TIME2),
      col('day', ColumnType.DATE),
    ],
    primaryKey: [],
  };
  const after: RowImage = ['-12345678901234567890.50', '2024-02-29 23:59:59.000001', '-838:59:59', null];
  const chunks: Buffer[] = [];
  const writer = new JsonLinesWriter((c) => {
    chunks.push(Buffer.from(c));
  });
  writer.row(Buffer.from(lineHead({ file: 'f', position: 4, gtid: undefined, timestamp: 0, table })), table, {
    kind: 'insert',
    table,
    after,
  });
  writer.end();
  const line = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { after: Record<string, unknown> };
  assert.deepEqual(line.after, { d: after[0], dt: after[1], t: after[2], day: null });
});
