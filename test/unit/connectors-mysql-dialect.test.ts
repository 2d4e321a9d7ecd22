import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { CellValue } from '../../src/binlog/types';
import type { DeleteOp, UpsertOp } from '../../src/connectors/dialect';
import { atLeast } from '../../src/connectors/mysql/applier';
import {
  fixedChunkRows,
  MYSQL_APPLY_SQL_MODE,
  MysqlDialect,
  type MysqlTableInfo,
  quoteMysqlIdentifier,
} from '../../src/connectors/mysql/dialect';
import { chooseTableInfo, type IndexColumnRow } from '../../src/connectors/mysql/table-info';
import type { TableRef } from '../../src/pipeline/model';

const ref: TableRef = { schema: 'shop', table: 'orders' };
const keyed: MysqlTableInfo = { ref, columns: ['id', 'name', 'qty'], keyColumns: ['id'], keyKind: 'primary' };
const composite: MysqlTableInfo = {
  ref,
  columns: ['tenant', 'id', 'name'],
  keyColumns: ['tenant', 'id'],
  keyKind: 'primary',
};
const fullRow: MysqlTableInfo = { ref, columns: ['a', 'b'], keyColumns: ['a', 'b'], keyKind: 'fullRow' };

function upsert(key: CellValue[], row: Record<string, CellValue>, extra: Partial<UpsertOp> = {}): UpsertOp {
  return {
    kind: 'upsert',
    target: ref,
    key,
    row: new Map(Object.entries(row)),
    expectExisting: false,
    ...extra,
  };
}
function del(key: CellValue[]): DeleteOp {
  return { kind: 'delete', target: ref, key, before: new Map() };
}
function countPlaceholders(sql: string): number {
  return (sql.match(/\?/g) ?? []).length;
}

test('identifiers are quoted with backticks and inner backticks are doubled', () => {
  assert.equal(quoteMysqlIdentifier('plain'), '`plain`');
  assert.equal(quoteMysqlIdentifier('we`ird'), '`we``ird`');
  assert.equal(quoteMysqlIdentifier('a"b\'c?'), '`a"b\'c?`');
  assert.throws(() => quoteMysqlIdentifier(''), /empty identifier/);
  const d = new MysqlDialect();
  assert.equal(d.quoteTable({ schema: 's`1', table: 't.x' }), '`s``1`.`t.x`');
});

test('session setup keeps zero dates, stores UTC and turns foreign key checks off by default', () => {
  const d = new MysqlDialect();
  const sqls = d.sessionSetup().map((s) => s.sql);
  assert.deepEqual(sqls, [
    "SET time_zone = '+00:00'",
    `SET sql_mode = '${MYSQL_APPLY_SQL_MODE}'`,
    'SET foreign_key_checks = 0',
  ]);
  assert.doesNotMatch(MYSQL_APPLY_SQL_MODE, /NO_ZERO|NO_BACKSLASH|ANSI_QUOTES/);
  assert.match(MYSQL_APPLY_SQL_MODE, /NO_AUTO_VALUE_ON_ZERO/);
  assert.equal(d.sessionSetup({ foreignKeyChecks: true })[2]?.sql, 'SET foreign_key_checks = 1');
});

test('ROW mode upsert: one multi-row INSERT … ON DUPLICATE KEY UPDATE of the non-key columns, values as params', () => {
  const d = new MysqlDialect();
  const chunks = d.upsertStatements(keyed, [
    upsert([1n], { id: 1n, name: "O'Brien", qty: 3 }),
    upsert([2n], { qty: 4, name: null, id: 2n }),
  ]);
  assert.equal(chunks.length, 1);
  assert.equal(chunks[0]?.kind, 'upsert');
  assert.equal(
    chunks[0]?.statement.sql,
    'INSERT INTO `shop`.`orders` (`id`,`name`,`qty`) VALUES (?,?,?),(?,?,?) ' +
      'ON DUPLICATE KEY UPDATE `name`=VALUES(`name`),`qty`=VALUES(`qty`)',
  );
  assert.deepEqual(chunks[0]?.statement.params, [1n, "O'Brien", 3, 2n, null, 4]);
});

test('generated columns of the target are left out of INSERT and UPDATE, whatever the source row carries', () => {
  const d = new MysqlDialect();
  const info: MysqlTableInfo = {
    ...keyed,
    columns: ['id', 'name', 'doubled', 'qty'],
    generatedColumns: ['doubled'],
  };
  const chunks = d.upsertStatements(info, [upsert([1n], { id: 1n, name: 'a', doubled: 2n, qty: 3 })]);
  assert.equal(
    chunks[0]?.statement.sql,
    'INSERT INTO `shop`.`orders` (`id`,`name`,`qty`) VALUES (?,?,?) ' +
      'ON DUPLICATE KEY UPDATE `name`=VALUES(`name`),`qty`=VALUES(`qty`)',
  );
  assert.deepEqual(chunks[0]?.statement.params, [1n, 'a', 3]);
  const picked = chooseTableInfo(
    ref,
    [
      { name: 'id', nullable: false, dataType: 'int' },
      { name: 'g', nullable: true, dataType: 'int', generated: true },
    ],
    [],
  );
  assert.deepEqual(picked.generatedColumns, ['g']);
});

test('MySQL 8.0.20+ alias syntax behind the upsertSyntax flag', () => {
  const d = new MysqlDialect({ upsertSyntax: 'alias' });
  const [c] = d.upsertStatements(keyed, [upsert([1n], { id: 1n, name: 'x', qty: 1 })]);
  assert.equal(
    c?.statement.sql,
    'INSERT INTO `shop`.`orders` (`id`,`name`,`qty`) VALUES (?,?,?) AS `otterflow_new` ' +
      'ON DUPLICATE KEY UPDATE `name`=`otterflow_new`.`name`,`qty`=`otterflow_new`.`qty`',
  );
  const [c2] = d.upsertStatements({ ...keyed, ref: { schema: 's', table: 'otterflow_new' } }, [
    upsert([1n], { id: 1n, name: 'x' }),
  ]);
  assert.match(c2?.statement.sql ?? '', / AS `otterflow_new_row` /);
});

test('FIELD mode updates only the changed columns but inserts the whole row; shapes are grouped', () => {
  const d = new MysqlDialect();
  const chunks = d.upsertStatements(keyed, [
    upsert([1n], { id: 1n, name: 'a', qty: 1 }, { expectExisting: true, changedColumns: ['qty'] }),
    upsert([2n], { id: 2n, name: 'b', qty: 2 }, { expectExisting: true, changedColumns: ['name'] }),
    upsert([3n], { id: 3n, name: 'c', qty: 3 }, { expectExisting: true, changedColumns: ['qty'] }),
    upsert([4n], { id: 4n, name: 'd', qty: 4 }, { expectExisting: true, changedColumns: [] }),
  ]);
  assert.deepEqual(
    chunks.map((c) => [
      c.statement.sql.replace(/.*ON DUPLICATE KEY UPDATE /, ''),
      c.ops.map((o) => o.key[0]),
    ]),
    [
      ['`qty`=VALUES(`qty`)', [1n, 3n]],
      ['`name`=VALUES(`name`)', [2n]],
      // An UPDATE that changed nothing still yields a valid statement: the key assigned to itself.
      ['`id`=VALUES(`id`)', [4n]],
    ],
  );
  for (const c of chunks)
    assert.match(c.statement.sql, /^INSERT INTO `shop`.`orders` \(`id`,`name`,`qty`\) VALUES/);
});

test('rows with different column sets go to different statements (never a NULL for an absent column)', () => {
  const d = new MysqlDialect();
  const chunks = d.upsertStatements(keyed, [
    upsert([1n], { id: 1n, name: 'a' }),
    upsert([2n], { id: 2n, qty: 5 }),
  ]);
  assert.deepEqual(
    chunks.map((c) => c.statement.params),
    [
      [1n, 'a'],
      [2n, 5],
    ],
  );
});

test('single-column key delete uses IN (…); composite keys use row constructors', () => {
  const d = new MysqlDialect();
  const [c] = d.deleteStatements(keyed, [del([1n]), del([2n]), del([3n])]);
  assert.equal(c?.statement.sql, 'DELETE FROM `shop`.`orders` WHERE `id` IN (?,?,?)');
  assert.deepEqual(c?.statement.params, [1n, 2n, 3n]);
  const [cc] = d.deleteStatements(composite, [del(['t1', 1]), del(['t2', 2])]);
  assert.equal(cc?.statement.sql, 'DELETE FROM `shop`.`orders` WHERE (`tenant`,`id`) IN ((?,?),(?,?))');
  assert.deepEqual(cc?.statement.params, ['t1', 1, 't2', 2]);
  const [u] = d.upsertStatements(composite, [upsert(['t1', 1], { tenant: 't1', id: 1, name: 'n' })]);
  assert.equal(u?.statement.sql.endsWith('ON DUPLICATE KEY UPDATE `name`=VALUES(`name`)'), true);
});

test('chunking keeps every statement at or below 65,535 placeholders', () => {
  const d = new MysqlDialect({ maxRowsPerStatement: 1_000_000, maxStatementBytes: 1 << 30 });
  const cols = Array.from({ length: 7 }, (_, i) => `c${i}`);
  const info: MysqlTableInfo = { ref, columns: cols, keyColumns: ['c0'], keyKind: 'primary' };
  const ops = Array.from({ length: 20_000 }, (_, i) =>
    upsert([i], Object.fromEntries(cols.map((c, j) => [c, j === 0 ? i : 'v']))),
  );
  const chunks = d.upsertStatements(info, ops);
  const perRow = Math.floor(65_535 / 7); // 9362 rows
  assert.deepEqual(
    chunks.map((c) => c.ops.length),
    [perRow, perRow, 20_000 - 2 * perRow],
  );
  for (const c of chunks) {
    assert.ok(countPlaceholders(c.statement.sql) <= 65_535);
    assert.equal(countPlaceholders(c.statement.sql), c.statement.params.length);
  }
  assert.deepEqual(
    chunks.flatMap((c) => c.ops),
    ops,
  );
  // Deletes with a 2-column key: 32,767 rows per statement.
  const dels = d.deleteStatements(
    composite,
    Array.from({ length: 40_000 }, (_, i) => del(['t', i])),
  );
  assert.deepEqual(
    dels.map((c) => c.ops.length),
    [32_767, 40_000 - 32_767],
  );
});

test('chunking keeps statements below the byte budget; an oversized row still gets its own statement', () => {
  const d = new MysqlDialect({ maxStatementBytes: 64 * 1024 });
  const big = Buffer.alloc(20 * 1024, 0xab); // ~40 KiB as hex
  const ops = [1, 2, 3].map((i) => upsert([i], { id: i, name: big }));
  assert.deepEqual(
    d.upsertStatements(keyed, ops).map((c) => c.ops.length),
    [1, 1, 1],
  );
  const huge = upsert([9], { id: 9, name: Buffer.alloc(100 * 1024) });
  assert.deepEqual(
    d.upsertStatements(keyed, [huge, ...ops]).map((c) => c.ops.length),
    [1, 1, 1, 1],
  );
  const small = Array.from({ length: 3000 }, (_, i) => upsert([i], { id: i, name: 'x' }));
  assert.deepEqual(
    d.upsertStatements(keyed, small).map((c) => c.ops.length),
    [1000, 1000, 1000],
  );
});

test('full-row tables: NULL-safe match, one row per DELETE … LIMIT 1, UPDATE = delete before image then insert', () => {
  const d = new MysqlDialect();
  const dels = d.deleteStatements(fullRow, [del([1, null]), del([1, null])]);
  assert.equal(dels.length, 2);
  assert.equal(dels[0]?.statement.sql, 'DELETE FROM `shop`.`orders` WHERE `a` <=> ? AND `b` <=> ? LIMIT 1');
  assert.deepEqual(dels[0]?.statement.params, [1, null]);
  const ups = d.upsertStatements(fullRow, [
    upsert([1, 'old'], { a: 1, b: 'new' }, { expectExisting: true }),
    upsert([2, 'x'], { a: 2, b: 'x' }),
    upsert([2, 'x'], { a: 2, b: 'x' }),
  ]);
  assert.deepEqual(
    ups.map((c) => [c.kind, c.statement.sql, c.statement.params]),
    [
      ['deleteBeforeImage', 'DELETE FROM `shop`.`orders` WHERE `a` <=> ? AND `b` <=> ? LIMIT 1', [1, 'old']],
      [
        'insert',
        'INSERT INTO `shop`.`orders` (`a`,`b`) VALUES (?,?),(?,?),(?,?)',
        [1, 'new', 2, 'x', 2, 'x'],
      ],
    ],
  );
  assert.throws(() => d.deleteStatements(fullRow, [del([1])]), /has 1 values for 2 columns/);
});

test('full-row JSON columns compare through CAST(? AS JSON) on MySQL only', () => {
  const info: MysqlTableInfo = { ...fullRow, columnTypes: { a: 'int', b: 'json' } };
  const [m] = new MysqlDialect({ flavor: 'mysql' }).deleteStatements(info, [del([1, '{}'])]);
  assert.match(m?.statement.sql ?? '', /`b` <=> CAST\(\? AS JSON\)/);
  const [md] = new MysqlDialect({ flavor: 'mariadb' }).deleteStatements(info, [del([1, '{}'])]);
  assert.match(md?.statement.sql ?? '', /`b` <=> \? LIMIT 1/);
});

test('existence count for missing-row detection', () => {
  const d = new MysqlDialect();
  assert.deepEqual(d.countExistingStatement(composite, [['a', 1]]), {
    sql: 'SELECT COUNT(*) AS n FROM `shop`.`orders` WHERE (`tenant`,`id`) IN ((?,?))',
    params: ['a', 1],
  });
});

test('table info: primary key, else first NOT NULL unique key, else full row', () => {
  const cols = [
    { name: 'a', nullable: false, dataType: 'INT' },
    { name: 'b', nullable: true, dataType: 'varchar' },
    { name: 'c', nullable: false, dataType: 'int' },
  ];
  const ix = (keyName: string, columnName: string, seq = 1, nonUnique = false): IndexColumnRow => ({
    keyName,
    nonUnique,
    seqInIndex: seq,
    columnName,
    nullable: cols.find((c) => c.name === columnName)?.nullable ?? false,
  });
  const pk = chooseTableInfo(ref, cols, [ix('PRIMARY', 'c', 2), ix('PRIMARY', 'a', 1), ix('u_b', 'b')]);
  assert.deepEqual([pk.keyKind, pk.keyColumns, pk.columns], ['primary', ['a', 'c'], ['a', 'b', 'c']]);
  assert.equal(pk.columnTypes?.a, 'int');
  const uk = chooseTableInfo(ref, cols, [
    ix('u_b', 'b'),
    ix('idx', 'a', 1, true),
    ix('u_ca', 'c'),
    ix('u_ca', 'a', 2),
  ]);
  assert.deepEqual([uk.keyKind, uk.keyColumns], ['unique', ['c', 'a']]);
  const none = chooseTableInfo(ref, cols, [ix('u_b', 'b'), ix('idx', 'a', 1, true)]);
  assert.deepEqual([none.keyKind, none.keyColumns], ['fullRow', ['a', 'b', 'c']]);
  // Other unique keys (nullable ones included) make upserts guarded.
  assert.equal(pk.otherUniqueKeys, true);
  assert.equal(uk.otherUniqueKeys, true);
  assert.equal(
    chooseTableInfo(ref, cols, [ix('PRIMARY', 'a'), ix('idx', 'b', 1, true)]).otherUniqueKeys,
    false,
  );
});

test('version comparison for the alias syntax switch', () => {
  assert.equal(atLeast('8.0.20', 8, 0, 20), true);
  assert.equal(atLeast('8.0.19-log', 8, 0, 20), false);
  assert.equal(atLeast('8.4.0', 8, 0, 20), true);
  assert.equal(atLeast('5.7.44', 8, 0, 20), false);
  assert.equal(atLeast('garbage', 8, 0, 20), false);
});

test('tables with another unique key get a guard so a secondary-key collision errors instead of overwriting', () => {
  const guarded: MysqlTableInfo = { ...keyed, otherUniqueKeys: true };
  const [c] = new MysqlDialect().upsertStatements(guarded, [upsert([1n], { id: 1n, name: 'x', qty: 1 })]);
  assert.equal(
    c?.statement.sql,
    'INSERT INTO `shop`.`orders` (`id`,`name`,`qty`) VALUES (?,?,?) ' +
      'ON DUPLICATE KEY UPDATE `id`=IF(`id`<=>VALUES(`id`),`id`,NULL),`name`=VALUES(`name`),`qty`=VALUES(`qty`)',
  );
  const composite: MysqlTableInfo = { ...guarded, keyColumns: ['id', 'name'] };
  const [a] = new MysqlDialect({ upsertSyntax: 'alias' }).upsertStatements(composite, [
    upsert([1n, 'x'], { id: 1n, name: 'x', qty: 1 }),
  ]);
  assert.match(
    a?.statement.sql ?? '',
    /ON DUPLICATE KEY UPDATE `id`=IF\(`id`<=>`otterflow_new`\.`id` AND `name`<=>`otterflow_new`\.`name`,`id`,NULL\),`qty`=`otterflow_new`\.`qty`$/,
  );
});

test('fixed chunk sizes: full chunks, then powers of two down to the minimum, then one text remainder', () => {
  assert.deepEqual(fixedChunkRows(1000, 1000), [1000]);
  assert.deepEqual(fixedChunkRows(999, 1000), [512, 256, 128, 64, 32, 7]);
  assert.deepEqual(fixedChunkRows(16, 1000), [16]);
  assert.deepEqual(fixedChunkRows(15, 1000), [15]);
  assert.deepEqual(fixedChunkRows(7, 1000, 1), [4, 2, 1]);
  const d = new MysqlDialect({ fixedChunkSizes: true, maxRowsPerStatement: 100 });
  const ups = Array.from({ length: 250 }, (_, i) => upsert([i], { id: i, name: `n${i}`, qty: i }));
  const chunks = d.upsertStatements(keyed, ups);
  assert.deepEqual(
    chunks.map((c) => [c.ops.length, c.prepare === true]),
    [
      [100, true],
      [100, true],
      [32, true],
      [16, true],
      [2, false],
    ],
  );
  // Every row exactly once, in order, and each statement's placeholders match its params.
  assert.deepEqual(
    chunks.flatMap((c) => c.ops.map((op) => op.key[0])),
    ups.map((op) => op.key[0]),
  );
  for (const c of chunks) assert.equal(countPlaceholders(c.statement.sql), c.statement.params.length);
  // Deletes are cut the same way; without the option nothing is marked.
  const dels = d.deleteStatements(
    keyed,
    Array.from({ length: 40 }, (_, i) => del([i])),
  );
  assert.deepEqual(
    dels.map((c) => [c.ops.length, c.prepare === true]),
    [
      [32, true],
      [8, false],
    ],
  );
  assert.ok(new MysqlDialect().upsertStatements(keyed, ups).every((c) => c.prepare === undefined));
});
