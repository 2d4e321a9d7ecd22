import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  type CellValue,
  type ColumnDef,
  ColumnType,
  type RowChange,
  type TableSchema,
} from '../../src/binlog/types';
import { type FilterExpr, type PipelineConfigInput, parsePipelineConfig } from '../../src/pipeline/config';
import { changedColumns, compileProjection, projectRow } from '../../src/pipeline/mapping/columns';
import { compileFilter, likeToRegExp } from '../../src/pipeline/mapping/filter';
import { compileMapper } from '../../src/pipeline/mapping/mapper';
import type { TransformFn } from '../../src/pipeline/mapping/transform';
import type { MappedChange } from '../../src/pipeline/model';

function col(name: string, type: number, extra: Partial<ColumnDef> = {}): ColumnDef {
  return { name, type, meta: 0, nullable: true, unsigned: false, ...extra };
}

const COLUMNS: ColumnDef[] = [
  col('id', ColumnType.LONGLONG, { unsigned: true }),
  col('qty', ColumnType.LONG),
  col('price', ColumnType.NEWDECIMAL),
  col('name', ColumnType.VARCHAR, { charset: 45 }),
  col('created', ColumnType.DATETIME2),
  col('dur', ColumnType.TIME2),
  col('flag', ColumnType.TINY),
  col('blob', ColumnType.BLOB, { charset: 63 }),
  col('ratio', ColumnType.DOUBLE),
];

function table(schema: string, name: string, columns = COLUMNS): TableSchema {
  return { tableId: 1n, schema, table: name, columns, primaryKey: [0] };
}

const baseRow: CellValue[] = [
  18446744073709551615n,
  -7,
  '12.50',
  'Café',
  '2024-01-31 23:59:59.500000',
  '-838:59:59.000000',
  1,
  Buffer.from([0, 255]),
  0.5,
];

describe('filters', () => {
  const cases: [string, FilterExpr, boolean][] = [
    ['bigint equals a big string', { column: 'id', op: '=', value: '18446744073709551615' }, true],
    ['bigint above a number', { column: 'id', op: '>', value: 9007199254740992 }, true],
    ['int below zero', { column: 'qty', op: '<', value: 0 }, true],
    ['int against fractional', { column: 'qty', op: '>', value: -7.5 }, true],
    ['int against fractional (equal side)', { column: 'qty', op: '<=', value: -7.5 }, false],
    ['decimal 12.50 = 12.5', { column: 'price', op: '=', value: 12.5 }, true],
    ['decimal 12.50 = "12.500"', { column: 'price', op: '=', value: '12.500' }, true],
    ['decimal exact, not float', { column: 'price', op: '<', value: '12.5000000000000000001' }, true],
    ['decimal 12.50 > 9.99 (not text order)', { column: 'price', op: '>', value: '9.99' }, true],
    ['decimal negative', { column: 'price', op: '>', value: '-100' }, true],
    ['text is case-sensitive', { column: 'name', op: '=', value: 'café' }, false],
    ['text exact', { column: 'name', op: '=', value: 'Café' }, true],
    ['like %', { column: 'name', op: 'like', value: 'Ca%' }, true],
    ['like _', { column: 'name', op: 'like', value: 'Caf_' }, true],
    ['like is case-sensitive', { column: 'name', op: 'like', value: 'ca%' }, false],
    ['like escape', { column: 'name', op: 'like', value: 'Caf\\%' }, false],
    ['datetime by text', { column: 'created', op: '>=', value: '2024-01-31' }, true],
    ['datetime fraction matters', { column: 'created', op: '>', value: '2024-01-31 23:59:59' }, true],
    ['negative time below zero', { column: 'dur', op: '<', value: '00:00:00' }, true],
    ['time is a duration, not text', { column: 'dur', op: '<', value: '-01:00:00' }, true],
    ['boolean true is 1', { column: 'flag', op: '=', value: true }, true],
    ['in list', { column: 'qty', op: 'in', value: [1, -7, 3] }, true],
    ['in list misses', { column: 'qty', op: 'in', value: [1, 3] }, false],
    ['bytes by bytes', { column: 'blob', op: '>', value: '\u0000' }, true],
    ['double', { column: 'ratio', op: '<', value: 0.75 }, true],
    ['notNull', { column: 'name', op: 'notNull' }, true],
    ['isNull', { column: 'name', op: 'isNull' }, false],
    [
      'all',
      {
        all: [
          { column: 'qty', op: '<', value: 0 },
          { column: 'flag', op: '=', value: 0 },
        ],
      },
      false,
    ],
    [
      'any',
      {
        any: [
          { column: 'qty', op: '<', value: 0 },
          { column: 'flag', op: '=', value: 0 },
        ],
      },
      true,
    ],
    ['not', { not: { column: 'qty', op: '<', value: 0 } }, false],
  ];
  for (const [what, expr, expected] of cases) {
    test(`${what} → ${expected}`, () => {
      assert.equal(compileFilter(expr, COLUMNS)(baseRow), expected);
    });
  }

  test('NULL satisfies only isNull; != against NULL is false as in SQL', () => {
    const row = [...baseRow];
    row[3] = null;
    assert.equal(compileFilter({ column: 'name', op: 'isNull' }, COLUMNS)(row), true);
    assert.equal(compileFilter({ column: 'name', op: '!=', value: 'x' }, COLUMNS)(row), false);
    assert.equal(compileFilter({ column: 'name', op: 'like', value: '%' }, COLUMNS)(row), false);
  });

  test('long decimals compare exactly where doubles would round', () => {
    const row = [...baseRow];
    row[2] = '0.00000000000000000001';
    assert.equal(compileFilter({ column: 'price', op: '>', value: 0 }, COLUMNS)(row), true);
    row[2] = '12345678901234567.5';
    assert.equal(
      compileFilter({ column: 'price', op: '>', value: '12345678901234567.4' }, COLUMNS)(row),
      true,
    );
    assert.equal(
      compileFilter({ column: 'price', op: '=', value: '12345678901234567.50' }, COLUMNS)(row),
      true,
    );
    row[2] = '-0.00';
    assert.equal(compileFilter({ column: 'price', op: '=', value: 0 }, COLUMNS)(row), true);
  });

  test('an absent column is read from the other image, else the condition is false', () => {
    const f = compileFilter({ column: 'qty', op: '=', value: -7 }, COLUMNS);
    const partial: (CellValue | undefined)[] = [1n];
    assert.equal(f(partial), false);
    assert.equal(f(partial, baseRow), true);
  });

  test('a filter on an unknown column or with a non-number for a number column is an error', () => {
    assert.throws(() => compileFilter({ column: 'nope', op: 'isNull' }, COLUMNS), /nope does not exist/);
    assert.throws(() => compileFilter({ column: 'qty', op: '=', value: 'abc' }, COLUMNS), /not a number/);
  });

  test('LIKE metacharacters of RegExp are literal', () => {
    assert.equal(likeToRegExp('a.b(c)%').test('a.b(c)zzz'), true);
    assert.equal(likeToRegExp('a.b').test('axb'), false);
  });
});

describe('columns', () => {
  test('include with renames keeps table order and drops the rest', () => {
    const p = compileProjection(COLUMNS, { include: ['name', { from: 'id', to: 'order_id' }] });
    assert.deepEqual(p.names, ['order_id', 'name']);
    assert.deepEqual(
      [...projectRow(p, baseRow)],
      [
        ['order_id', 18446744073709551615n],
        ['name', 'Café'],
      ],
    );
    assert.equal(p.identity, false);
  });

  test('a row with every column present reads, iterates and writes like the Map built column by column', () => {
    const p = compileProjection(COLUMNS, { include: ['name', { from: 'id', to: 'order_id' }, 'blob'] });
    const row = projectRow(p, baseRow);
    const other = projectRow(p, baseRow);
    const expected = new Map<string, CellValue>([
      ['order_id', 18446744073709551615n],
      ['name', 'Café'],
      ['blob', baseRow[7] as CellValue],
    ]);
    assert.equal(row.size, 3);
    assert.deepEqual([...row], [...expected]);
    assert.deepEqual([...row.entries()], [...expected.entries()]);
    assert.deepEqual([...row.keys()], [...expected.keys()]);
    assert.deepEqual([...row.values()], [...expected.values()]);
    assert.deepEqual(new Map(row), expected);
    assert.equal(row.get('order_id'), 18446744073709551615n);
    assert.equal(row.get('id'), undefined, 'a renamed column answers only to its target name');
    assert.equal(row.has('name'), true);
    assert.equal(row.has('qty'), false);
    const seen: string[] = [];
    row.forEach((v, k, m) => {
      assert.equal(m, row);
      seen.push(`${k}=${typeof v}`);
    });
    assert.deepEqual(seen, ['order_id=bigint', 'name=string', 'blob=object']);
    assert.equal(Object.prototype.toString.call(row), '[object Map]');
    // Writes change this row only, never the other rows of the same projection.
    row.set('name', 'changed').set('extra', 1);
    assert.equal(row.delete('blob'), true);
    assert.deepEqual(
      [...row],
      [
        ['order_id', 18446744073709551615n],
        ['name', 'changed'],
        ['extra', 1],
      ],
    );
    assert.equal(row.size, 3);
    assert.deepEqual(new Map(other), expected);
    other.clear();
    assert.equal(other.size, 0);
    assert.deepEqual(new Map(projectRow(p, baseRow)), expected);
  });

  test('exclude; absent values stay absent (never NULL)', () => {
    const p = compileProjection(COLUMNS, { exclude: ['blob', 'ratio', 'dur', 'created', 'flag'] });
    const row = projectRow(p, [1n, undefined, null, 'x']);
    assert.deepEqual(
      [...row],
      [
        ['id', 1n],
        ['price', null],
        ['name', 'x'],
      ],
    );
  });

  test('an included column missing from the table is an error', () => {
    assert.throws(() => compileProjection(COLUMNS, { include: ['id', 'gone'] }), /gone not found/);
  });

  test('changed columns widen to groups, compare exactly and ignore absent after values', () => {
    const p = compileProjection(COLUMNS, { groups: [['price', 'name']] });
    const after = [...baseRow];
    after[2] = '13.00';
    assert.deepEqual(changedColumns(p, baseRow, after), ['price', 'name']);
    const sameValue = [...baseRow];
    sameValue[0] = 18446744073709551615n;
    sameValue[7] = Buffer.from([0, 255]);
    assert.deepEqual(changedColumns(p, baseRow, sameValue), []);
    const partial: (CellValue | undefined)[] = [undefined, 5];
    assert.deepEqual(changedColumns(p, baseRow, partial), ['qty']);
  });
});

function config(mappings: PipelineConfigInput['mappings'], options: PipelineConfigInput['options'] = {}) {
  return parsePipelineConfig({ name: 'p', source: 'a', target: 'b', mappings, options });
}

const ins = (t: TableSchema, after: CellValue[]): RowChange => ({ kind: 'insert', table: t, after });
const upd = (t: TableSchema, before: CellValue[], after: CellValue[]): RowChange => ({
  kind: 'update',
  table: t,
  before,
  after,
});

function targets(changes: MappedChange[]): string[] {
  return changes.map((c) => `${c.kind} ${c.target.schema}.${c.target.table}`);
}

describe('mapper', () => {
  test('shards map index to index, many to one, and unmatched tables produce nothing', () => {
    const m = compileMapper(
      config([
        { source: { schema: 'shop', table: 'orders_[00-03]' }, target: { schema: 'dw', table: 'orders' } },
        { source: { schema: 'shop', table: 'orders_[00-03]' }, target: { table: 'o_[10-13]' } },
      ]),
    );
    assert.deepEqual(targets(m.map(ins(table('shop', 'orders_02'), baseRow))), [
      'insert dw.orders',
      'insert shop.o_12',
    ]);
    assert.deepEqual(m.map(ins(table('shop', 'orders_2'), baseRow)), []);
    assert.deepEqual(m.map(ins(table('other', 'orders_02'), baseRow)), []);
    assert.equal(m.isMapped('shop', 'orders_03'), true);
    assert.equal(m.isMapped('shop', 'orders_04'), false);
  });

  test('the same target gets the same TableRef object (the merger keys tables by identity first)', () => {
    const m = compileMapper(
      config([{ source: { schema: 's', table: 't_[0-9]' }, target: { table: 'all' } }]),
    );
    const [a] = m.map(ins(table('s', 't_1'), baseRow));
    const [b] = m.map(ins(table('s', 't_2'), baseRow));
    assert.ok(a && b && a.target === b.target);
  });

  test('an update moving a row into or out of the filter becomes an insert or a delete', () => {
    const m = compileMapper(
      config([{ source: { schema: 's', table: 't' }, filter: { column: 'qty', op: '>', value: 0 } }]),
    );
    const t = table('s', 't');
    const neg = [...baseRow];
    const pos = [...baseRow];
    pos[1] = 5;
    assert.deepEqual(targets(m.map(upd(t, neg, pos))), ['insert s.t']);
    assert.deepEqual(targets(m.map(upd(t, pos, neg))), ['delete s.t']);
    assert.deepEqual(targets(m.map(upd(t, pos, pos))), ['update s.t']);
    assert.deepEqual(m.map(upd(t, neg, neg)), []);
    assert.deepEqual(m.map({ kind: 'delete', table: t, before: neg }), []);
  });

  test('FIELD mode marks changed columns and drops updates of unmapped columns only', () => {
    const m = compileMapper(
      config([{ source: { schema: 's', table: 't' }, columns: { exclude: ['ratio'] } }], {
        syncMode: 'FIELD',
      }),
    );
    const t = table('s', 't');
    const after = [...baseRow];
    after[8] = 0.25;
    assert.deepEqual(m.map(upd(t, baseRow, after)), []);
    after[3] = 'Cafe';
    const [c] = m.map(upd(t, baseRow, after));
    assert.equal(c?.kind, 'update');
    assert.deepEqual(c?.kind === 'update' ? c.changedColumns : undefined, ['name']);
  });

  test('ROW mode leaves changedColumns unset', () => {
    const m = compileMapper(config([{ source: { schema: 's', table: 't' } }]));
    const after = [...baseRow];
    after[1] = 1;
    const [c] = m.map(upd(table('s', 't'), baseRow, after));
    assert.equal(c?.kind === 'update' ? c.changedColumns : 'not an update', undefined);
  });

  test('transforms may rewrite, drop, re-route and fan out', () => {
    const transform: TransformFn = (change, ctx) => {
      if (change.kind !== 'insert') return change;
      const qty = change.after.get('qty');
      if (qty === 0) return null;
      if (qty === 2) return [change, { ...change, target: { schema: 'audit', table: ctx.source.table } }];
      change.after.set('name', String(change.after.get('name')).toUpperCase());
      return change;
    };
    const m = compileMapper(
      config([{ source: { schema: 's', table: 't' }, transform: './x.ts' }]),
      new Map([['./x.ts', transform]]),
    );
    const t = table('s', 't');
    const row = (qty: number) => {
      const r = [...baseRow];
      r[1] = qty;
      return r;
    };
    const seenRows: unknown[] = [];
    const m2 = compileMapper(
      config([{ source: { schema: 's', table: 't' }, transform: './y.ts' }]),
      new Map([
        [
          './y.ts',
          ((change) => {
            if (change.kind === 'update') seenRows.push(change.before, change.after);
            return change;
          }) as TransformFn,
        ],
      ]),
    );
    m2.map({ kind: 'update', table: t, before: row(1), after: row(3) });
    assert.equal(seenRows.length, 2);
    assert.ok(
      seenRows.every((r) => r instanceof Map),
      'a transform gets real Map rows (the contract in transform.ts)',
    );
    assert.deepEqual(m.map(ins(t, row(0))), []);
    assert.deepEqual(targets(m.map(ins(t, row(2)))), ['insert s.t', 'insert audit.t']);
    const [c] = m.map(ins(t, row(1)));
    assert.equal(c?.kind === 'insert' ? c.after.get('name') : undefined, 'CAFÉ');
  });

  test('a transform named but not loaded is an error at compile time', () => {
    assert.throws(
      () => compileMapper(config([{ source: { schema: 's', table: 't' }, transform: './x.ts' }])),
      /not loaded/,
    );
  });

  test('a table lacking an included column fails with the table name', () => {
    const m = compileMapper(
      config([{ source: { schema: 's', table: '/.*/' }, columns: { include: ['qty'] } }]),
    );
    assert.throws(() => m.map(ins(table('s', 'other', [col('id', ColumnType.LONG)]), [1])), /s\.other.*qty/);
  });

  test('a new TableSchema object with the same definition reuses the compilation; a changed one recompiles', () => {
    const m = compileMapper(
      config([{ source: { schema: 's', table: 't' }, columns: { exclude: ['ratio'] } }]),
    );
    const [a] = m.map(ins(table('s', 't'), baseRow));
    assert.equal(a?.kind === 'insert' ? a.after.has('ratio') : true, false);
    const altered = [...COLUMNS.slice(0, 8), col('ratio2', ColumnType.DOUBLE)];
    const [b] = m.map(ins(table('s', 't', altered), baseRow));
    assert.equal(b?.kind === 'insert' ? b.after.get('ratio2') : undefined, 0.5);
  });
});
