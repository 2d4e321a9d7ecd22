import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { CellValue } from '../../src/binlog/types';
import { OracleApplier } from '../../src/connectors/oracle/applier';
import { OracleRowAccess } from '../../src/connectors/oracle/row-access';
import type { ApplyPlan, MergedOp } from '../../src/pipeline/model';
import { RecordingOracleDatabase } from '../helpers/recording-oracle';
import { RecordingTableRows } from '../helpers/recording-oracle-rows';

const T = { schema: 'shop', table: 'items' };
const Q = '"SHOP"."ITEMS"';

function setup() {
  const db = new RecordingOracleDatabase();
  const rows = new RecordingTableRows();
  db.models.push(rows);
  db.defineTable({
    owner: 'SHOP',
    table: 'ITEMS',
    columns: [
      { name: 'ID', dataType: 'NUMBER', precision: 10, scale: 0, nullable: false },
      { name: 'NAME', dataType: 'VARCHAR2' },
      { name: 'PRICE', dataType: 'NUMBER', precision: 8, scale: 2 },
    ],
    primaryKey: ['ID'],
  });
  rows.define(Q, ['ID'], { ID: 'number', NAME: 'text', PRICE: 'number' });
  return { db, rows };
}

const upsert = (id: number, name: string | null, price: string | null, expectExisting = false): MergedOp => ({
  kind: 'upsert',
  target: T,
  key: [id],
  row: new Map<string, CellValue>([
    ['id', id],
    ['name', name],
    ['price', price],
  ]),
  expectExisting,
});
const del = (id: number): MergedOp => ({ kind: 'delete', target: T, key: [id], before: new Map() });
const plan = (ops: MergedOp[]): ApplyPlan => ({
  tables: [
    {
      target: T,
      deletes: ops.filter((o) => o.kind === 'delete') as never,
      upserts: ops.filter((o) => o.kind === 'upsert') as never,
    },
  ],
});

test("the recording rows model keeps what the Oracle applier's MERGE, UPDATE and DELETE wrote, per connection until COMMIT", async () => {
  const { db, rows } = setup();
  const conn = db.connect();
  const applier = new OracleApplier(conn);
  await applier.apply(plan([upsert(1, 'a', '1.50'), upsert(2, 'b', '2.00'), upsert(3, 'c', null)]));
  assert.deepEqual(rows.rows(Q), [], 'nothing committed yet');
  await conn.commit();
  assert.deepEqual(rows.rows(Q), [
    { ID: '1', NAME: 'a', PRICE: '1.5' },
    { ID: '2', NAME: 'b', PRICE: '2' },
    { ID: '3', NAME: 'c', PRICE: null },
  ]);
  const r = await applier.apply(
    plan([upsert(2, 'B', '3', true), upsert(9, 'gone', '1', true), del(3), del(8)]),
  );
  await conn.rollback();
  assert.equal(rows.rows(Q).length, 3, 'rolled back');
  assert.equal(r.stats.missingOnDelete, 1);
  await applier.apply(plan([upsert(2, 'B', '3', true), del(3)]));
  await conn.commit();
  assert.deepEqual(rows.rows(Q), [
    { ID: '1', NAME: 'a', PRICE: '1.5' },
    { ID: '2', NAME: 'B', PRICE: '3' },
  ]);
  const sqls = new Set(db.calls.filter((c) => c.method === 'executeMany').map((c) => c.sql?.split(' ')[0]));
  assert.deepEqual(
    [...sqls].sort(),
    ['DELETE', 'INSERT', 'MERGE', 'UPDATE'],
    'every write shape was exercised (INSERT: an UPDATE whose row was missing)',
  );
});

test('the recording rows model answers the row reads of a verification: key ranges and key lists', async () => {
  const { db, rows } = setup();
  for (let id = 1; id <= 12; id++) rows.put(Q, { ID: id, NAME: `n${id}`, PRICE: `${id}.25` });
  const applier = new OracleApplier(db.connect());
  const access = new OracleRowAccess(db.connect(), applier.tables, (ref) => applier.quoteTable(ref));
  const ids = async (q: { after?: CellValue[]; upTo?: CellValue[]; keys?: CellValue[][] }) =>
    (await access.read({ table: T, keyColumns: ['id'], columns: ['id', 'name'], ...q }))
      .map((r) => Number(r[0]))
      .sort((a, b) => a - b);
  assert.deepEqual(await ids({ after: [3], upTo: [6] }), [4, 5, 6]);
  assert.deepEqual(await ids({ upTo: [2] }), [1, 2]);
  assert.deepEqual(await ids({ after: [10] }), [11, 12]);
  assert.deepEqual(await ids({ keys: [[5], [11], [40]] }), [5, 11]);
  const [row] = await access.read({ table: T, keyColumns: ['id'], columns: ['name', 'price'], keys: [[7]] });
  assert.deepEqual(row, ['n7', '7.25']);
  rows.remove(Q, [7]);
  assert.deepEqual(await ids({ after: [6], upTo: [8] }), [6 + 2]);
});
