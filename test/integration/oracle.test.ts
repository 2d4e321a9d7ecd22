import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';
import oracledb from 'oracledb';
import type { CellValue } from '../../src/binlog/types';
import type { UpsertOp } from '../../src/connectors/dialect';
import { OracleApplier } from '../../src/connectors/oracle/applier';

/**
 * Runs against a real Oracle database only when ORACLE_URL is set, e.g.
 *   ORACLE_URL='oracle://user:password@host:1521/FREEPDB1'
 * (thin mode: no Instant Client needed). The user needs CREATE TABLE in its own schema.
 */
const url = process.env.ORACLE_URL;

function parseUrl(u: string) {
  const p = new URL(u);
  return {
    user: decodeURIComponent(p.username),
    password: decodeURIComponent(p.password),
    connectString: `${p.hostname}:${p.port || '1521'}${p.pathname}`,
  };
}

test('Oracle applier: MERGE, UPDATE, DELETE and missing rows on a real Oracle', async (t) => {
  if (!url) {
    t.skip('ORACLE_URL not set: Oracle integration test skipped');
    return;
  }
  const cfg = parseUrl(url);
  const conn = await oracledb.getConnection(cfg);
  const table = `OTF_${randomBytes(4).toString('hex').toUpperCase()}`;
  t.after(async () => {
    await conn.execute(`DROP TABLE "${table}" PURGE`).catch(() => {});
    await conn.close();
  });
  await conn.execute(
    `CREATE TABLE "${table}" (id NUMBER(20) PRIMARY KEY, name VARCHAR2(100), amount NUMBER(38,10), ` +
      'created DATE, ts TIMESTAMP(6), dur INTERVAL DAY(2) TO SECOND(6), raw RAW(256), doc BLOB)',
  );
  // Default identifier case: pipeline names in lower case reach Oracle's upper-case catalog names.
  const target = { schema: cfg.user.toLowerCase(), table: table.toLowerCase() };
  const all = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
  const up = (id: bigint, row: Record<string, CellValue>, expectExisting = false): UpsertOp => ({
    kind: 'upsert',
    target,
    key: [id],
    row: new Map(Object.entries({ id, ...row })),
    expectExisting,
  });
  const applier = new OracleApplier(conn);
  await applier.prepareSession();
  const r1 = await applier.apply({
    tables: [
      {
        target,
        deletes: [],
        upserts: [
          up(18446744073709551615n, {
            name: 'Zoë 😀',
            amount: '-1234567890123456789012345678.1234567890',
            created: '2024-02-29',
            ts: '2038-01-19 03:14:07.999999',
            dur: '-838:59:59.000000',
            raw: all,
            doc: Buffer.concat([all, all]),
          }),
          up(2n, { name: 'two' }),
        ],
      },
    ],
  });
  await conn.commit();
  assert.equal(r1.stats.inserted, 2);
  const r2 = await applier.apply({
    tables: [
      {
        target,
        deletes: [
          { kind: 'delete', target, key: [2n], before: new Map() },
          { kind: 'delete', target, key: [99n], before: new Map() },
        ],
        upserts: [
          up(18446744073709551615n, { name: 'renamed' }, true),
          up(77n, { name: 'was missing' }, true),
        ],
      },
    ],
  });
  await conn.commit();
  assert.deepEqual(r2.stats, { inserted: 1, updated: 1, deleted: 1, missingOnUpdate: 1, missingOnDelete: 1 });
  const res = await conn.execute<Record<string, unknown>>(
    `SELECT TO_CHAR(id) id, name, TO_CHAR(amount) amount, TO_CHAR(created, 'YYYY-MM-DD') created, ` +
      `TO_CHAR(ts, 'YYYY-MM-DD HH24:MI:SS.FF6') ts, TO_CHAR(dur) dur, RAWTOHEX(raw) raw, DBMS_LOB.GETLENGTH(doc) doclen ` +
      `FROM "${table}" ORDER BY id`,
    [],
    { outFormat: oracledb.OUT_FORMAT_OBJECT },
  );
  const rows = res.rows ?? [];
  assert.equal(rows.length, 2);
  const big = rows.find((r) => r.ID === '18446744073709551615')!;
  assert.equal(big.NAME, 'renamed');
  assert.equal(big.AMOUNT, '-1234567890123456789012345678.123456789');
  assert.equal(big.CREATED, '2024-02-29');
  assert.equal(big.TS, '2038-01-19 03:14:07.999999');
  assert.equal(big.RAW, all.toString('hex').toUpperCase());
  assert.equal(big.DOCLEN, 512);
});
