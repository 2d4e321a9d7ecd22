import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type mysql from 'mysql2/promise';
import { catalogFile, type Datasource, DatasourceCatalog } from '../../src/config/datasources';
import { dropCheckpoint } from '../../src/connectors/mysql/checkpoint-source';
import { stopUpdate } from '../../src/workflows/pipeline-contract';
import { type PrivateMysql, startPrivateMysql } from '../helpers/mysql-servers';
import { dumpTable, startPipeline, status, waitFor } from '../helpers/pipeline';
import { scratchDir } from '../helpers/processes';
import { connectTo, mysqlSkipReason, testStack, uniqueName, withWorker } from '../helpers/stack';

// A pipeline from a MySQL 9 server of the test's own (so it may be restarted) into the stack's
// MariaDB and MySQL targets, read by a user that holds only the documented replication grants and
// authenticates with caching_sha2_password.
const skip = mysqlSkipReason();
const REPL_USER = 'otter_repl';
const REPL_PASSWORD = 'Repl-pw-9!';
process.env.OTTERFLOW_TEST_MYSQL_REPL_PASSWORD = REPL_PASSWORD;

/** SQL that creates the source tables: keyed, key-less (a repeated row shows as a duplicate), 0900 collation. */
const SOURCE_DDL = [
  `CREATE TABLE orders (id INT PRIMARY KEY, note VARCHAR(40) CHARACTER SET utf8mb4 COLLATE utf8mb4_0900_ai_ci, qty INT)`,
  `CREATE TABLE events (seq INT NOT NULL, what VARCHAR(40) CHARACTER SET utf8mb4 COLLATE utf8mb4_0900_as_cs)`,
];
/** The same tables where the target is MariaDB 10.11, which has no utf8mb4_0900_* collations. */
const MARIADB_DDL = [
  `CREATE TABLE orders (id INT PRIMARY KEY, note VARCHAR(40) CHARACTER SET utf8mb4, qty INT)`,
  `CREATE TABLE events (seq INT NOT NULL, what VARCHAR(40) CHARACTER SET utf8mb4)`,
];

/** A user that can connect only over TLS: a pipeline reading as it proves the connections are encrypted. */
const TLS_USER = 'otter_tls';

function replicationGrants(db: string): string[] {
  return [REPL_USER, TLS_USER].flatMap((user) => [
    `CREATE USER '${user}'@'%' IDENTIFIED WITH caching_sha2_password BY '${REPL_PASSWORD}'${user === TLS_USER ? ' REQUIRE SSL' : ''}`,
    `GRANT REPLICATION SLAVE, REPLICATION CLIENT ON *.* TO '${user}'@'%'`,
    `GRANT SELECT ON \`${db}\`.* TO '${user}'@'%'`,
    `GRANT CREATE, INSERT, UPDATE, SELECT ON otterflow.* TO '${user}'@'%'`,
  ]);
}

describe('MySQL 9 as a live source', { skip }, () => {
  let server: PrivateMysql;
  let src: mysql.Connection;
  const db = uniqueName('my');
  let seq = 0;

  before(async () => {
    server = await startPrivateMysql('live-source', 0);
    src = await server.connect();
    await src.query(`CREATE DATABASE \`${db}\``);
    await src.query(`USE \`${db}\``);
    for (const ddl of SOURCE_DDL) await src.query(ddl);
    for (const g of replicationGrants(db)) await src.query(g);
  });
  after(async () => {
    await src?.end().catch(() => {});
    await server?.stop();
  });

  /** One untagged or tagged transaction: an order upserted and an event appended. */
  async function write(tag?: string): Promise<void> {
    seq++;
    if (tag) await src.query(`SET gtid_next = 'AUTOMATIC:${tag}'`);
    await src.query(
      `START TRANSACTION; INSERT INTO orders VALUES (${seq % 7}, 'n${seq} ß ﬁ', ${seq}) ON DUPLICATE KEY UPDATE note = VALUES(note), qty = qty + ${seq}; INSERT INTO events VALUES (${seq}, 'e${seq}${tag ? ` ${tag}` : ''}'); COMMIT`,
    );
    if (tag) await src.query(`SET gtid_next = 'AUTOMATIC'`);
  }

  async function sourceGtidSet(): Promise<string> {
    const [rows] = await src.query<mysql.RowDataPacket[]>('SELECT @@GLOBAL.gtid_executed AS g');
    return String(rows[0]!.g).replace(/\s+/g, '');
  }

  function home(tls: boolean, extra: Datasource[]): string {
    const h = scratchDir('homes', uniqueName('mysql-live'));
    const catalog = new DatasourceCatalog(catalogFile(h));
    catalog.put({
      name: 'msrc',
      kind: 'mysql',
      host: '127.0.0.1',
      port: server.port,
      user: tls ? TLS_USER : REPL_USER,
      passwordEnv: 'OTTERFLOW_TEST_MYSQL_REPL_PASSWORD',
      ...(tls ? { tls: 'required' as const } : {}),
    });
    for (const ds of extra) catalog.put(ds);
    return h;
  }

  async function expectEqual(target: mysql.Connection): Promise<void> {
    for (const table of ['orders', 'events']) {
      const order = table === 'events' ? 'seq, what' : 'id';
      await waitFor(
        `${db}.${table} equal on source and target`,
        async () => {
          const [s, t] = await Promise.all([
            dumpTable(src, db, table, order),
            dumpTable(target, db, table, order),
          ]);
          return s.length === t.length && s.every((r, i) => r === t[i]);
        },
        90_000,
        async () =>
          `source ${JSON.stringify(await dumpTable(src, db, table, order))} target ${JSON.stringify(await dumpTable(target, db, table, order))}`,
      );
    }
  }

  // MySQL → MariaDB reads over plain TCP (caching_sha2_password with the server's RSA key), MySQL →
  // MySQL over TLS as a user that the server admits only with TLS.
  for (const [flavour, tls] of [
    ['mariadb', false],
    ['mysql', true],
  ] as const) {
    test(`MySQL 9 → ${flavour === 'mariadb' ? 'MariaDB' : 'MySQL 9'} (${tls ? 'TLS' : 'no TLS, RSA key exchange'}): tagged and untagged GTIDs, FLUSH BINARY LOGS, a server restart and a pipeline restart lose and repeat nothing`, async (t) => {
      const s = testStack();
      const targetName = flavour === 'mariadb' ? 'target' : 'mysql-target';
      const target = await connectTo(targetName);
      t.after(async () => {
        await target.query(`DROP DATABASE IF EXISTS \`${db}\``).catch(() => {});
        await target.end();
      });
      await target.query(`DROP DATABASE IF EXISTS \`${db}\``);
      await target.query(`CREATE DATABASE \`${db}\``);
      await target.query(`USE \`${db}\``);
      for (const ddl of flavour === 'mariadb' ? MARIADB_DDL : SOURCE_DDL) await target.query(ddl);
      // A tagged GTID already in the start set: the dump request carries a tagged set. The target
      // starts with what the source holds at that set.
      await write('before_start');
      for (const table of ['orders', 'events']) {
        const [rows] = await src.query<mysql.RowDataPacket[]>(`SELECT * FROM \`${table}\``);
        for (const r of rows) await target.query(`INSERT INTO \`${table}\` VALUES (?)`, [Object.values(r)]);
      }
      const startSet = await sourceGtidSet();
      assert.match(startSet, /:before_start:/);

      const targetDs: Datasource = {
        name: targetName,
        kind: flavour,
        host: s.host,
        port: flavour === 'mariadb' ? s.targetPort : s.mysqlTargetPort,
        user: 'root',
      };
      const config = {
        name: uniqueName('myp'),
        source: 'msrc',
        target: targetName,
        mappings: [{ source: { schema: db, table: '/.*/' } }],
        start: { gtid: startSet },
      };
      await withWorker(
        async ({ client, taskQueue }) => {
          let handle = await startPipeline(client, taskQueue, config, { runSeconds: 5 });
          for (let i = 0; i < 5; i++) await write(i % 2 ? 'otter_tag' : undefined);
          await expectEqual(target);

          // A new binlog file: its PREVIOUS_GTIDS now lists tagged sets.
          await src.query('FLUSH BINARY LOGS');
          for (let i = 0; i < 5; i++) await write(i % 2 ? undefined : 'second_tag');
          await expectEqual(target);

          // The source restarts (graceful stop: the dump connection ends, the pipeline reconnects).
          await src.end();
          await server.restart();
          src = await server.connect({ database: db });
          for (let i = 0; i < 5; i++) await write(i % 3 ? undefined : 'otter_tag');
          await expectEqual(target);

          // The pipeline stops and is started again: it resumes from its checkpoint on the target.
          const stopped = await handle.executeUpdate(stopUpdate);
          assert.equal(stopped.state, 'stopped');
          await handle.result();
          for (let i = 0; i < 5; i++) await write(i % 2 ? 'otter_tag' : undefined);
          handle = await startPipeline(client, taskQueue, config, { runSeconds: 5 });
          await expectEqual(target);

          // The checkpoint (and so the status) carries the tagged GTIDs.
          const position = await waitFor(
            'a status position with the tagged GTIDs',
            async () => {
              const st = await status(handle);
              return st.position?.gtid?.includes(':otter_tag:') ? st.position : undefined;
            },
            60_000,
          );
          assert.match(position.gtid ?? '', /:second_tag:\d/);
          const [[cp]] = await target.query<mysql.RowDataPacket[]>(
            'SELECT gtid FROM otterflow.checkpoints WHERE pipeline = ?',
            [config.name],
          );
          assert.match(String(cp?.gtid), /:otter_tag:\d+(-\d+)?/);
          await handle.executeUpdate(stopUpdate);
          await handle.result();
        },
        { home: home(tls, [targetDs]) },
      );
    });
  }

  test('a checkpoint written from another MySQL server (same pipeline name, re-initialised source) stops the pipeline with what to do', async (t) => {
    const s = testStack();
    const target = await connectTo('target');
    t.after(async () => {
      await target.query(`DROP DATABASE IF EXISTS \`${db}\``).catch(() => {});
      await target.end();
    });
    await target.query(`DROP DATABASE IF EXISTS \`${db}\``);
    await target.query(`CREATE DATABASE \`${db}\``);
    await target.query(`USE \`${db}\``);
    for (const ddl of MARIADB_DDL) await target.query(ddl);
    const targetDs: Datasource = {
      name: 'target',
      kind: 'mariadb',
      host: s.host,
      port: s.targetPort,
      user: 'root',
    };
    const name = uniqueName('myid');
    const configFor = async () => ({
      name,
      source: 'msrc',
      target: 'target',
      mappings: [{ source: { schema: db, table: 'orders' } }],
      start: { gtid: await sourceGtidSet() },
    });
    await withWorker(
      async ({ client, taskQueue }) => {
        const first = await startPipeline(client, taskQueue, await configFor(), { runSeconds: 5 });
        await waitFor('the first run to record its checkpoint', async () => {
          const [rows] = await target.query<mysql.RowDataPacket[]>(
            'SELECT source_identity FROM otterflow.checkpoint_sources WHERE pipeline = ?',
            [name],
          );
          return rows.length === 1 ? true : undefined;
        });
        await first.executeUpdate(stopUpdate);
        await first.result();

        // The source is re-initialised: same host and port, a new server_uuid, GTIDs from 1 again.
        await src.end();
        await server.stop();
        server = await startPrivateMysql('live-source', 0);
        src = await server.connect();
        await src.query(`CREATE DATABASE \`${db}\``);
        await src.query(`USE \`${db}\``);
        for (const ddl of SOURCE_DDL) await src.query(ddl);
        for (const g of replicationGrants(db)) await src.query(g);

        const second = await startPipeline(client, taskQueue, await configFor(), { runSeconds: 5 });
        const failed = await waitFor('the pipeline to stop on the foreign checkpoint', async () => {
          const st = await status(second);
          return st.state === 'failed' ? st : undefined;
        });
        assert.match(
          failed.lastError?.message ?? '',
          /another source server \(mysql server_uuid=[0-9a-f-]+\)/,
        );
        assert.match(failed.lastError?.message ?? '', /--drop-checkpoint/);
        assert.equal(failed.lastError?.retryable, false);
        await second.terminate().catch(() => {});

        // Deleting the checkpoint (what `pipeline delete --drop-checkpoint` does) lets it start over.
        assert.equal(await dropCheckpoint(target, name), true);
        const third = await startPipeline(client, taskQueue, await configFor(), { runSeconds: 5 });
        await src.query(`INSERT INTO orders VALUES (100, 'after re-init', 1)`);
        await waitFor("the new server's row on the target", async () => {
          const [rows] = await target.query<mysql.RowDataPacket[]>('SELECT note FROM orders WHERE id = 100');
          return rows[0]?.note === 'after re-init' ? true : undefined;
        });
        await third.executeUpdate(stopUpdate);
      },
      { home: home(false, [targetDs]) },
    );
  });
});
