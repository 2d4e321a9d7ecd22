import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';
import type { CellValue } from '../../src/binlog/types';
import type { ResolvedDatasource } from '../../src/config/datasources';
import type { UpsertOp } from '../../src/connectors/dialect';
import { openOracle } from '../../src/connectors/oracle/connection';
import { OracleTargetConnector } from '../../src/connectors/oracle/target-session';

/**
 * The canonical form against a real Oracle, when ORACLE_URL is set (see oracle.test.ts): rows written
 * by the applier from MySQL-style values, read back through the session's verifyRows, equal the
 * codec's form of the same source values, type by type; a changed value does not.
 */
const url = process.env.ORACLE_URL;
const SKIPPED = 'ORACLE_URL not set: Oracle integration test skipped (see docs/oracle.md)';

function oracleDatasource(u: string): ResolvedDatasource {
  const p = new URL(u);
  return {
    name: 'ora',
    kind: 'oracle',
    host: p.hostname,
    port: Number(p.port || 1521),
    user: decodeURIComponent(p.username),
    password: decodeURIComponent(p.password),
    serviceName: p.pathname.replace(/^\//, ''),
  };
}

const COLUMNS: Array<[string, string, CellValue, CellValue]> = [
  // name, Oracle type, a MySQL-style source value, a second one
  ['n', 'NUMBER(38,10)', '-1234567890123456789012345678.1234567890', '0.5000'],
  ['big', 'NUMBER(20)', 18446744073709551615n, 0],
  ['bits', 'NUMBER', Buffer.from([0x02, 0xaa]), null],
  ['dbl', 'BINARY_DOUBLE', 0.1, -1e300],
  ['flt', 'BINARY_FLOAT', 0.5, null],
  ['d', 'DATE', '2024-02-29', '1970-01-01 00:00:01'],
  ['ts', 'TIMESTAMP(6)', '2038-01-19 03:14:07.999999', '2000-01-01 00:00:00.500000'],
  ['ts3', 'TIMESTAMP(3)', '2024-02-29 10:11:12.120', null],
  ['tz', 'TIMESTAMP(6) WITH TIME ZONE', '1970-01-01 00:00:01.000000', '2024-06-30 23:59:59.000001'],
  ['ltz', 'TIMESTAMP(6) WITH LOCAL TIME ZONE', '2024-06-30 23:59:59.000001', null],
  ['dur', 'INTERVAL DAY(2) TO SECOND(6)', '-838:59:59.000000', '00:00:00.250000'],
  ['r', 'RAW(300)', Buffer.from(Array.from({ length: 256 }, (_, i) => i)), Buffer.alloc(0)],
  ['b', 'BLOB', Buffer.alloc(70_000, 7), null],
  ['c', 'CLOB', 'ü🦦'.repeat(20_000), ''],
  ['v', 'VARCHAR2(100)', 'Zoë 😀', ''],
  ['nv', 'NVARCHAR2(50)', 'ünïcode', 'x'],
  ['ch', 'CHAR(5)', 'ab', 'abcde'],
];

test('Oracle: rows written by the applier read back in the form the codec gives their source values', async (t) => {
  if (!url) return t.skip(SKIPPED);
  const ds = oracleDatasource(url);
  const admin = await openOracle(ds);
  t.after(() => admin.close().catch(() => {}));
  const name = `OTV_${randomBytes(4).toString('hex').toUpperCase()}`;
  await admin.execute(
    `CREATE TABLE "${name}" (id NUMBER(10) PRIMARY KEY, ${COLUMNS.map(([c, type]) => `${c} ${type}`).join(', ')})`,
  );
  t.after(() => admin.execute(`DROP TABLE "${name}" PURGE`).catch(() => {}));
  const session = await new OracleTargetConnector().open(ds, { pipeline: 'verify-rows' });
  t.after(() => session.close());
  const table = { schema: ds.user.toLowerCase(), table: name.toLowerCase() };
  const names = ['id', ...COLUMNS.map(([c]) => c)];
  const rows: CellValue[][] = [
    [1, ...COLUMNS.map((c) => c[2])],
    [2, ...COLUMNS.map((c) => c[3])],
  ];
  const upserts: UpsertOp[] = rows.map((r) => ({
    kind: 'upsert',
    target: table,
    key: [r[0] as CellValue],
    row: new Map(names.map((n, i) => [n, r[i] as CellValue])),
    expectExisting: false,
  }));
  await session.begin();
  await session.apply({ tables: [{ target: table, deletes: [], upserts }] });
  await session.commit();

  const access = session.verifyRows;
  assert.ok(access);
  const codec = await access.codec(table, names);
  const read = await access.read({ table, keyColumns: ['id'], columns: names, after: [0], upTo: [2] });
  const byId = new Map(read.map((r) => [r[0], r]));
  for (const source of rows) {
    const expected = codec.canonical(source);
    const got = byId.get(String(source[0]));
    assert.ok(got, `row ${source[0]} read back`);
    for (const [i, n] of names.entries())
      assert.equal(got[i], expected[i], `column ${n} of row ${source[0]}`);
  }
  assert.deepEqual(await access.read({ table, keyColumns: ['id'], columns: ['id'], keys: [[2], [3]] }), [
    ['2'],
  ]);
  // A value changed behind the applier's back no longer matches.
  await admin.execute(`UPDATE "${name}" SET n = 1 WHERE id = 1`);
  await admin.commit();
  const [changed] = await access.read({ table, keyColumns: ['id'], columns: ['n'], keys: [[1]] });
  assert.notEqual(changed?.[0], codec.canonical(rows[0] as CellValue[])[1]);
});
