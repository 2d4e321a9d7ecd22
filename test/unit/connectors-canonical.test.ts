import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { CellValue } from '../../src/binlog/types';
import {
  canonicalDateTime,
  canonicalDecimal,
  canonicalJson,
  canonicalTime,
  integerKeyValue,
} from '../../src/connectors/canonical';
import {
  canonicalMysqlValue,
  fromReadBytes,
  mysqlRowCodec,
  mysqlValueClass,
} from '../../src/connectors/mysql/canonical';
import { mysqlRowReadSql } from '../../src/connectors/mysql/row-access';
import {
  canonicalOracleValue,
  intervalSeconds,
  oracleRowCodec,
  oracleValueClass,
} from '../../src/connectors/oracle/canonical';
import { OracleRowAccess, oracleRowReadSql } from '../../src/connectors/oracle/row-access';
import { OracleTargetConnector } from '../../src/connectors/oracle/target-session';
import type { TableRef } from '../../src/pipeline/model';
import { RecordingOracleDatabase } from '../helpers/recording-oracle';

test('decimal text has one form: no sign +, leading or trailing zeros, exponent, or negative zero', () => {
  const cases: Array<[string, string]> = [
    ['1.50', '1.5'],
    ['001.000', '1'],
    ['.5', '0.5'],
    ['-.5', '-0.5'],
    ['+7', '7'],
    ['-0.00', '0'],
    ['0E+10', '0'],
    ['1E+3', '1000'],
    ['1.25e-3', '0.00125'],
    ['1e+21', '1000000000000000000000'],
    ['-12345678901234567890123456789.1234567890', '-12345678901234567890123456789.123456789'],
    ['18446744073709551615', '18446744073709551615'],
  ];
  for (const [text, form] of cases) assert.equal(canonicalDecimal(text), form, text);
  assert.equal(canonicalDecimal('abc'), 'abc', 'not a number: unchanged');
});

test('date-times, times and JSON have one form', () => {
  assert.equal(canonicalDateTime('2024-02-29 10:11:12.120000'), '2024-02-29 10:11:12.12');
  assert.equal(canonicalDateTime('2024-02-29 10:11:12.000000'), '2024-02-29 10:11:12');
  assert.equal(canonicalDateTime('2024-02-29T10:11:12.'), '2024-02-29 10:11:12');
  assert.equal(canonicalDateTime('2024-02-29'), '2024-02-29');
  assert.equal(canonicalDateTime('2024-02-29', true), '2024-02-29 00:00:00');
  assert.equal(canonicalTime('-838:59:59.000000'), '-838:59:59');
  assert.equal(canonicalTime('01:02:03.450'), '01:02:03.45');
  assert.equal(
    canonicalJson('{"b": [1, {"d": 2, "c": null}], "a": "x"}'),
    '{"a":"x","b":[1,{"c":null,"d":2}]}',
  );
  assert.equal(canonicalJson('{"a":1}'), canonicalJson('{ "a" : 1 }'));
  assert.equal(canonicalJson('not json'), 'not json');
  assert.equal(integerKeyValue('42'), 42);
  assert.equal(integerKeyValue('-9223372036854775808'), -9223372036854775808n);
  assert.equal(integerKeyValue('1.5'), '1.5');
});

/**
 * MySQL/MariaDB: [DATA_TYPE, the value as the source reader gives it, the text-protocol bytes the
 * target returns for it, the canonical form].
 */
const MYSQL_CASES: Array<[string, CellValue, string | Buffer, string]> = [
  ['tinyint', -128, '-128', '-128'],
  ['int', 2147483647, '2147483647', '2147483647'],
  ['bigint', 18446744073709551615n, '18446744073709551615', '18446744073709551615'],
  ['year', 2155, '2155', '2155'],
  ['decimal', '-0.0100', '-0.0100', '-0.01'],
  ['decimal', '12345.60', '12345.60', '12345.6'],
  ['float', 1.100000023841858, '1.1', '1.100000023841858'],
  ['float', 1.1, '1.1', '1.100000023841858'],
  ['double', 0.1, '0.1', '0.1'],
  ['double', 1e100, '1e100', `1${'0'.repeat(100)}`],
  ['bit', Buffer.from([0x02, 0xaa]), Buffer.from([0x02, 0xaa]), '682'],
  ['date', '2024-02-29', '2024-02-29', '2024-02-29'],
  ['datetime', '2024-02-29 10:11:12.500000', '2024-02-29 10:11:12.500000', '2024-02-29 10:11:12.5'],
  ['timestamp', '1970-01-01 00:00:01', '1970-01-01 00:00:01', '1970-01-01 00:00:01'],
  ['time', '-838:59:59.000000', '-838:59:59.000000', '-838:59:59'],
  ['varbinary', Buffer.from([0, 1, 0xff]), Buffer.from([0, 1, 0xff]), '0001ff'],
  ['blob', Buffer.from('hi'), Buffer.from('hi'), '6869'],
  ['geometry', Buffer.from([1, 2]), Buffer.from([1, 2]), '0102'],
  ['json', '{"b": 1, "a": [true, null]}', '{"a": [true, null], "b": 1}', '{"a":[true,null],"b":1}'],
  ['char', 'ab  ', 'ab', 'ab'],
  ['varchar', 'ab  ', 'ab  ', 'ab  '],
  ['varchar', '', '', ''],
  ['text', 'héllo ✓', 'héllo ✓', 'héllo ✓'],
  ['enum', 'b', 'b', 'b'],
  ['set', 'a,c', 'a,c', 'a,c'],
];

test('MySQL/MariaDB: a source value and the value read back have the same canonical form, per type', () => {
  for (const [type, source, read, form] of MYSQL_CASES) {
    const c = mysqlValueClass(type);
    const bytes = Buffer.isBuffer(read) ? read : Buffer.from(read, 'utf8');
    assert.equal(canonicalMysqlValue(c, source), form, `${type} source ${String(source)}`);
    assert.equal(canonicalMysqlValue(c, fromReadBytes(c, bytes)), form, `${type} read ${String(read)}`);
  }
  const codec = mysqlRowCodec(['int', 'varchar', 'blob']);
  assert.deepEqual(codec.canonical([1, null, Buffer.from('x')]), ['1', null, '78']);
  assert.notEqual(
    codec.canonical([null, '', null])[1],
    codec.canonical([null, null, null])[1],
    "'' is not NULL",
  );
  assert.equal(codec.keyValue(0, '12'), 12);
  assert.deepEqual(codec.keyValue(2, '78'), Buffer.from('x'));
  assert.equal(codec.keyValue(1, '007'), '007');
});

test('MySQL/MariaDB: a row read selects the named columns by key range or key list', () => {
  const table: TableRef = { schema: 'db', table: 't' };
  const range = mysqlRowReadSql({
    table,
    keyColumns: ['a', 'b'],
    columns: ['a', 'b', 'v'],
    after: [1, 'x'],
    upTo: [5, 'y'],
  });
  assert.equal(
    range.sql,
    'SELECT `a`, `b`, `v` FROM `db`.`t` WHERE (`a` > ? OR (`a` = ? AND `b` > ?)) AND NOT ((`a` > ? OR (`a` = ? AND `b` > ?)))',
  );
  assert.deepEqual(range.params, [1, 1, 'x', 5, 5, 'y']);
  const keys = mysqlRowReadSql({ table, keyColumns: ['id'], columns: ['id'], keys: [[1], [2]] });
  assert.equal(keys.sql, 'SELECT `id` FROM `db`.`t` WHERE `id` IN (?, ?)');
});

/**
 * Oracle: [column type, the MySQL source value, what the read expression returns for the stored
 * value, the canonical form]. The source side goes through the applier's own conversion.
 */
const ORACLE_CASES: Array<[string, CellValue, unknown, string | null]> = [
  ['NUMBER(10,2)', '12.50', '12.5', '12.5'],
  ['NUMBER(10,2)', '-0.0100', '-.01', '-0.01'],
  ['NUMBER(20,0)', 18446744073709551615n, '18446744073709551615', '18446744073709551615'],
  ['NUMBER', Buffer.from([0x02, 0xaa]), '682', '682'], // BIT(10)
  ['NUMBER', 0.5, '.5', '0.5'],
  ['NUMBER', 1e21, '1000000000000000000000', '1000000000000000000000'],
  ['INTEGER', 7, '7', '7'],
  ['FLOAT(126)', 2.25, '2.25', '2.25'],
  ['BINARY_DOUBLE', 0.1, 0.1, '0.1'],
  ['BINARY_FLOAT', 0.5, 0.5, '0.5'],
  ['DATE', '2024-02-29', '2024-02-29 00:00:00', '2024-02-29 00:00:00'],
  ['DATE', '2024-02-29 10:11:12', '2024-02-29 10:11:12', '2024-02-29 10:11:12'],
  ['TIMESTAMP(6)', '2024-02-29 10:11:12.500000', '2024-02-29 10:11:12.500000', '2024-02-29 10:11:12.5'],
  ['TIMESTAMP(3)', '2024-02-29 10:11:12.120', '2024-02-29 10:11:12.120000', '2024-02-29 10:11:12.12'],
  ['TIMESTAMP(6) WITH TIME ZONE', '1970-01-01 00:00:01', '1970-01-01 00:00:01.000000', '1970-01-01 00:00:01'],
  [
    'TIMESTAMP(6) WITH LOCAL TIME ZONE',
    '2038-01-19 03:14:07.999999',
    '2038-01-19 03:14:07.999999',
    '2038-01-19 03:14:07.999999',
  ],
  ['INTERVAL DAY(2) TO SECOND(6)', '-838:59:59.000000', '-3020399', '-3020399'],
  ['INTERVAL DAY(2) TO SECOND(6)', '25:00:00.5', '90000.5', '90000.5'],
  ['RAW', Buffer.from([0, 1, 0xff]), Buffer.from([0, 1, 0xff]), '0001ff'],
  ['BLOB', Buffer.from('hi'), Buffer.from('hi'), '6869'],
  ['CLOB', 'long text ✓', 'long text ✓', 'long text ✓'],
  ['NCLOB', 'ünïcode', 'ünïcode', 'ünïcode'],
  ['VARCHAR2', 'héllo', 'héllo', 'héllo'],
  ['VARCHAR2', 42n, '42', '42'],
  ['NVARCHAR2', 'x', 'x', 'x'],
  ['CHAR', 'ab', 'ab   ', 'ab'], // Oracle pads CHAR(5)
  ['NCHAR', 'é', 'é  ', 'é'],
  ['JSON', '{"b": 1, "a": "x"}', '{"a":"x","b":1}', '{"a":"x","b":1}'],
  // '' is NULL on Oracle: the applier binds NULL (counted as emptyAsNull), a read returns NULL.
  ['VARCHAR2', '', null, null],
  ['CLOB', '', null, null],
  ['RAW', Buffer.alloc(0), null, null],
  ['BLOB', Buffer.alloc(0), null, null],
  ['NUMBER', null, null, null],
];

test('Oracle: a source row converted as the applier converts it equals the row read back, per type', () => {
  for (const [type, source, read, form] of ORACLE_CASES) {
    const codec = oracleRowCodec([type], {});
    assert.equal(codec.canonical([source])[0], form, `${type} source ${String(source)}`);
    assert.equal(canonicalOracleValue(oracleValueClass(type), read), form, `${type} read ${String(read)}`);
  }
});

test('Oracle: values the applier refuses or turns into NULL by policy', () => {
  const refused = oracleRowCodec(['NUMBER(10,2)'], {}).canonical(['1.005'])[0] as string;
  assert.ok(refused.startsWith('\u0000refused: '), 'a text no read returns');
  assert.match(refused, /scale 2/);
  assert.equal(canonicalOracleValue('number', '1.01') === refused, false);
  assert.match(oracleRowCodec(['DATE'], {}).canonical(['0000-00-00'])[0] as string, /refused: .*zero date/);
  assert.equal(oracleRowCodec(['DATE'], { zeroDates: 'null' }).canonical(['0000-00-00'])[0], null);
  assert.match(
    oracleRowCodec(['VARCHAR2'], { emptyStrings: 'error' }).canonical([''])[0] as string,
    /refused: .*empty value/,
  );
  assert.match(oracleRowCodec(['SDO_GEOMETRY'], {}).canonical([Buffer.from([1])])[0] as string, /refused/);
  assert.equal(intervalSeconds('-34 22:59:59.000000'), '-3020399');
  assert.equal(intervalSeconds('0 00:00:00.250000'), '0.25');
});

test('Oracle: key values come back as numbers, bytes or text', () => {
  const codec = oracleRowCodec(['NUMBER(20,0)', 'RAW', 'VARCHAR2', 'NUMBER(10,2)'], {});
  assert.equal(codec.keyValue(0, '12'), 12);
  assert.equal(codec.keyValue(0, '18446744073709551615'), 18446744073709551615n);
  assert.deepEqual(codec.keyValue(1, '00ff'), Buffer.from([0, 0xff]));
  assert.equal(codec.keyValue(2, '12'), '12');
  assert.equal(codec.keyValue(3, '1.5'), '1.5');
});

const ORACLE_INFO = {
  ref: { schema: 'app', table: 'orders' },
  columns: ['id', 'sub', 'amount', 'at', 'doc', 'payload', 'note'],
  columnTypes: {
    id: 'NUMBER(20,0)',
    sub: 'VARCHAR2',
    amount: 'NUMBER(10,2)',
    at: 'TIMESTAMP(6) WITH TIME ZONE',
    doc: 'CLOB',
    payload: 'BLOB',
    note: 'CHAR',
  },
  keyColumns: ['id', 'sub'],
  keyKind: 'primary' as const,
};
const quoteTable = (r: TableRef) => `"${r.schema.toUpperCase()}"."${r.table.toUpperCase()}"`;

test('Oracle: a row read selects canonical text per type, binds key bounds as the applier binds them', () => {
  const r = oracleRowReadSql(
    ORACLE_INFO,
    {
      keyColumns: ['id', 'sub'],
      columns: ['id', 'amount', 'at', 'doc', 'payload', 'note'],
      after: [10, 'a'],
      upTo: [20n, 'b'],
    },
    quoteTable,
  );
  assert.equal(
    r.sql,
    `SELECT TO_CHAR("ID", 'TM9') AS "C1", TO_CHAR("AMOUNT", 'TM9') AS "C2", ` +
      `TO_CHAR(SYS_EXTRACT_UTC(CAST("AT" AS TIMESTAMP WITH TIME ZONE)), 'YYYY-MM-DD HH24:MI:SS.FF6') AS "C3", ` +
      `"DOC" AS "C4", "PAYLOAD" AS "C5", "NOTE" AS "C6" FROM "APP"."ORDERS" ` +
      `WHERE ("ID" > TO_NUMBER(:1) OR ("ID" = TO_NUMBER(:2) AND "SUB" > :3)) ` +
      `AND NOT ("ID" > TO_NUMBER(:4) OR ("ID" = TO_NUMBER(:5) AND "SUB" > :6))`,
  );
  assert.deepEqual(r.binds, ['10', '10', 'a', '20', '20', 'b']);
  assert.deepEqual(Object.keys(r.fetchInfo), ['C4', 'C5']);
  const byKeys = oracleRowReadSql(
    ORACLE_INFO,
    { keyColumns: ['id'], columns: ['id'], keys: [[1], [2]] },
    quoteTable,
  );
  assert.equal(
    byKeys.sql,
    `SELECT TO_CHAR("ID", 'TM9') AS "C1" FROM "APP"."ORDERS" WHERE "ID" IN (TO_NUMBER(:1), TO_NUMBER(:2))`,
  );
  const pairs = oracleRowReadSql(
    ORACLE_INFO,
    { keyColumns: ['id', 'sub'], columns: ['id'], keys: [[1, 'x']] },
    quoteTable,
  );
  assert.match(pairs.sql, /WHERE \(\("ID" = TO_NUMBER\(:1\) AND "SUB" = :2\)\)$/);
});

test('Oracle: rows read come back canonical; long key lists are split', async () => {
  const calls: Array<{ sql: string; binds: unknown[] }> = [];
  const conn = {
    async execute<T>(sql: string, binds: unknown[] = []): Promise<{ rows?: T[] }> {
      calls.push({ sql, binds });
      // What Oracle returns for the select list of id, amount, note.
      return { rows: [['1', '.5', 'ab   '] as unknown as T, ['2', null, null] as unknown as T] };
    },
  };
  const tables = { get: async () => ORACLE_INFO, invalidate() {} };
  const access = new OracleRowAccess(conn, tables, quoteTable);
  const keys = Array.from({ length: 1200 }, (_, i) => [i, 's']);
  const rows = await access.read({
    table: ORACLE_INFO.ref,
    keyColumns: ['id', 'sub'],
    columns: ['id', 'amount', 'note'],
    keys,
  });
  assert.equal(calls.length, 3, '1200 keys in reads of at most 500');
  assert.deepEqual(rows[0], ['1', '0.5', 'ab']);
  assert.deepEqual(rows[1], ['2', null, null]);
  const codec = await access.codec(ORACLE_INFO.ref, ['id', 'amount', 'note']);
  assert.deepEqual(codec.canonical([1n, '0.50', 'ab']), rows[0]);
  await assert.rejects(access.codec(ORACLE_INFO.ref, ['nope']), /has no column nope/);
});

test('Oracle session: verifyRows reads through the session connection with its identifier case and value policies', async () => {
  const db = new RecordingOracleDatabase();
  db.defineTable({
    owner: 'APP',
    table: 'PEOPLE',
    columns: [
      { name: 'ID', dataType: 'NUMBER', precision: 10, scale: 0, nullable: false },
      { name: 'NAME', dataType: 'VARCHAR2' },
      { name: 'BORN', dataType: 'DATE' },
    ],
    primaryKey: ['ID'],
  });
  db.answer('SELECT TO_CHAR("ID", \'TM9\') AS "C1"', () => [
    ['7', 'Ann', '1990-01-02 00:00:00'],
    ['8', null, null],
  ]);
  const session = await new OracleTargetConnector(async () => db.connect()).open(
    {
      name: 'ora',
      kind: 'oracle',
      host: 'h',
      port: 1521,
      user: 'u',
      password: 'p',
      serviceName: 'S',
      oracle: { zeroDates: 'null' },
    },
    { pipeline: 'p' },
  );
  const access = session.verifyRows;
  assert.ok(access, 'an Oracle session reads rows for verifications');
  assert.equal(session.capabilities.checksumSql, false);
  const table = { schema: 'app', table: 'people' };
  const rows = await access.read({
    table,
    keyColumns: ['id'],
    columns: ['id', 'name', 'born'],
    after: [6],
    upTo: [8],
  });
  assert.deepEqual(rows, [
    ['7', 'Ann', '1990-01-02 00:00:00'],
    ['8', null, null],
  ]);
  const read = db.calls.find((c) => c.sql?.startsWith('SELECT TO_CHAR("ID"'));
  assert.match(
    read?.sql ?? '',
    /FROM "APP"\."PEOPLE" WHERE "ID" > TO_NUMBER\(:1\) AND NOT "ID" > TO_NUMBER\(:2\)$/,
  );
  assert.deepEqual(read?.binds, ['6', '8']);
  const codec = await access.codec(table, ['id', 'name', 'born']);
  assert.deepEqual(codec.canonical([7, 'Ann', '1990-01-02']), rows[0]);
  // '' is stored as NULL, and the zero date as NULL under this datasource's policy.
  assert.deepEqual(codec.canonical([8, '', '0000-00-00']), rows[1]);
  await session.close();
});
