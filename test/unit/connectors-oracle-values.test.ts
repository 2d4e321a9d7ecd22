import assert from 'node:assert/strict';
import { test } from 'node:test';
import oracledb from 'oracledb';
import type { CellValue } from '../../src/binlog/types';
import { columnBinding, OracleValueError, ValueTally } from '../../src/connectors/oracle/values';

/** Converts one value for a column of `type` (named `c` in messages). */
function bind(type: string, v: CellValue, options = {}, tally = new ValueTally()): unknown {
  return columnBinding(type, options).convert(v, 'c', tally);
}
function refused(type: string, v: CellValue, pattern: RegExp, options = {}) {
  assert.throws(
    () => bind(type, v, options),
    (e: unknown) => e instanceof OracleValueError && pattern.test(e.message),
  );
}

test('integers, BIGINT UNSIGNED, YEAR and BIT into NUMBER travel as exact decimal text', () => {
  const n = columnBinding('NUMBER(20,0)');
  assert.equal(n.expr, 'TO_NUMBER($)');
  assert.equal(n.type, oracledb.DB_TYPE_VARCHAR);
  assert.equal(bind('NUMBER(20,0)', 18446744073709551615n), '18446744073709551615');
  assert.equal(bind('NUMBER(19,0)', -9223372036854775808n), '-9223372036854775808');
  assert.equal(bind('NUMBER(4,0)', 0), '0'); // YEAR 0 stays 0
  assert.equal(bind('NUMBER(4,0)', 2155), '2155');
  assert.equal(bind('NUMBER', Buffer.from([0x02, 0xaa])), '682'); // BIT(10) b'1010101010'
  assert.equal(bind('NUMBER(20,0)', Buffer.alloc(8, 0xff)), '18446744073709551615'); // BIT(64)
  assert.equal(bind('INTEGER', 7), '7');
  assert.equal(bind('NUMBER', null), null);
});

test('DECIMAL(65,30) into NUMBER: exact within 38 digits and the scale, refused where Oracle would round', () => {
  assert.equal(
    bind('NUMBER(38,10)', '-1234567890123456789012345678.1234567890'),
    '-1234567890123456789012345678.1234567890',
  );
  assert.equal(bind('NUMBER(10,2)', '-0.0100'), '-0.0100'); // trailing zeros are not digits that round
  refused('NUMBER(10,2)', '1.005', /more fraction digits than the Oracle column's scale 2/);
  refused('NUMBER(20,0)', '1.5', /scale 0/);
  const d65 = `${'9'.repeat(35)}.${'9'.repeat(30)}`;
  refused('NUMBER', d65, /65 significant digits; the Oracle column keeps 38 .*VARCHAR2/);
  // The same value into a VARCHAR2 column is kept exactly.
  assert.equal(bind('VARCHAR2', d65), d65);
  assert.equal(bind('NUMBER', `0.${'0'.repeat(29)}1`), `0.${'0'.repeat(29)}1`);
  refused('INTEGER', '2.5', /scale 0/);
});

test('FLOAT and DOUBLE: BINARY_DOUBLE takes the number itself, NUMBER the shortest exact text', () => {
  const f32 = Math.fround(0.1); // a MySQL FLOAT arrives as the float32 widened to a double
  assert.equal(bind('BINARY_DOUBLE', -1.5), -1.5);
  assert.equal(bind('BINARY_FLOAT', f32), f32);
  refused('BINARY_FLOAT', 0.1, /not exactly representable as BINARY_FLOAT/);
  assert.equal(columnBinding('BINARY_DOUBLE').type, oracledb.DB_TYPE_BINARY_DOUBLE);
  assert.equal(bind('NUMBER', f32), '0.10000000149011612');
  assert.equal(bind('NUMBER', 1e-7), '1e-7');
  assert.equal(bind('NUMBER', 1.7976931348623157e308), '1.7976931348623157e+308'); // Oracle refuses: out of range
  assert.equal(bind('FLOAT(126)', 2.5), '2.5');
  refused('FLOAT(10)', 0.1234567, /significant digits; the Oracle column keeps 4/);
  assert.equal(bind('BINARY_DOUBLE', '12.25'), 12.25); // DECIMAL text
  refused('BINARY_DOUBLE', '0.12345678901234567', /not exactly representable/);
  refused('BINARY_DOUBLE', 9007199254740993n, /not exactly representable/);
});

test('DATE, DATETIME and TIMESTAMP with fractions: exact or refused, never rounded', () => {
  assert.equal(bind('DATE', '2024-02-29'), '2024-02-29 00:00:00');
  assert.equal(bind('DATE', '2024-02-29 23:59:59.000000'), '2024-02-29 23:59:59');
  refused(
    'DATE',
    '2024-02-29 23:59:59.5',
    /fractional seconds, which an Oracle DATE cannot hold: make the column TIMESTAMP\(6\)/,
  );
  assert.equal(bind('TIMESTAMP(6)', '2038-01-19 03:14:07.999999'), '2038-01-19 03:14:07.999999');
  assert.equal(bind('TIMESTAMP(3)', '2038-01-19 03:14:07.123000'), '2038-01-19 03:14:07.123000');
  refused(
    'TIMESTAMP(3)',
    '2038-01-19 03:14:07.123400',
    /more fractional digits than the column's TIMESTAMP\(3\)/,
  );
  assert.equal(bind('TIMESTAMP', '1000-01-01 00:00:00'), '1000-01-01 00:00:00.000000');
  const tz = columnBinding('TIMESTAMP(6) WITH TIME ZONE');
  assert.equal(tz.expr, "FROM_TZ(TO_TIMESTAMP($, 'YYYY-MM-DD HH24:MI:SS.FF6'), 'UTC')");
  assert.match(columnBinding('TIMESTAMP(6) WITH LOCAL TIME ZONE').expr, /^FROM_TZ/);
  assert.equal(columnBinding('TIMESTAMP(6)').expr, "TO_TIMESTAMP($, 'YYYY-MM-DD HH24:MI:SS.FF6')");
  refused('DATE', 'yesterday', /is not a date\/time value/);
});

test('zero dates: refused naming the column by default, NULL with zeroDates null; kept as text in VARCHAR2', () => {
  refused(
    'DATE',
    '0000-00-00',
    /column c: zero date 0000-00-00 cannot be stored in Oracle .*zeroDates: 'null'/,
  );
  refused('TIMESTAMP(6)', '2020-00-15 00:00:00', /zero date/);
  assert.equal(bind('DATE', '2020-05-00', { zeroDates: 'null' }), null);
  assert.equal(bind('TIMESTAMP(6)', '0000-00-00 00:00:00.000000', { zeroDates: 'null' }), null);
  assert.equal(bind('VARCHAR2', '0000-00-00'), '0000-00-00');
});

test('TIME incl. negative and fractional into INTERVAL DAY TO SECOND; into VARCHAR2 as text', () => {
  const b = columnBinding('INTERVAL DAY(2) TO SECOND(6)');
  assert.equal(b.expr, 'TO_DSINTERVAL($)');
  assert.equal(bind('INTERVAL DAY(2) TO SECOND(6)', '-838:59:59.000000'), '-34 22:59:59.000000');
  assert.equal(bind('INTERVAL DAY(2) TO SECOND(6)', '-00:00:00.000001'), '-0 00:00:00.000001');
  assert.equal(bind('INTERVAL DAY(2) TO SECOND(6)', '25:00:00'), '1 01:00:00');
  assert.equal(bind('VARCHAR2', '-838:59:59'), '-838:59:59');
  refused('INTERVAL DAY(2) TO SECOND(6)', '12', /not a TIME value/);
});

test("'' = NULL: counted per column by default, refused with emptyStrings error", () => {
  const tally = new ValueTally();
  assert.equal(bind('VARCHAR2', '', {}, tally), null);
  assert.equal(bind('CHAR', '', {}, tally), null);
  assert.equal(bind('CLOB', '', {}, tally), null);
  assert.equal(bind('RAW', Buffer.alloc(0), {}, tally), null);
  assert.equal(bind('BLOB', Buffer.alloc(0), {}, tally), null);
  assert.equal(bind('VARCHAR2', ' ', {}, tally), ' ');
  assert.equal(bind('VARCHAR2', null, {}, tally), null); // a real NULL is not counted
  assert.equal(tally.total, 5);
  assert.deepEqual([...tally.emptyAsNull], [['c', 5]]);
  refused('VARCHAR2', '', /column c: an empty value would be stored as NULL .*emptyStrings: 'null'/, {
    emptyStrings: 'error',
  });
  const other = new ValueTally();
  tally.addTo(other);
  tally.addTo(other);
  assert.equal(other.total, 10);
});

test('ENUM, SET, JSON, utf8mb4 text, TEXT → CLOB, BINARY → RAW, BLOB, geometry bytes', () => {
  assert.equal(bind('VARCHAR2', 'b,c'), 'b,c'); // SET labels
  assert.equal(bind('VARCHAR2', 5n), '5'); // SET bitmask without labels
  assert.equal(bind('VARCHAR2', 'Zoë 😀'), 'Zoë 😀');
  assert.equal(bind('VARCHAR2', Buffer.from('Zoë', 'utf8')), 'Zoë'); // a string the decoder kept as bytes
  refused('VARCHAR2', Buffer.from([0xff, 0xfe]), /not UTF-8 text .*RAW or BLOB/);
  assert.equal(columnBinding('JSON').type, oracledb.DB_TYPE_CLOB);
  assert.equal(bind('JSON', '{"b": 18446744073709551615}'), '{"b": 18446744073709551615}');
  assert.equal(columnBinding('CLOB').type, oracledb.DB_TYPE_CLOB);
  assert.equal(columnBinding('NCLOB').type, oracledb.DB_TYPE_NCLOB);
  assert.equal(columnBinding('NVARCHAR2').type, oracledb.DB_TYPE_NVARCHAR);
  const bin = Buffer.from([0, 1, 0, 0]); // BINARY(4) with its trailing zero bytes
  assert.equal(columnBinding('RAW').type, oracledb.DB_TYPE_RAW);
  assert.deepEqual(bind('RAW', bin), bin);
  assert.deepEqual(bind('RAW', 'abc'), Buffer.from('abc'));
  const point = Buffer.from('e6100000010100000000000000000000f03f0000000000000040', 'hex'); // SRID 4326 POINT(1 2)
  assert.deepEqual(bind('BLOB', point), point);
  assert.equal(columnBinding('BLOB').comparable, false);
  assert.equal(columnBinding('RAW').comparable, true);
});

test('Oracle types with no faithful MySQL value are refused with the reason', () => {
  refused('SDO_GEOMETRY', Buffer.alloc(4), /SDO_GEOMETRY is not supported as a target: .*BLOB or RAW/);
  refused('LONG', 'x', /deprecated/);
  refused('XMLTYPE', 'x', /not supported/);
  refused('INTERVAL YEAR(2) TO MONTH', '1', /year-to-month/);
  refused('ANYDATA', 'x', /ANYDATA is not supported as a target/);
});
