import assert from 'node:assert/strict';
import { test } from 'node:test';
import mysql from 'mysql2/promise';
import type { CellValue } from '../../src/binlog/types';
import {
  type DeleteOp,
  RetryableTargetError,
  RowApplyError,
  TargetTableMissingError,
  type UpsertOp,
} from '../../src/connectors/dialect';
import { MysqlApplier, type MysqlProtocol } from '../../src/connectors/mysql/applier';
import { MysqlTableInfoCache } from '../../src/connectors/mysql/table-info';
import type { ApplyPlan, TableRef } from '../../src/pipeline/model';
import { connectTo, freshDatabases, testStack } from '../helpers/stack';

/** The protocols, plus `prepared` sending its packets through mysql2's writer instead of ours. */
type Variant = MysqlProtocol | 'prepared-mysql2';
const PROTOCOLS: Variant[] = ['query', 'prepared', 'prepared-mysql2', 'execute'];

/** `prepared` with fixed chunk sizes down to 1 row, so that every multi-row statement of these small tests runs prepared. */
function optionsFor(protocol: Variant) {
  if (protocol === 'prepared-mysql2')
    return { protocol: 'prepared' as const, fixedChunkMinRows: 1, rawExecute: false };
  return protocol === 'prepared' ? { protocol, fixedChunkMinRows: 1, rawExecute: true } : { protocol };
}

function up(
  target: TableRef,
  key: CellValue[],
  row: Record<string, CellValue>,
  extra: Partial<UpsertOp> = {},
): UpsertOp {
  return { kind: 'upsert', target, key, row: new Map(Object.entries(row)), expectExisting: false, ...extra };
}
function del(target: TableRef, key: CellValue[]): DeleteOp {
  return { kind: 'delete', target, key, before: new Map() };
}
function plan(target: TableRef, deletes: DeleteOp[], upserts: UpsertOp[]): ApplyPlan {
  return { tables: [{ target, deletes, upserts }] };
}

/** Applies inside a transaction, as the replicate activity does. */
async function applyInTx(conn: mysql.Connection, applier: MysqlApplier, p: ApplyPlan) {
  await conn.beginTransaction();
  try {
    const r = await applier.apply(p);
    await conn.commit();
    return r;
  } catch (e) {
    await conn.rollback();
    throw e;
  }
}

async function rows(conn: mysql.Connection, sql: string): Promise<Record<string, unknown>[]> {
  const [r] = await conn.query<mysql.RowDataPacket[]>(sql);
  return r.map((x) => ({ ...x }));
}

const ALL_TYPES_DDL = `(
  k BIGINT UNSIGNED NOT NULL PRIMARY KEY,
  i8 TINYINT, u64 BIGINT UNSIGNED, s64 BIGINT, d DECIMAL(65,30), dn DECIMAL(10,2),
  f FLOAT, dbl DOUBLE, dt DATE, dtm DATETIME(6), ts TIMESTAMP(6) NULL DEFAULT NULL, tm TIME(6), y YEAR,
  b64 BIT(64), b1 BIT(1), bin VARBINARY(256), blb BLOB, ch VARCHAR(100) CHARACTER SET utf8mb4,
  txt TEXT CHARACTER SET utf8mb4, j JSON, g GEOMETRY, e ENUM('a','b','c'), st SET('x','y','z'), nul INT
)`;

const ALL_BYTES = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
// POINT(1 2) with SRID 4326 in MySQL's internal form: 4-byte little-endian SRID + WKB.
const POINT_INTERNAL = Buffer.concat([
  Buffer.from([0xe6, 0x10, 0, 0]),
  Buffer.from('0101000000000000000000f03f0000000000000040', 'hex'),
]);

/** Edge values in CellValue form (docs/value-representation.md) and the same row as SQL literals. */
const EDGE_ROWS: Array<{ cells: Record<string, CellValue>; literal: string }> = [
  {
    cells: {
      k: 1n,
      i8: -128,
      u64: 18446744073709551615n,
      s64: -9223372036854775808n,
      d: '-99999999999999999999999999999999999.999999999999999999999999999999',
      dn: '-12345678.90',
      f: 3.4028234663852886e38,
      dbl: 1.7976931348623157e308,
      dt: '0000-00-00',
      dtm: '0000-00-00 00:00:00.000000',
      ts: '2038-01-19 03:14:07.999999',
      tm: '-838:59:59.000000',
      y: 0,
      b64: Buffer.from('ffffffffffffffff', 'hex'),
      b1: Buffer.from([1]),
      bin: ALL_BYTES,
      blb: Buffer.concat([ALL_BYTES, ALL_BYTES]),
      ch: '😀 ü 中 \' " \\ ` ? \0 end',
      txt: '𝄞'.repeat(100),
      j: '{"a": [1, 2.5, "x😀"], "b": null}',
      g: POINT_INTERNAL,
      e: 'c',
      st: 'x,z',
      nul: null,
    },
    literal:
      '(1, -128, 18446744073709551615, -9223372036854775808, -99999999999999999999999999999999999.999999999999999999999999999999, -12345678.90, ' +
      "3.4028234663852886e38, 1.7976931348623157e308, '0000-00-00', '0000-00-00 00:00:00.000000', '2038-01-19 03:14:07.999999', '-838:59:59.000000', 0, " +
      `X'ffffffffffffffff', b'1', X'${ALL_BYTES.toString('hex')}', X'${ALL_BYTES.toString('hex')}${ALL_BYTES.toString('hex')}', ` +
      `X'${Buffer.from('😀 ü 中 \' " \\ ` ? \0 end').toString('hex')}', X'${Buffer.from('𝄞'.repeat(100)).toString('hex')}', ` +
      `'{"a": [1, 2.5, "x😀"], "b": null}', ST_GeomFromText('POINT(1 2)', 4326), 'c', 'x,z', NULL)`,
  },
  {
    cells: {
      k: 2n,
      i8: 127,
      u64: 0n,
      s64: 9223372036854775807n,
      d: '0.000000000000000000000000000001',
      dn: '0.00',
      f: -1.100000023841858,
      dbl: -0.1,
      dt: '2020-00-15',
      dtm: '9999-12-31 23:59:59.999999',
      ts: '1970-01-01 00:00:01.000000',
      tm: '838:59:59.999999',
      y: 2155,
      b64: Buffer.from('0000000000000000', 'hex'),
      b1: Buffer.from([0]),
      bin: Buffer.alloc(0),
      blb: Buffer.from([0]),
      ch: '',
      txt: '',
      j: '[]',
      g: POINT_INTERNAL,
      e: 'a',
      st: '',
      nul: null,
    },
    literal:
      "(2, 127, 0, 9223372036854775807, 0.000000000000000000000000000001, 0.00, -1.100000023841858, -0.1, '2020-00-15', " +
      "'9999-12-31 23:59:59.999999', '1970-01-01 00:00:01.000000', '838:59:59.999999', 2155, X'0000000000000000', b'0', X'', X'00', " +
      "'', '', '[]', ST_GeomFromText('POINT(1 2)', 4326), 'a', '', NULL)",
  },
];

/** Every column as exact text, so two tables compare byte for byte. */
const EXACT_SELECT =
  'SELECT k, i8, CAST(u64 AS CHAR) u64, CAST(s64 AS CHAR) s64, CAST(d AS CHAR) d, CAST(dn AS CHAR) dn, ' +
  'HEX(WEIGHT_STRING(f)) f_bits, CAST(f AS CHAR) f, CAST(dbl AS CHAR) dbl, CAST(dt AS CHAR) dt, CAST(dtm AS CHAR) dtm, ' +
  'UNIX_TIMESTAMP(ts) ts_epoch, CAST(ts AS CHAR) ts, CAST(tm AS CHAR) tm, CAST(y AS CHAR) y, HEX(b64) b64, HEX(b1) b1, ' +
  'HEX(bin) bin, HEX(blb) blb, HEX(ch) ch, HEX(txt) txt, HEX(j) j, HEX(ST_AsBinary(g)) g_wkb, ST_SRID(g) g_srid, ' +
  'e, st, nul FROM ';

for (const protocol of PROTOCOLS) {
  test(`[${protocol}] every value type lands on the target exactly (compared with the same row inserted as SQL literals)`, async (t) => {
    const db = await freshDatabases(t, 'apply');
    const conn = db.target;
    await conn.query(`CREATE TABLE applied ${ALL_TYPES_DDL}`);
    await conn.query(`CREATE TABLE expected ${ALL_TYPES_DDL}`);
    await conn.query("SET time_zone = '+00:00', sql_mode = ''");
    await conn.query(`INSERT INTO expected VALUES ${EDGE_ROWS.map((r) => r.literal).join(',')}`);

    const target = { schema: db.name, table: 'applied' };
    const applier = new MysqlApplier(conn, optionsFor(protocol));
    const r = await applyInTx(
      conn,
      applier,
      plan(
        target,
        [],
        EDGE_ROWS.map((r) => up(target, [r.cells.k ?? null], r.cells)),
      ),
    );
    assert.deepEqual(r.stats, {
      inserted: 2,
      updated: 0,
      deleted: 0,
      missingOnUpdate: 0,
      missingOnDelete: 0,
    });

    const expected = await rows(conn, `${EXACT_SELECT} expected ORDER BY k`);
    const applied = await rows(conn, `${EXACT_SELECT} applied ORDER BY k`);
    assert.deepEqual(applied, expected);
    // And a few values spelled out, so the comparison cannot pass on two equally wrong tables.
    const first = applied[0]!;
    assert.equal(first.u64, '18446744073709551615');
    assert.equal(first.d, '-99999999999999999999999999999999999.999999999999999999999999999999');
    assert.equal(first.dt, '0000-00-00');
    assert.equal(first.tm, '-838:59:59.000000');
    assert.equal(first.ts_epoch, '2147483647.999999');
    assert.equal(first.y, '0000');
    assert.equal(first.b64, 'FFFFFFFFFFFFFFFF');
    assert.equal(first.bin, ALL_BYTES.toString('hex').toUpperCase());
    assert.equal(first.ch, Buffer.from('😀 ü 中 \' " \\ ` ? \0 end').toString('hex').toUpperCase());
    assert.equal(first.g_srid, 4326);
    assert.deepEqual([first.e, first.st], ['c', 'x,z']);
    assert.equal(applied[1]?.dt, '2020-00-15');

    // Applying the same plan again (a retried batch) changes nothing.
    await applyInTx(
      conn,
      applier,
      plan(
        target,
        [],
        EDGE_ROWS.map((r) => up(target, [r.cells.k ?? null], r.cells)),
      ),
    );
    assert.deepEqual(await rows(conn, `${EXACT_SELECT} applied ORDER BY k`), expected);
  });

  test(`[${protocol}] updates, deletes first, and missing rows are reported with their keys`, async (t) => {
    const db = await freshDatabases(t, 'apply');
    const conn = db.target;
    await conn.query('CREATE TABLE t (id INT PRIMARY KEY, v VARCHAR(20), n INT)');
    await conn.query("INSERT INTO t VALUES (1,'one',1),(2,'two',2),(3,'three',3),(4,'four',4)");
    const target = { schema: db.name, table: 't' };
    const applier = new MysqlApplier(conn, optionsFor(protocol));
    const r = await applyInTx(
      conn,
      applier,
      plan(
        target,
        [del(target, [1]), del(target, [50]), del(target, [2]), del(target, [51])],
        [
          up(target, [3], { id: 3, v: 'THREE', n: 30 }, { expectExisting: true }),
          up(target, [60], { id: 60, v: 'sixty', n: 60 }, { expectExisting: true }),
          up(target, [5], { id: 5, v: 'five', n: 5 }),
          // FIELD mode: only n changes on the target although the row image says otherwise for v.
          up(target, [4], { id: 4, v: 'ignored', n: 40 }, { expectExisting: true, changedColumns: ['n'] }),
        ],
      ),
    );
    assert.deepEqual(r.stats, {
      inserted: 2,
      updated: 2,
      deleted: 2,
      missingOnUpdate: 1,
      missingOnDelete: 2,
    });
    assert.deepEqual(
      r.missing.map((m) => [m.op, m.key]).sort(),
      [
        ['delete', { id: '50' }],
        ['delete', { id: '51' }],
        ['update', { id: '60' }],
      ].sort(),
    );
    // A delete of a row the batch itself created (expectExisting: false) is not reported when absent.
    const r2 = await applyInTx(
      conn,
      applier,
      plan(target, [{ ...del(target, [70]), expectExisting: false }, del(target, [5])], []),
    );
    assert.deepEqual(r2.stats, {
      inserted: 0,
      updated: 0,
      deleted: 1,
      missingOnUpdate: 0,
      missingOnDelete: 0,
    });
    await applyInTx(conn, applier, plan(target, [], [up(target, [5], { id: 5, v: 'five', n: 5 })]));
    assert.deepEqual(await rows(conn, 'SELECT id, v, n FROM t ORDER BY id'), [
      { id: 3, v: 'THREE', n: 30 },
      { id: 4, v: 'four', n: 40 },
      { id: 5, v: 'five', n: 5 },
      { id: 60, v: 'sixty', n: 60 },
    ]);
  });
}

test('missing keys are found among many (bisection) and a key change replays as delete + upsert', async (t) => {
  const db = await freshDatabases(t, 'apply');
  const conn = db.target;
  await conn.query('CREATE TABLE t (id INT PRIMARY KEY, v INT)');
  await conn.query(`INSERT INTO t VALUES ${Array.from({ length: 500 }, (_, i) => `(${i},${i})`).join(',')}`);
  const target = { schema: db.name, table: 't' };
  const applier = new MysqlApplier(conn);
  const updates = Array.from({ length: 1000 }, (_, i) =>
    up(target, [i], { id: i, v: -i }, { expectExisting: true }),
  );
  const r = await applyInTx(
    conn,
    applier,
    plan(target, [del(target, [7])], [...updates.filter((u) => u.key[0] !== 7)]),
  );
  // 500..999 were not on the target; 7 was deleted first (its upsert is not in the plan).
  assert.equal(r.stats.missingOnUpdate, 500);
  assert.equal(r.stats.updated, 499 - 0);
  assert.equal(r.stats.deleted, 1);
  assert.equal(r.missing.length, 10);
  assert.deepEqual(
    r.missing.map((m) => Number(m.key.id)),
    [500, 501, 502, 503, 504, 505, 506, 507, 508, 509],
  );
  const [[cnt]] = (await conn.query('SELECT COUNT(*) c, SUM(v) s FROM t')) as unknown as [
    [{ c: number; s: string }],
  ];
  assert.equal(Number(cnt.c), 999);
  assert.equal(cnt.s, String(-(999 * 1000) / 2 + 7));

  // Key change 1 → 2000: delete old key, upsert new key in one plan.
  await applyInTx(conn, applier, plan(target, [del(target, [1])], [up(target, [2000], { id: 2000, v: 1 })]));
  assert.deepEqual(await rows(conn, 'SELECT id, v FROM t WHERE id IN (1, 2000)'), [{ id: 2000, v: 1 }]);
});

test('composite primary key: upsert, update, delete by (k1, k2)', async (t) => {
  const db = await freshDatabases(t, 'apply');
  const conn = db.target;
  await conn.query(
    'CREATE TABLE c (tenant VARCHAR(10), id BIGINT UNSIGNED, v VARBINARY(4), PRIMARY KEY (tenant, id))',
  );
  const target = { schema: db.name, table: 'c' };
  const applier = new MysqlApplier(conn);
  await applyInTx(
    conn,
    applier,
    plan(
      target,
      [],
      [
        up(target, ['a', 1n], { tenant: 'a', id: 1n, v: Buffer.from([1]) }),
        up(target, ['a', 18446744073709551615n], {
          tenant: 'a',
          id: 18446744073709551615n,
          v: Buffer.from([2]),
        }),
        up(target, ['b', 1n], { tenant: 'b', id: 1n, v: Buffer.from([3]) }),
      ],
    ),
  );
  const r = await applyInTx(
    conn,
    applier,
    plan(
      target,
      [del(target, ['a', 1n]), del(target, ['b', 18446744073709551615n])],
      [
        up(
          target,
          ['a', 18446744073709551615n],
          { tenant: 'a', id: 18446744073709551615n, v: Buffer.from([0xff]) },
          { expectExisting: true },
        ),
      ],
    ),
  );
  assert.deepEqual(r.stats, { inserted: 0, updated: 1, deleted: 1, missingOnUpdate: 0, missingOnDelete: 1 });
  assert.deepEqual(r.missing, [
    { table: `${db.name}.c`, op: 'delete', key: { tenant: 'b', id: '18446744073709551615' } },
  ]);
  assert.deepEqual(
    await rows(conn, 'SELECT tenant, CAST(id AS CHAR) id, HEX(v) v FROM c ORDER BY tenant, id'),
    [
      { tenant: 'a', id: '18446744073709551615', v: 'FF' },
      { tenant: 'b', id: '1', v: '03' },
    ],
  );
});

test('a table without primary key uses its NOT NULL unique key (a nullable one is ignored)', async (t) => {
  const db = await freshDatabases(t, 'apply');
  const conn = db.target;
  await conn.query(
    'CREATE TABLE u (a INT NULL, code VARCHAR(10) NOT NULL, v INT, UNIQUE KEY ua (a), UNIQUE KEY uc (code))',
  );
  const target = { schema: db.name, table: 'u' };
  const cache = new MysqlTableInfoCache(conn);
  const info = await cache.get(target);
  assert.deepEqual([info.keyKind, info.keyColumns], ['unique', ['code']]);
  const applier = new MysqlApplier(conn, { tableInfo: cache });
  await applyInTx(
    conn,
    applier,
    plan(
      target,
      [],
      [up(target, ['x'], { a: 1, code: 'x', v: 1 }), up(target, ['y'], { a: null, code: 'y', v: 2 })],
    ),
  );
  const r = await applyInTx(
    conn,
    applier,
    plan(
      target,
      [del(target, ['y'])],
      [up(target, ['x'], { a: 1, code: 'x', v: 10 }, { expectExisting: true })],
    ),
  );
  assert.deepEqual(r.stats, { inserted: 0, updated: 1, deleted: 1, missingOnUpdate: 0, missingOnDelete: 0 });
  assert.deepEqual(await rows(conn, 'SELECT a, code, v FROM u'), [{ a: 1, code: 'x', v: 10 }]);
});

test('a table with no key at all: full-row matching keeps identical duplicates apart', async (t) => {
  const db = await freshDatabases(t, 'apply');
  const conn = db.target;
  await conn.query('CREATE TABLE n (a INT, b VARCHAR(10), c BLOB)');
  const target = { schema: db.name, table: 'n' };
  const applier = new MysqlApplier(conn);
  const info = await applier.tables.get(target);
  assert.deepEqual([info.keyKind, info.keyColumns], ['fullRow', ['a', 'b', 'c']]);
  const row = { a: 1, b: null, c: Buffer.from([0, 1]) };
  // Two identical INSERTs are two rows.
  let r = await applyInTx(
    conn,
    applier,
    plan(target, [], [up(target, [1, null, row.c], row), up(target, [1, null, row.c], row)]),
  );
  assert.equal(r.stats.inserted, 2);
  assert.equal((await rows(conn, 'SELECT * FROM n')).length, 2);
  // Deleting one of them (NULL-safe match on b) leaves the other.
  r = await applyInTx(conn, applier, plan(target, [del(target, [1, null, row.c])], []));
  assert.deepEqual(r.stats.deleted, 1);
  assert.equal((await rows(conn, 'SELECT * FROM n')).length, 1);
  // An UPDATE replaces exactly one matching row; an UPDATE of a row that is not there is reported and inserted.
  await applyInTx(conn, applier, plan(target, [], [up(target, [1, null, row.c], row)]));
  r = await applyInTx(
    conn,
    applier,
    plan(
      target,
      [del(target, [9, 'gone', null])],
      [
        up(target, [1, null, row.c], { a: 2, b: 'new', c: null }, { expectExisting: true }),
        up(target, [7, 'nope', null], { a: 7, b: 'ins', c: null }, { expectExisting: true }),
      ],
    ),
  );
  assert.deepEqual(r.stats, { inserted: 1, updated: 1, deleted: 0, missingOnUpdate: 1, missingOnDelete: 1 });
  assert.deepEqual(
    r.missing.map((m) => m.op),
    ['delete', 'update'],
  );
  assert.deepEqual(await rows(conn, 'SELECT a, b, HEX(c) c FROM n ORDER BY a'), [
    { a: 1, b: null, c: '0001' },
    { a: 2, b: 'new', c: null },
    { a: 7, b: 'ins', c: null },
  ]);
});

test('names with backticks, quotes and question marks work as identifiers', async (t) => {
  const db = await freshDatabases(t, 'apply');
  const conn = db.target;
  await conn.query('CREATE TABLE `we``ird "t" ?` (`k``?` INT PRIMARY KEY, `v "?" \'x\'` VARCHAR(10))');
  const target = { schema: db.name, table: 'we`ird "t" ?' };
  for (const protocol of PROTOCOLS) {
    const applier = new MysqlApplier(conn, optionsFor(protocol));
    const r = await applyInTx(
      conn,
      applier,
      plan(
        target,
        [del(target, [2])],
        [
          up(
            target,
            [1],
            { 'k`?': 1, 'v "?" \'x\'': protocol.slice(0, 10) },
            { expectExisting: protocol === 'execute' },
          ),
        ],
      ),
    );
    assert.equal(r.stats.missingOnUpdate, 0);
  }
  assert.deepEqual(await rows(conn, 'SELECT * FROM `we``ird "t" ?`'), [
    { 'k`?': 1, 'v "?" \'x\'': 'execute' },
  ]);
});

test('a statement at the 65,535-placeholder limit is accepted by the server (every protocol)', async (t) => {
  const db = await freshDatabases(t, 'apply');
  const conn = db.target;
  await conn.query('CREATE TABLE w (a INT PRIMARY KEY, b INT, c INT, d INT, e INT)');
  const target = { schema: db.name, table: 'w' };
  for (const protocol of PROTOCOLS) {
    const applier = new MysqlApplier(conn, { ...optionsFor(protocol), maxRowsPerStatement: 100_000 });
    const ups = Array.from({ length: 13_107 }, (_, i) =>
      up(target, [i], { a: i, b: i, c: i, d: i, e: protocol === 'query' ? 1 : 2 }),
    );
    const r = await applyInTx(conn, applier, plan(target, [], ups));
    assert.equal(r.stats.inserted, 13_107);
  }
  assert.deepEqual(await rows(conn, 'SELECT COUNT(*) n, SUM(e) s FROM w'), [
    { n: '13107', s: String(13_107 * 2) },
  ]);
});

test('[prepared] fixed-size chunks reuse a few prepared statements; beyond maxPreparedStatements the oldest is closed and can be prepared again', async (t) => {
  const db = await freshDatabases(t, 'apply');
  const conn = db.target;
  await conn.query('CREATE TABLE p (id INT PRIMARY KEY, v VARCHAR(20))');
  const target = { schema: db.name, table: 'p' };
  const applier = new MysqlApplier(conn, {
    protocol: 'prepared',
    fixedChunkMinRows: 1,
    maxPreparedStatements: 2,
  });
  // 7 rows = 4 + 2 + 1: three sizes, three statement texts; only two stay open.
  const batch = (from: number, n: number, v: string) =>
    Array.from({ length: n }, (_, i) => up(target, [from + i], { id: from + i, v }));
  await applyInTx(conn, applier, plan(target, [], batch(0, 7, 'first')));
  assert.equal(applier.preparedStatementCount, 2);
  // MariaDB: every statement runs through our COM_STMT_EXECUTE writer.
  assert.equal(applier.rawPreparedStatementCount, 2);
  // The 4-row statement was closed: preparing it again must give a live statement (not mysql2's stale cache entry).
  await applyInTx(conn, applier, plan(target, [], batch(0, 7, 'second')));
  await applyInTx(conn, applier, plan(target, [del(target, [0]), del(target, [1])], batch(10, 4, 'third')));
  assert.equal(applier.preparedStatementCount, 2);
  assert.deepEqual(await rows(conn, 'SELECT id, v FROM p ORDER BY id'), [
    ...[2, 3, 4, 5, 6].map((id) => ({ id, v: 'second' })),
    ...[10, 11, 12, 13].map((id) => ({ id, v: 'third' })),
  ]);
});

/**
 * Tables holding ids 1..100 except 40, 41 and 77, and a plan for one of them that deletes 1..10 and
 * 200 (missing), updates 11..99 (40, 41 and 77 missing: reported, then inserted whole) and inserts
 * 300..350.
 */
async function createMissingRowsTables(conn: mysql.Connection, names: string[]): Promise<void> {
  const preload = Array.from({ length: 100 }, (_, i) => i + 1).filter((id) => ![40, 41, 77].includes(id));
  for (const name of names) {
    await conn.query(`CREATE TABLE ${name} (id INT PRIMARY KEY, v VARCHAR(20))`);
    await conn.query(`INSERT INTO ${name} VALUES ${preload.map((id) => `(${id},'old')`).join(',')}`);
  }
}
function missingRowsPlan(target: TableRef): ApplyPlan {
  return plan(
    target,
    [...Array.from({ length: 10 }, (_, i) => del(target, [i + 1])), del(target, [200])],
    [
      ...Array.from({ length: 89 }, (_, i) =>
        up(target, [i + 11], { id: i + 11, v: `new ${i + 11}` }, { expectExisting: true }),
      ),
      ...Array.from({ length: 51 }, (_, i) => up(target, [i + 300], { id: i + 300, v: 'inserted' })),
    ],
  );
}

test('[prepared, pipelined] a chunk that finds missing rows mid-run is undone with everything sent after it and redone: same rows and stats as one statement at a time', async (t) => {
  const db = await freshDatabases(t, 'apply');
  const conn = db.target;
  await createMissingRowsTables(conn, ['piped', 'sequential']);
  const planFor = missingRowsPlan;
  // Chunks of 64, 16, 8, 1 rows: the missing keys fall in the 64-row UPDATE chunk, with more
  // UPDATE and INSERT chunks pipelined behind it.
  const piped = new MysqlApplier(conn, { protocol: 'prepared', fixedChunkMinRows: 1, pipelining: true });
  const sequential = new MysqlApplier(conn, {
    protocol: 'prepared',
    fixedChunkMinRows: 1,
    pipelining: false,
  });
  const a = await applyInTx(conn, piped, planFor({ schema: db.name, table: 'piped' }));
  const b = await applyInTx(conn, sequential, planFor({ schema: db.name, table: 'sequential' }));
  assert.ok(piped.pipelinedRunCount >= 2, 'the run was drained, undone and resumed');
  assert.equal(sequential.pipelinedRunCount, 0);
  assert.deepEqual(a.stats, {
    inserted: 54,
    updated: 86,
    deleted: 10,
    missingOnUpdate: 3,
    missingOnDelete: 1,
  });
  assert.deepEqual(a.stats, b.stats);
  const keys = (r: typeof a) => r.missing.map((m) => `${m.op} ${m.key.id}`).sort();
  assert.deepEqual(keys(a), ['delete 200', 'update 40', 'update 41', 'update 77']);
  assert.deepEqual(keys(a), keys(b));
  const pipedRows = await rows(conn, 'SELECT id, v FROM piped ORDER BY id');
  assert.deepEqual(pipedRows, await rows(conn, 'SELECT id, v FROM sequential ORDER BY id'));
  assert.equal(pipedRows.length, 89 + 1 + 51); // 11..99, the untouched 100, 300..350
  assert.deepEqual(pipedRows[0], { id: 11, v: 'new 11' });
  assert.deepEqual(
    pipedRows.find((r) => r.id === 40),
    { id: 40, v: 'new 40' },
  );
});

test('[prepared, pipelined] statements built ahead while another batch is in flight give the same rows, counts and missing keys; built from stale table info they are built again', async (t) => {
  const db = await freshDatabases(t, 'apply');
  const conn = db.target;
  await createMissingRowsTables(conn, ['ahead', 'direct', 'stale', 'busy']);
  const planFor = (table: string) => missingRowsPlan({ schema: db.name, table });
  const applier = new MysqlApplier(conn, { protocol: 'prepared', fixedChunkMinRows: 1, pipelining: true });
  await applier.prepareSession();
  // Warm the table info cache as a pipeline does before rows reach a batch.
  for (const table of ['ahead', 'direct', 'stale', 'busy'])
    await applier.tables.get({ schema: db.name, table });

  // Built ahead while the connection is busy applying another batch, as the replicator does.
  const aheadPlan = planFor('ahead');
  const inFlight = applyInTx(conn, applier, planFor('busy'));
  await applier.prebuild(aheadPlan);
  await inFlight;
  const a = await applyInTx(conn, applier, aheadPlan);
  assert.equal(applier.prebuiltTableCount, 1, 'the statements built ahead were used');

  const d = await applyInTx(conn, applier, planFor('direct'));
  assert.equal(applier.prebuiltTableCount, 1);

  // DDL between building and applying: the table's info is read again, the statements rebuilt.
  const stalePlan = planFor('stale');
  await applier.prebuild(stalePlan);
  applier.tables.invalidate({ schema: db.name, table: 'stale' });
  const s = await applyInTx(conn, applier, stalePlan);
  assert.equal(applier.prebuiltTableCount, 1, 'statements built from stale table info are not used');

  for (const r of [a, s]) {
    assert.deepEqual(r.stats, d.stats);
    assert.deepEqual(r.missing.map((m) => `${m.op} ${m.key.id}`).sort(), [
      'delete 200',
      'update 40',
      'update 41',
      'update 77',
    ]);
  }
  assert.deepEqual(d.stats, {
    inserted: 54,
    updated: 86,
    deleted: 10,
    missingOnUpdate: 3,
    missingOnDelete: 1,
  });
  const direct = await rows(conn, 'SELECT id, v FROM direct ORDER BY id');
  assert.equal(direct.length, 89 + 1 + 51);
  for (const table of ['ahead', 'stale', 'busy'])
    assert.deepEqual(await rows(conn, `SELECT id, v FROM ${table} ORDER BY id`), direct, table);
});

test('[prepared, pipelined] a failing statement mid-run fails the apply; statements sent after it are undone by the rollback and the connection stays usable', async (t) => {
  const db = await freshDatabases(t, 'apply');
  const conn = db.target;
  await conn.query('CREATE TABLE f (id INT PRIMARY KEY, v VARCHAR(5))');
  const target = { schema: db.name, table: 'f' };
  const applier = new MysqlApplier(conn, { protocol: 'prepared', fixedChunkMinRows: 1 });
  // 16 + 4 + 1 rows: the 4-row chunk holds a value that does not fit.
  const ups = Array.from({ length: 21 }, (_, i) =>
    up(target, [i], { id: i, v: i === 17 ? 'too long' : 'ok' }),
  );
  await assert.rejects(applyInTx(conn, applier, plan(target, [], ups)), /Data too long/);
  assert.ok(applier.pipelinedRunCount >= 1);
  assert.deepEqual(await rows(conn, 'SELECT COUNT(*) n FROM f'), [{ n: '0' }]);
  const r = await applyInTx(
    conn,
    applier,
    plan(
      target,
      [],
      ups.filter((u) => u.key[0] !== 17),
    ),
  );
  assert.equal(r.stats.inserted, 20);
  assert.deepEqual(await rows(conn, 'SELECT COUNT(*) n FROM f'), [{ n: '20' }]);
});

test('[prepared] on a compressed connection the packets are left to mysql2 (no raw writer, no pipelining) and rows still land', async (t) => {
  const db = await freshDatabases(t, 'apply');
  await db.target.query('CREATE TABLE z (id INT PRIMARY KEY, v VARCHAR(20))');
  const s = testStack();
  const conn = await mysql.createConnection({
    host: s.host,
    port: s.targetPort,
    user: 'root',
    database: db.name,
    compress: true,
    supportBigNumbers: true,
    bigNumberStrings: true,
  });
  t.after(() => conn.end());
  const target = { schema: db.name, table: 'z' };
  const applier = new MysqlApplier(conn, { protocol: 'prepared', fixedChunkMinRows: 1 });
  const ups = Array.from({ length: 21 }, (_, i) => up(target, [i], { id: i, v: `v${i}` }));
  const r = await applyInTx(conn, applier, plan(target, [], ups));
  assert.equal(r.stats.inserted, 21);
  assert.equal(applier.preparedStatementCount, 3);
  assert.equal(applier.rawPreparedStatementCount, 0);
  assert.equal(applier.pipelinedRunCount, 0);
  assert.deepEqual(await rows(conn, 'SELECT COUNT(*) n FROM z'), [{ n: '21' }]);
});

test('row-by-row apply names the failing row; skipFailures applies the rest', async (t) => {
  const db = await freshDatabases(t, 'apply');
  const conn = db.target;
  await conn.query('CREATE TABLE r (id INT PRIMARY KEY, v VARCHAR(3) NOT NULL)');
  const target = { schema: db.name, table: 'r' };
  const applier = new MysqlApplier(conn);
  const p = plan(
    target,
    [],
    [
      up(target, [1], { id: 1, v: 'ok' }),
      up(target, [2], { id: 2, v: 'too long' }),
      up(target, [3], { id: 3, v: 'ok3' }),
    ],
  );
  // The multi-row statement fails as a whole (strict mode: no silent truncation).
  await assert.rejects(applyInTx(conn, applier, p), /Data too long/);
  await conn.beginTransaction();
  await assert.rejects(applier.applyRowByRow(p), (e: unknown) => {
    assert.ok(e instanceof RowApplyError);
    assert.deepEqual(e.failure.key, { id: '2' });
    assert.equal(e.failure.code, 'ER_DATA_TOO_LONG');
    return true;
  });
  await conn.rollback();
  await conn.beginTransaction();
  const r = await applier.applyRowByRow(p, { skipFailures: true });
  await conn.commit();
  assert.equal(r.stats.inserted, 2);
  assert.deepEqual(
    r.failures.map((f) => [f.table, f.op, f.key]),
    [[`${db.name}.r`, 'upsert', { id: '2' }]],
  );
  assert.deepEqual(await rows(conn, 'SELECT id FROM r ORDER BY id'), [{ id: 1 }, { id: 3 }]);
});

test('a lock wait timeout surfaces as a retryable error', async (t) => {
  const db = await freshDatabases(t, 'apply');
  await db.target.query('CREATE TABLE l (id INT PRIMARY KEY, v INT)');
  await db.target.query('INSERT INTO l VALUES (1, 1)');
  const holder = await connectTo('target', db.name);
  t.after(() => holder.end());
  await holder.beginTransaction();
  await holder.query('SELECT * FROM l WHERE id = 1 FOR UPDATE');
  const conn = db.target;
  await conn.query('SET SESSION innodb_lock_wait_timeout = 1');
  const target = { schema: db.name, table: 'l' };
  const applier = new MysqlApplier(conn);
  await assert.rejects(
    applyInTx(conn, applier, plan(target, [], [up(target, [1], { id: 1, v: 2 })])),
    (e: unknown) => {
      assert.ok(e instanceof RetryableTargetError);
      assert.equal(e.code, 'ER_LOCK_WAIT_TIMEOUT');
      return true;
    },
  );
  await holder.rollback();
});

test('table info is cached until invalidated; a missing table is a clear error', async (t) => {
  const db = await freshDatabases(t, 'apply');
  const conn = db.target;
  await conn.query('CREATE TABLE x (a INT, b INT)');
  const cache = new MysqlTableInfoCache(conn);
  const ref = { schema: db.name, table: 'x' };
  assert.equal((await cache.get(ref)).keyKind, 'fullRow');
  await conn.query('ALTER TABLE x ADD PRIMARY KEY (b), ADD COLUMN c INT');
  assert.equal((await cache.get(ref)).keyKind, 'fullRow');
  cache.invalidate(ref);
  const info = await cache.get(ref);
  assert.deepEqual([info.keyKind, info.keyColumns, info.columns], ['primary', ['b'], ['a', 'b', 'c']]);
  await assert.rejects(cache.get({ schema: db.name, table: 'nope' }), TargetTableMissingError);
});
