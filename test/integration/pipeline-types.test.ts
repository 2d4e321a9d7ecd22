import assert from 'node:assert/strict';
import { test } from 'node:test';
import { stopUpdate } from '../../src/workflows/pipeline-contract';
import { COLUMNS, DEC_MAX, insertSql, ROWS, updateSql } from '../helpers/every-type-table';
import {
  dumpTableExact,
  samePipelineConfig,
  startPipeline,
  status,
  waitForExactTables,
} from '../helpers/pipeline';
import { freshDatabases, withWorker } from '../helpers/stack';

// Every MariaDB column type with its edge values goes through a real pipeline (binlog → decoder →
// mapper → merger → applier) and must arrive byte for byte: text by its stored bytes, TIMESTAMP by
// its epoch value, ENUM/SET by index and label, geometry by SRID + WKB.

test('every column type and edge value round-trips through a pipeline (insert, update, delete)', async (t) => {
  const db = await freshDatabases(t, 'ptypes');
  await db.source.query(`CREATE TABLE all_types (${COLUMNS}) DEFAULT CHARSET=utf8mb4`);
  await db.target.query(`CREATE TABLE all_types (${COLUMNS}) DEFAULT CHARSET=utf8mb4`);
  // A key made of awkward types: updates and deletes must find these rows by exact key.
  const keyed = `CREATE TABLE keyed (biu BIGINT UNSIGNED, vb VARBINARY(16), dtm DATETIME(6), c VARCHAR(20) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin, n INT, PRIMARY KEY (biu, vb, dtm, c))`;
  await db.source.query(keyed);
  await db.target.query(keyed);
  const config = await samePipelineConfig(db.source, db.name);
  // Zero dates and the like are written the way a lax application would.
  await db.source.query(`SET SESSION sql_mode = ''`);

  await withWorker(async ({ client, taskQueue }) => {
    const handle = await startPipeline(client, taskQueue, config);
    for (const [id, values] of Object.entries(ROWS)) await db.source.query(insertSql(Number(id), values));
    await db.source.query(insertSql(6, ROWS[5]!));
    await db.source.query(
      `INSERT INTO keyed VALUES (18446744073709551615, X'00ff', '9999-12-31 23:59:59.999999', '🦦', 1),
        (0, '', '0000-00-00 00:00:00', '', 2), (1, X'00', '2024-01-01 00:00:00.000001', 'A', 3),
        (1, X'00', '2024-01-01 00:00:00.000001', 'a', 4), (1, X'0000', '2024-01-01 00:00:00', 'a ', 5)`,
    );
    const afterInsert = await waitForExactTables(db.source, db.target, db.name, 'all_types', handle);
    assert.equal(afterInsert.length, 6);

    // Updates in every direction: min → max, max → NULL, NULL → zero, zero → typical, typical → min.
    await db.source.query(updateSql(1, ROWS[2]!));
    await db.source.query(updateSql(2, ROWS[4]!));
    await db.source.query(updateSql(4, ROWS[3]!));
    await db.source.query(updateSql(3, ROWS[5]!));
    await db.source.query(updateSql(5, ROWS[1]!));
    await db.source.query('DELETE FROM all_types WHERE id = 6');
    // A key change to the maximum and back through a multi-row transaction.
    await db.source.query(
      'START TRANSACTION; UPDATE all_types SET id = 2147483647 WHERE id = 5; UPDATE all_types SET id = -2147483648 WHERE id = 1; COMMIT',
    );
    await db.source.query(`UPDATE keyed SET n = n + 10 WHERE c = 'a'`); // exact key: 'a' only, not 'A' or 'a '
    await db.source.query(`UPDATE keyed SET vb = X'ff00ff', n = 99 WHERE biu = 18446744073709551615`);
    await db.source.query(`DELETE FROM keyed WHERE biu = 0`);

    const rows = await waitForExactTables(db.source, db.target, db.name, 'all_types', handle);
    assert.deepEqual(
      rows.map((r) => Number(r.split('|')[0])).sort((a, b) => a - b),
      [-2147483648, 2, 3, 4, 2147483647],
    );
    const keyedRows = await waitForExactTables(db.source, db.target, db.name, 'keyed', handle);
    assert.equal(keyedRows.length, 4);
    const [nums] = await db.target.query('SELECT n FROM keyed ORDER BY n');
    assert.deepEqual(
      (nums as Array<{ n: number }>).map((r) => r.n),
      [3, 14, 15, 99],
    );

    // Spot checks against literal expectations: equal-but-both-wrong would otherwise pass.
    const [spot] = await db.target.query(
      `SELECT CAST(biu AS CHAR) AS biu, CAST(d AS CHAR) AS d, HEX(b64) AS b64, CAST(tm AS CHAR) AS tm,
              CAST(dt AS CHAR) AS dt, CAST(y AS CHAR) AS y, e, st, CAST(u AS CHAR) AS u, CAST(i6 AS CHAR) AS i6,
              CAST(ST_SRID(pt) AS CHAR) AS srid, ST_AsText(pt) AS ptxt, CAST(LENGTH(lb) AS CHAR) AS lbl, CAST(CHAR_LENGTH(tx) AS CHAR) AS txl, JSON_VALUE(j, '$.big') AS big
         FROM all_types WHERE id = -2147483648`,
    );
    assert.deepEqual((spot as unknown[])[0], {
      biu: '18446744073709551615',
      d: DEC_MAX,
      b64: 'FFFFFFFFFFFFFFFF',
      tm: '838:59:59.000000',
      dt: '9999-12-31',
      y: '2155',
      e: '',
      st: `a,b'c,d"e,f`,
      u: 'ffffffff-ffff-ffff-ffff-ffffffffffff',
      i6: 'ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff',
      srid: '4326',
      ptxt: 'POINT(180 90)',
      lbl: '10240000',
      txl: '20000',
      big: '18446744073709551616123',
    });
    const [zero] = await db.target.query(
      `SELECT CAST(dt AS CHAR) AS dt, CAST(dtm AS CHAR) AS dtm, CAST(ts AS CHAR) AS ts, CAST(y AS CHAR) AS y, CAST(tm AS CHAR) AS tm FROM all_types WHERE id = 4`,
    );
    assert.deepEqual((zero as unknown[])[0], {
      dt: '0000-00-00',
      dtm: '0000-00-00 00:00:00.000000',
      ts: '0000-00-00 00:00:00.000000',
      y: '0000',
      tm: '00:00:00.000000',
    });
    const [neg] = await db.target.query(
      `SELECT CAST(tm AS CHAR) AS tm, CAST(d AS CHAR) AS d, HEX(bl) AS bl FROM all_types WHERE id = 2147483647`,
    );
    assert.deepEqual((neg as unknown[])[0], {
      tm: '-838:59:59.000000',
      d: `-${DEC_MAX}`,
      bl: '',
    });

    const st = await status(handle);
    assert.equal(st.state, 'running', JSON.stringify(st));
    assert.equal(st.lastError, undefined);
    await handle.executeUpdate(stopUpdate);
    const final = await handle.result();
    assert.equal(final.counters.missingOnUpdate, 0, JSON.stringify(final.counters));
    assert.equal(final.counters.missingOnDelete, 0, JSON.stringify(final.counters));
  });
});

test('TIMESTAMPs written in a +05:30 source session do not shift (otter complaint 11)', async (t) => {
  const db = await freshDatabases(t, 'ptz');
  const ddl = `CREATE TABLE events (id INT PRIMARY KEY, ts TIMESTAMP(6) NULL, ts0 TIMESTAMP NULL, dtm DATETIME(6))`;
  await db.source.query(ddl);
  await db.target.query(ddl);
  const config = await samePipelineConfig(db.source, db.name);

  await withWorker(async ({ client, taskQueue }) => {
    const handle = await startPipeline(client, taskQueue, config);
    await db.source.query(`SET time_zone = '+05:30'`);
    await db.source.query(
      `INSERT INTO events VALUES (1, '2024-01-01 12:00:00.250000', '2024-01-01 05:29:59', '2024-01-01 12:00:00.250000'),
        (2, '2024-07-01 00:00:00', '1970-01-01 05:30:01', '2024-07-01 00:00:00'),
        (3, '2038-01-19 08:44:07.999999', '2038-01-19 08:44:07', '2038-01-19 08:44:07.999999')`,
    );
    await db.source.query(`UPDATE events SET ts = '2024-03-31 02:30:00.5' WHERE id = 2`);
    await waitForExactTables(db.source, db.target, db.name, 'events', handle);

    // The instant is the same whatever session reads it: check the epoch seconds literally.
    const [epochs] = await db.target.query(
      'SELECT id, CAST(UNIX_TIMESTAMP(ts) AS CHAR) AS ts, CAST(UNIX_TIMESTAMP(ts0) AS CHAR) AS ts0, CAST(dtm AS CHAR) AS dtm FROM events ORDER BY id',
    );
    assert.deepEqual(epochs, [
      { id: 1, ts: '1704090600.250000', ts0: '1704067199', dtm: '2024-01-01 12:00:00.250000' },
      { id: 2, ts: '1711832400.500000', ts0: '1', dtm: '2024-07-01 00:00:00.000000' },
      { id: 3, ts: '2147483647.999999', ts0: '2147483647', dtm: '2038-01-19 08:44:07.999999' },
    ]);
    // Read back in the writer's zone, the target shows what the writer wrote.
    await db.target.query(`SET time_zone = '+05:30'`);
    const [local] = await db.target.query(`SELECT CAST(ts AS CHAR) AS ts FROM events WHERE id = 1`);
    assert.deepEqual(local, [{ ts: '2024-01-01 12:00:00.250000' }]);
    await handle.executeUpdate(stopUpdate);
  });
});

test('dumpTableExact tells apart values that look alike as text', async (t) => {
  // Guards the comparison itself: a latin1 'é' and a utf8mb4 'é' look the same through CAST but not HEX.
  const db = await freshDatabases(t, 'pdump');
  await db.source.query(
    `CREATE TABLE a (id INT PRIMARY KEY, v VARCHAR(5) CHARACTER SET latin1); CREATE TABLE b (id INT PRIMARY KEY, v VARCHAR(5) CHARACTER SET utf8mb4)`,
  );
  await db.source.query(`INSERT INTO a VALUES (1, 'é'); INSERT INTO b VALUES (1, 'é')`);
  const [a, b] = [
    await dumpTableExact(db.source, db.name, 'a'),
    await dumpTableExact(db.source, db.name, 'b'),
  ];
  assert.notDeepEqual(a, b);
});
