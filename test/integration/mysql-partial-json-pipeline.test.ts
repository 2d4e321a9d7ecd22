/**
 * A MySQL 9 → MySQL 9 pipeline with binlog_row_value_options=PARTIAL_JSON on the source: JSON_SET /
 * JSON_REPLACE / JSON_REMOVE updates of a mapped table arrive as diffs and are applied (the target
 * ends byte-equal to the source), and partial updates with binlog_row_image=MINIMAL on a table no
 * mapping selects — which cannot be decoded at all — do not stop the pipeline.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type mysql from 'mysql2/promise';
import { catalogFile, DatasourceCatalog } from '../../src/config/datasources';
import { stopUpdate } from '../../src/workflows/pipeline-contract';
import { type PrivateMysql, startPrivateMysql } from '../helpers/mysql-servers';
import { dumpTableExact, startPipeline, status, waitFor } from '../helpers/pipeline';
import { scratchDir } from '../helpers/processes';
import { connectTo, mysqlSkipReason, testStack, uniqueName, withWorker } from '../helpers/stack';

const skip = mysqlSkipReason();

const TABLE = 'CREATE TABLE t (id INT PRIMARY KEY, doc JSON, n INT)';
const DOC = `'{"a": [1, 2, 3, {"x": "y"}], "b": "hello world, long enough", "c": {"d": 1, "e": [true, false]}, "n": 18446744073709551615, "f": 1.5}'`;

describe('MySQL 9 source with partial JSON updates', { skip }, () => {
  let server: PrivateMysql;
  let root: mysql.Connection;
  const db = uniqueName('mpj');

  before(async () => {
    server = await startPrivateMysql('partial-json-source', 5);
    root = await server.connect();
    await root.query(
      `CREATE DATABASE \`${db}\`; USE \`${db}\`; ${TABLE}; CREATE TABLE unmapped (id INT PRIMARY KEY, doc JSON)`,
    );
    await root.query(`INSERT INTO unmapped VALUES (1, ${DOC})`);
  });
  after(async () => {
    await root?.end().catch(() => {});
    await server?.stop();
  });

  test('diffs of a mapped table are applied; those of an unmapped table (MINIMAL image) do not stop the pipeline', async (t) => {
    const s = testStack();
    const target = await connectTo('mysql-target');
    t.after(async () => {
      await target.query(`DROP DATABASE IF EXISTS \`${db}\``).catch(() => {});
      await target.end();
    });
    await target.query(`CREATE DATABASE \`${db}\`; USE \`${db}\`; ${TABLE}`);
    const home = scratchDir('homes', uniqueName('mysql-pj'));
    const catalog = new DatasourceCatalog(catalogFile(home));
    catalog.put({ name: 'msrc', kind: 'mysql', host: '127.0.0.1', port: server.port, user: 'root' });
    catalog.put({ name: 'mtgt', kind: 'mysql', host: s.host, port: s.mysqlTargetPort, user: 'root' });
    const [[st]] = await root.query<mysql.RowDataPacket[]>('SHOW BINARY LOG STATUS');
    const config = {
      name: uniqueName('mpj'),
      source: 'msrc',
      target: 'mtgt',
      mappings: [{ source: { schema: db, table: 't' } }],
      start: { file: String(st!.File), pos: Number(st!.Position) },
    };
    const w = await server.connect({ database: db });
    t.after(() => w.end());
    await withWorker(
      async ({ client, taskQueue }) => {
        const handle = await startPipeline(client, taskQueue, config, { runSeconds: 5 });
        await w.query(`INSERT INTO t VALUES (1, ${DOC}, 0), (2, ${DOC}, 0), (3, '[1]', 0)`);
        await w.query(`SET SESSION binlog_row_value_options = 'PARTIAL_JSON'`);
        await w.query(
          `UPDATE t SET doc = JSON_SET(doc, '$.a[0]', 5, '$.c.new', JSON_OBJECT('k', CAST('2024-01-02' AS DATE))) WHERE id = 1`,
        );
        await w.query(
          `UPDATE t SET doc = JSON_REPLACE(doc, '$.b', 'hi', '$.f', 2.25e0), n = n + 1 WHERE id IN (1, 2)`,
        );
        await w.query(`UPDATE t SET doc = JSON_REMOVE(doc, '$.c.d', '$.a[1]') WHERE id = 2`);
        await w.query(`UPDATE t SET doc = JSON_SET(doc, '$[5]', 'appended') WHERE id = 3`);
        // Not mapped, and not decodable: MINIMAL leaves the before value out of the binlog.
        await w.query(`SET SESSION binlog_row_image = 'MINIMAL'`);
        await w.query(`UPDATE unmapped SET doc = JSON_REPLACE(doc, '$.b', 'x') WHERE id = 1`);
        await w.query(`SET SESSION binlog_row_image = 'FULL'`);
        await w.query(`UPDATE t SET doc = JSON_SET(doc, '$.last', TRUE), n = 9 WHERE id = 1`);

        const compare = async () => {
          const [a] = await root.query<mysql.RowDataPacket[]>(
            `SELECT id, CAST(doc AS CHAR) d, n FROM \`${db}\`.t ORDER BY id`,
          );
          const [b] = await target.query<mysql.RowDataPacket[]>(
            `SELECT id, CAST(doc AS CHAR) d, n FROM \`${db}\`.t ORDER BY id`,
          );
          return JSON.stringify(a) === JSON.stringify(b) ? true : undefined;
        };
        await waitFor('the target table to equal the source', compare, 90_000, async () =>
          JSON.stringify({ status: await status(handle) }),
        );
        assert.deepEqual(
          await dumpTableExact(target, db, 't', 'id'),
          await dumpTableExact(root, db, 't', 'id'),
        );
        const st2 = await status(handle);
        assert.equal(st2.state, 'running');
        await handle.executeUpdate(stopUpdate);
        await handle.result();
      },
      { home },
    );
  });
});
