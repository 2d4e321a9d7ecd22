import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type mysql from 'mysql2/promise';
import { catalogFile, DatasourceCatalog } from '../../src/config/datasources';
import { checkSourcePrerequisites, readSourceSettings } from '../../src/connectors/mysql/prerequisites';
import { stopUpdate } from '../../src/workflows/pipeline-contract';
import { type PrivateMysql, startPrivateMysql } from '../helpers/mysql-servers';
import { dumpTableExact, startPipeline, status, waitFor } from '../helpers/pipeline';
import { scratchDir } from '../helpers/processes';
import { connectTo, mysqlSkipReason, testStack, uniqueName, withWorker } from '../helpers/stack';

// MySQL 9 source settings a pipeline must cope with, on a server of the test's own (its global
// settings change here): transaction compression, MINIMAL and NOBLOB row images, MINIMAL row
// metadata, invisible and generated columns, utf8mb4_0900_* collations, the lag heartbeat.
const skip = mysqlSkipReason();

const TABLE = `CREATE TABLE t (
  id INT PRIMARY KEY,
  name VARCHAR(30) CHARACTER SET utf8mb4 COLLATE utf8mb4_0900_as_ci,
  body BLOB,
  hidden INT INVISIBLE,
  doubled INT AS (id * 2) STORED,
  shout VARCHAR(30) AS (UPPER(name)) VIRTUAL,
  doc JSON,
  qty INT
)`;

describe('MySQL 9 source settings', { skip }, () => {
  let server: PrivateMysql;
  let root: mysql.Connection;
  const db = uniqueName('mys');

  before(async () => {
    server = await startPrivateMysql('settings-source', 1);
    root = await server.connect();
    await root.query(`CREATE DATABASE \`${db}\``);
    await root.query(`USE \`${db}\``);
    await root.query(TABLE);
    await root.query(`CREATE USER 'cdc'@'%' IDENTIFIED BY 'cdc-pw'`);
    await root.query(`GRANT REPLICATION SLAVE, REPLICATION CLIENT ON *.* TO 'cdc'@'%'`);
    await root.query(`GRANT SELECT ON \`${db}\`.* TO 'cdc'@'%'`);
    await root.query(`GRANT CREATE, INSERT, UPDATE, SELECT ON otterflow.* TO 'cdc'@'%'`);
  });
  after(async () => {
    await root?.end().catch(() => {});
    await server?.stop();
  });

  test('the prerequisites check names MySQL settings and grants, with fixes that last across restarts', async () => {
    await root.query(`SET PERSIST binlog_row_image = 'MINIMAL'`);
    const cdc = await server.connect({ user: 'cdc', password: 'cdc-pw' });
    try {
      const settings = await readSourceSettings(cdc);
      assert.equal(settings.flavor, 'mysql');
      assert.match(settings.version, /^9\./);
      const failed = checkSourcePrerequisites(settings).filter((c) => !c.ok);
      assert.deepEqual(
        failed.map((c) => c.name),
        ['binlog_row_image'],
      );
      assert.equal(failed[0]?.actual, 'MINIMAL');
      assert.match(failed[0]?.fix ?? '', /SET PERSIST binlog_row_image = 'FULL'/);
    } finally {
      await cdc.end();
      await root.query(`SET PERSIST binlog_row_image = 'FULL'`);
    }
    const noGrants = checkSourcePrerequisites({
      ...(await readSourceSettings(root)),
      grants: ['GRANT USAGE ON *.* TO `x`@`%`'],
    }).filter((c) => !c.ok);
    assert.deepEqual(
      noGrants.map((c) => c.fix),
      ['GRANT REPLICATION SLAVE ON *.* TO <user>', 'GRANT REPLICATION CLIENT ON *.* TO <user>'],
    );
  });

  test('MySQL 9 → MySQL 9 under compression, MINIMAL/NOBLOB images and MINIMAL metadata, with invisible and generated columns', async (t) => {
    const s = testStack();
    const target = await connectTo('mysql-target');
    t.after(async () => {
      await target.query(`DROP DATABASE IF EXISTS \`${db}\``).catch(() => {});
      await target.end();
      await root.query(`SET PERSIST binlog_row_metadata = 'FULL'`).catch(() => {});
    });
    await target.query(`CREATE DATABASE \`${db}\``);
    await target.query(`USE \`${db}\``);
    await target.query(TABLE);
    await root.query(`SET PERSIST binlog_row_metadata = 'MINIMAL'`);

    const home = scratchDir('homes', uniqueName('mysql-settings'));
    const catalog = new DatasourceCatalog(catalogFile(home));
    process.env.OTTERFLOW_TEST_MYSQL_CDC_PASSWORD = 'cdc-pw';
    catalog.put({
      name: 'msrc',
      kind: 'mysql',
      host: '127.0.0.1',
      port: server.port,
      user: 'cdc',
      passwordEnv: 'OTTERFLOW_TEST_MYSQL_CDC_PASSWORD',
    });
    catalog.put({ name: 'mtgt', kind: 'mysql', host: s.host, port: s.mysqlTargetPort, user: 'root' });
    const [[st]] = await root.query<mysql.RowDataPacket[]>('SHOW BINARY LOG STATUS');
    const config = {
      name: uniqueName('mys'),
      source: 'msrc',
      target: 'mtgt',
      mappings: [{ source: { schema: db, table: 't' } }],
      start: { file: String(st!.File), pos: Number(st!.Position) },
    };

    // A writer session of its own: the image and compression settings are per session.
    const w = await server.connect({ database: db });
    t.after(() => w.end());
    await withWorker(
      async ({ client, taskQueue }) => {
        const handle = await startPipeline(client, taskQueue, config, { runSeconds: 5 });
        await w.query(`SET SESSION binlog_transaction_compression = ON`);
        await w.query(
          `INSERT INTO t (id, name, body, hidden, doc, qty) VALUES
             (1, 'ärger', x'00ff', 10, '{"a": [1, 2.5, "s", null, true], "b": {"c": "d"}}', 1),
             (2, 'Straße', REPEAT('b', 60000), 20, '[]', 2),
             (3, 'gone soon', NULL, NULL, NULL, 3)`,
        );
        await w.query(`SET SESSION binlog_row_image = 'MINIMAL'`);
        await w.query(`UPDATE t SET qty = qty + 10 WHERE id IN (1, 2)`);
        await w.query(`UPDATE t SET hidden = 11 WHERE id = 1`);
        await w.query(`DELETE FROM t WHERE id = 3`);
        await w.query(`SET SESSION binlog_row_image = 'NOBLOB'`);
        await w.query(`UPDATE t SET name = 'größer' WHERE id = 2`);
        await w.query(
          `INSERT INTO t (id, name, body, hidden, doc, qty) VALUES (4, 'noblob', x'0102', 40, '{"k": 1}', 4)`,
        );
        await w.query(`SET SESSION binlog_transaction_compression = OFF`);
        await w.query(`SET SESSION binlog_row_image = 'FULL'`);
        await w.query(`UPDATE t SET body = x'abcd', doc = JSON_SET(doc, '$.k', 2) WHERE id = 4`);

        const compare = async () => {
          const cols = 'id, name, body, hidden, doubled, shout, doc, qty';
          const [a] = await root.query<mysql.RowDataPacket[]>(`SELECT ${cols} FROM \`${db}\`.t ORDER BY id`);
          const [b] = await target.query<mysql.RowDataPacket[]>(
            `SELECT ${cols} FROM \`${db}\`.t ORDER BY id`,
          );
          return JSON.stringify(a) === JSON.stringify(b) ? true : undefined;
        };
        await waitFor(
          'the target table to equal the source, invisible column included',
          compare,
          90_000,
          async () => JSON.stringify({ status: await status(handle) }),
        );
        // Rows of 120 KB of hex text: more than MySQL's default sort buffer holds.
        for (const c of [target, root]) await c.query('SET SESSION sort_buffer_size = 16777216');
        assert.deepEqual(
          await dumpTableExact(target, db, 't', 'id'),
          await dumpTableExact(root, db, 't', 'id'),
        );

        // The lag heartbeat works for a user with write grants on the otterflow schema only.
        const lag = await waitFor('a lag figure from the source heartbeat', async () => {
          const st2 = await status(handle);
          return typeof st2.lagMs === 'number' ? st2.lagMs : undefined;
        });
        assert.ok(lag >= 0);
        await handle.executeUpdate(stopUpdate);
        await handle.result();
      },
      { home },
    );
  });
});
