import assert from 'node:assert/strict';
import { test } from 'node:test';
import oracledb from 'oracledb';
import type { CellValue } from '../../src/binlog/types';
import type { DeleteOp, UpsertOp } from '../../src/connectors/dialect';
import { OracleApplier, type OracleConnectionLike } from '../../src/connectors/oracle/applier';
import {
  OracleDialect,
  type OracleTableInfo,
  oracleName,
  pipelineName,
  quoteOracleIdentifier,
} from '../../src/connectors/oracle/dialect';
import { chooseOracleTableInfo, oracleColumnType } from '../../src/connectors/oracle/table-info';
import { OracleValueError, timeToInterval } from '../../src/connectors/oracle/values';
import type { TableRef } from '../../src/pipeline/model';

const ref: TableRef = { schema: 'shop', table: 'orders' };
const info: OracleTableInfo = {
  ref,
  columns: ['id', 'name', 'amount', 'created', 'ts', 'dur', 'raw', 'doc'],
  keyColumns: ['id'],
  keyKind: 'primary',
  columnTypes: {
    id: 'NUMBER',
    name: 'VARCHAR2',
    amount: 'NUMBER',
    created: 'DATE',
    ts: 'TIMESTAMP(6)',
    dur: 'INTERVAL DAY(2) TO SECOND(6)',
    raw: 'RAW',
    doc: 'BLOB',
  },
};
function up(key: CellValue[], row: Record<string, CellValue>, extra: Partial<UpsertOp> = {}): UpsertOp {
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

test('Oracle names: simple names upper-cased and quoted, others exact; quotes are rejected', () => {
  assert.equal(oracleName('customer_id'), 'CUSTOMER_ID');
  assert.equal(oracleName('Mixed Case'), 'Mixed Case');
  assert.equal(oracleName('customer_id', 'exact'), 'customer_id');
  assert.equal(pipelineName('CUSTOMER_ID'), 'customer_id');
  assert.equal(pipelineName('MixedCase'), 'MixedCase');
  const d = new OracleDialect();
  assert.equal(d.quoteTable(ref), '"SHOP"."ORDERS"');
  assert.equal(d.quoteIdentifier('we`ird'), '"we`ird"');
  assert.throws(() => quoteOracleIdentifier('a"b'), /cannot contain/);
  assert.throws(() => quoteOracleIdentifier('x'.repeat(129)), /128 bytes/);
});

test('MERGE for new rows: USING (SELECT … FROM dual) with typed conversions, binds per row', () => {
  const d = new OracleDialect();
  const chunks = d.upsertStatements(info, [
    up([18446744073709551615n], {
      id: 18446744073709551615n,
      name: 'Zoë 😀',
      amount: '-12345.678900',
      created: '2024-02-29',
      ts: '2038-01-19 03:14:07.5',
      dur: '-838:59:59.000000',
      raw: Buffer.from([0, 255]),
      doc: Buffer.from('blob'),
    }),
  ]);
  assert.equal(chunks.length, 1);
  const c = chunks[0]!;
  assert.equal(c.kind, 'merge');
  assert.equal(
    c.statement.sql,
    'MERGE INTO "SHOP"."ORDERS" t USING (SELECT TO_NUMBER(:1) "ID", :2 "NAME", TO_NUMBER(:3) "AMOUNT", ' +
      `TO_DATE(:4, 'YYYY-MM-DD HH24:MI:SS') "CREATED", TO_TIMESTAMP(:5, 'YYYY-MM-DD HH24:MI:SS.FF6') "TS", ` +
      'TO_DSINTERVAL(:6) "DUR", :7 "RAW", :8 "DOC" FROM dual) s ON (t."ID" = s."ID") ' +
      'WHEN MATCHED THEN UPDATE SET t."NAME" = s."NAME", t."AMOUNT" = s."AMOUNT", t."CREATED" = s."CREATED", ' +
      't."TS" = s."TS", t."DUR" = s."DUR", t."RAW" = s."RAW", t."DOC" = s."DOC" ' +
      'WHEN NOT MATCHED THEN INSERT ("ID", "NAME", "AMOUNT", "CREATED", "TS", "DUR", "RAW", "DOC") ' +
      'VALUES (s."ID", s."NAME", s."AMOUNT", s."CREATED", s."TS", s."DUR", s."RAW", s."DOC")',
  );
  assert.deepEqual(c.statement.binds, [
    [
      '18446744073709551615',
      'Zoë 😀',
      '-12345.678900',
      '2024-02-29 00:00:00',
      '2038-01-19 03:14:07.500000',
      '-34 22:59:59.000000',
      Buffer.from([0, 255]),
      Buffer.from('blob'),
    ],
  ]);
  assert.deepEqual(
    c.statement.bindDefs.map((b) => [b.type, b.maxSize]),
    [
      [oracledb.DB_TYPE_VARCHAR, 20],
      [oracledb.DB_TYPE_VARCHAR, Buffer.byteLength('Zoë 😀')],
      [oracledb.DB_TYPE_VARCHAR, 13],
      [oracledb.DB_TYPE_VARCHAR, 19],
      [oracledb.DB_TYPE_VARCHAR, 26],
      [oracledb.DB_TYPE_VARCHAR, 19],
      [oracledb.DB_TYPE_RAW, 2],
      [oracledb.DB_TYPE_BLOB, undefined],
    ],
  );
});

test('UPDATEs that must find their row become UPDATE … WHERE key (FIELD mode: changed columns only)', () => {
  const d = new OracleDialect();
  const [c] = d.upsertStatements(info, [
    up([7], { id: 7, name: 'n', amount: '1.5' }, { expectExisting: true, changedColumns: ['amount'] }),
  ]);
  assert.equal(c?.kind, 'update');
  assert.equal(
    c?.statement.sql,
    'UPDATE "SHOP"."ORDERS" SET "AMOUNT" = TO_NUMBER(:1) WHERE "ID" = TO_NUMBER(:2)',
  );
  assert.deepEqual(c?.statement.binds, [['1.5', '7']]);
});

test('deletes: one bind row per key; composite keys; executeMany batches stay within 65,535 rows', () => {
  const d = new OracleDialect({ maxRowsPerBatch: 65_535 });
  const many = Array.from({ length: 70_000 }, (_, i) => del([i]));
  const chunks = d.deleteStatements(info, many);
  assert.deepEqual(
    chunks.map((c) => c.statement.binds.length),
    [65_535, 70_000 - 65_535],
  );
  assert.equal(chunks[0]?.statement.sql, 'DELETE FROM "SHOP"."ORDERS" WHERE "ID" = TO_NUMBER(:1)');
  assert.throws(() => new OracleDialect({ maxRowsPerBatch: 70_000 }), /at most 65535/);
  const comp: OracleTableInfo = { ...info, keyColumns: ['id', 'name'] };
  const [cc] = d.deleteStatements(comp, [del([1, 'a'])]);
  assert.equal(cc?.statement.sql, 'DELETE FROM "SHOP"."ORDERS" WHERE "ID" = TO_NUMBER(:1) AND "NAME" = :2');
});

test('full-row tables: NULL-safe DECODE match of one row; LOB columns are refused', () => {
  const d = new OracleDialect();
  const fr: OracleTableInfo = {
    ref,
    columns: ['a', 'b'],
    keyColumns: ['a', 'b'],
    keyKind: 'fullRow',
    columnTypes: { a: 'NUMBER', b: 'VARCHAR2' },
  };
  const [c] = d.deleteStatements(fr, [del([1, null])]);
  assert.equal(
    c?.statement.sql,
    'DELETE FROM "SHOP"."ORDERS" WHERE ROWID IN (SELECT ROWID FROM "SHOP"."ORDERS" WHERE ' +
      'DECODE("A", TO_NUMBER(:1), 1, 0) = 1 AND DECODE("B", :2, 1, 0) = 1 AND ROWNUM = 1)',
  );
  assert.deepEqual(c?.statement.binds, [['1', null]]);
  const ups = d.upsertStatements(fr, [up([1, 'x'], { a: 2, b: 'y' }, { expectExisting: true })]);
  assert.deepEqual(
    ups.map((u) => u.kind),
    ['deleteBeforeImage', 'insert'],
  );
  assert.equal(ups[1]?.statement.sql, 'INSERT INTO "SHOP"."ORDERS" ("A", "B") VALUES (TO_NUMBER(:1), :2)');
  assert.throws(
    () => d.deleteStatements({ ...fr, columnTypes: { a: 'NUMBER', b: 'CLOB' } }, [del([1, 'x'])]),
    /cannot compare LOB column b/,
  );
});

test('zero dates: an error naming the column by default, NULL when configured', () => {
  assert.throws(
    () => new OracleDialect().upsertStatements(info, [up([1], { id: 1, created: '0000-00-00' })]),
    (e: unknown) =>
      e instanceof OracleValueError && /column shop\.orders\.created: zero date 0000-00-00/.test(e.message),
  );
  const [c] = new OracleDialect({ zeroDates: 'null' }).upsertStatements(info, [
    up([1], { id: 1, created: '2020-00-15', ts: '0000-00-00 00:00:00' }),
  ]);
  assert.deepEqual(c?.statement.binds, [['1', null, null]]);
});

test('TIME → day-to-second interval text', () => {
  assert.equal(timeToInterval('838:59:59.999999'), '34 22:59:59.999999');
  assert.equal(timeToInterval('-00:00:01'), '-0 00:00:01');
  assert.equal(timeToInterval('25:00:00'), '1 01:00:00');
  assert.equal(timeToInterval(null), null);
});

test('table info from the catalog: primary, else NOT NULL unique, else full row; names back to pipeline case', () => {
  const cols = [
    { name: 'ID', dataType: 'NUMBER', nullable: false },
    { name: 'CODE', dataType: 'VARCHAR2', nullable: false },
    { name: 'Note', dataType: 'VARCHAR2', nullable: true },
  ];
  const pk = chooseOracleTableInfo(ref, cols, [{ name: 'PK', type: 'P', column: 'ID', position: 1 }]);
  assert.deepEqual([pk.keyKind, pk.keyColumns, pk.columns], ['primary', ['id'], ['id', 'code', 'Note']]);
  assert.equal(pk.columnTypes.code, 'VARCHAR2');
  const uk = chooseOracleTableInfo(ref, cols, [
    { name: 'U1', type: 'U', column: 'Note', position: 1 },
    { name: 'U2', type: 'U', column: 'CODE', position: 1 },
  ]);
  assert.deepEqual([uk.keyKind, uk.keyColumns], ['unique', ['code']]);
  assert.equal(chooseOracleTableInfo(ref, cols, []).keyKind, 'fullRow');
});

test('catalog types keep the precision and scale the value checks need', () => {
  assert.equal(oracleColumnType('NUMBER', 10, 2), 'NUMBER(10,2)');
  assert.equal(oracleColumnType('NUMBER', null, 0), 'NUMBER(38,0)'); // INTEGER, NUMBER(*,0)
  assert.equal(oracleColumnType('NUMBER', null, null), 'NUMBER');
  assert.equal(oracleColumnType('FLOAT', 126, null), 'FLOAT(126)');
  assert.equal(oracleColumnType('TIMESTAMP(3)', null, 3), 'TIMESTAMP(3)');
  assert.equal(oracleColumnType('VARCHAR2', null, null), 'VARCHAR2');
});

/** A scripted connection: records executeMany calls, answers with the row counts the script gives. */
function scriptedConnection(counts: (sql: string, binds: unknown[][]) => number[]) {
  const calls: Array<{ sql: string; binds: unknown[][] }> = [];
  const conn = {
    execute: async (sql: string) => {
      calls.push({ sql, binds: [] });
      return {};
    },
    executeMany: async (sql: string, binds: unknown[][]) => {
      calls.push({ sql, binds });
      return { dmlRowCounts: counts(sql, binds), rowsAffected: 0 };
    },
  } as unknown as OracleConnectionLike;
  return { conn, calls };
}

test('Oracle applier: per-row counts find missing deletes and updates; missing updates are inserted', async () => {
  const small: OracleTableInfo = {
    ref,
    columns: ['id', 'name'],
    keyColumns: ['id'],
    keyKind: 'primary',
    columnTypes: { id: 'NUMBER', name: 'VARCHAR2' },
  };
  const { conn, calls } = scriptedConnection((sql, binds) =>
    // Keys 2 (delete) and 4 (update) are not on the target.
    binds.map((b) =>
      sql.startsWith('DELETE')
        ? b[0] === '2'
          ? 0
          : 1
        : sql.startsWith('UPDATE')
          ? b[1] === '4'
            ? 0
            : 1
          : 1,
    ),
  );
  const applier = new OracleApplier(conn, {
    tableInfo: { get: async () => small, invalidate: () => {} },
  });
  const r = await applier.apply({
    tables: [
      {
        target: ref,
        deletes: [del([1]), del([2])],
        upserts: [
          up([3], { id: 3, name: 'c' }, { expectExisting: true }),
          up([4], { id: 4, name: 'd' }, { expectExisting: true }),
          up([5], { id: 5, name: 'e' }),
        ],
      },
    ],
  });
  assert.deepEqual(r.stats, { inserted: 2, updated: 1, deleted: 1, missingOnUpdate: 1, missingOnDelete: 1 });
  assert.deepEqual(
    r.missing.map((m) => [m.op, m.key]),
    [
      ['delete', { id: '2' }],
      ['update', { id: '4' }],
    ],
  );
  assert.deepEqual(
    calls.map((c) => [c.sql.split(' ')[0], c.binds]),
    [
      ['SET', []],
      ['DELETE', [['1'], ['2']]],
      [
        'UPDATE',
        [
          ['c', '3'],
          ['d', '4'],
        ],
      ],
      ['MERGE', [['5', 'e']]],
      ['INSERT', [['4', 'd']]],
    ],
  );
});

test("'' stored as NULL is counted once per stored value: not for WHERE keys, not twice for a missing UPDATE", async () => {
  const small: OracleTableInfo = {
    ref,
    columns: ['id', 'name'],
    keyColumns: ['id'],
    keyKind: 'primary',
    columnTypes: { id: 'VARCHAR2', name: 'VARCHAR2' },
  };
  // The UPDATE of key 'b' finds no row (it is inserted instead); the DELETE of key '' finds none.
  const { conn } = scriptedConnection((sql, binds) =>
    binds.map((b) => (sql.startsWith('UPDATE') && b[1] === 'b' ? 0 : sql.startsWith('DELETE') ? 0 : 1)),
  );
  const applier = new OracleApplier(conn, { tableInfo: { get: async () => small, invalidate: () => {} } });
  const r = await applier.apply({
    tables: [
      {
        target: ref,
        deletes: [del([''])],
        upserts: [
          up(['a'], { id: 'a', name: '' }, { expectExisting: true }),
          up(['b'], { id: 'b', name: '' }, { expectExisting: true }),
          up(['c'], { id: 'c', name: '' }),
        ],
      },
    ],
  });
  // a (UPDATE found it), b (INSERT after the UPDATE found nothing), c (MERGE): 3 values stored as NULL.
  assert.equal(r.tally.total, 3);
  assert.deepEqual([...r.tally.emptyAsNull], [['shop.orders.name', 3]]);
  assert.equal(r.stats.missingOnDelete, 1);
});
