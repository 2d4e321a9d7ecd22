import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import mysql from 'mysql2/promise';
import { readServerBinlogState } from '../../src/binlog/replica/server-state';
import { catalogFile, DatasourceCatalog } from '../../src/config/datasources';
import { projectRoot } from '../../src/config/stack';
import { instanceRecord, type MariaDbInstanceSpec, startMariaDb } from '../../src/devstack/mariadb';
import { isOurProcessAlive, stopProcess } from '../../src/devstack/processes';
import { findMariaDb } from '../../src/devstack/tools';
import { stopUpdate } from '../../src/workflows/pipeline-contract';
import { countKinds, loggedRows, metricOf, rowsOf, sleep } from '../helpers/bidi';
import { startPipeline, waitFor } from '../helpers/pipeline';
import { privatePort } from '../helpers/ports';
import { freshDatabases, testStack, uniqueName, withWorker } from '../helpers/stack';

// A ↔ B ↔ C: A and B are the test stack's source and target; C is a private MariaDB of this test
// (port base+410 of test/helpers/ports.ts, files under .otterflow/scratch/bidi/). Channel 1 pairs A and B, channel 2 pairs B and C.
// A row written on A travels A → B → C and never comes back; a row written on C reaches A the same way.

const C_PORT = privatePort(410);

function scratch(...parts: string[]): string {
  const dir = path.join(projectRoot, '.otterflow', 'scratch', 'bidi', ...parts);
  fs.mkdirSync(dir, { recursive: true });
  return dir;
}

test('cascade A↔B↔C: rows reach the far site once and never come back', async (t) => {
  const tools = findMariaDb();
  assert.ok(tools, 'mariadbd is installed');
  const dir = scratch('mariadb-c');
  const spec: MariaDbInstanceSpec = {
    name: 'bidi-c',
    host: '127.0.0.1',
    port: C_PORT,
    serverId: C_PORT,
    dir,
    runDir: path.join(dir, 'run'),
  };
  await startMariaDb(spec, tools);
  t.after(async () => {
    const rec = instanceRecord(spec);
    if (rec && isOurProcessAlive(rec)) await stopProcess(rec, 60_000);
  });

  const db = await freshDatabases(t, 'bidicas');
  const C = await mysql.createConnection({
    host: spec.host,
    port: C_PORT,
    user: 'root',
    supportBigNumbers: true,
    bigNumberStrings: true,
    multipleStatements: true,
  });
  t.after(async () => {
    await C.query(`DROP DATABASE IF EXISTS \`${db.name}\``).catch(() => {});
    await C.end();
  });
  await C.query(`CREATE DATABASE \`${db.name}\``);
  const ddl = (schema: string) =>
    `CREATE TABLE \`${schema}\`.items (id INT PRIMARY KEY, v VARCHAR(50), ts BIGINT)`;
  for (const conn of [db.source, db.target, C]) await conn.query(ddl(db.name));

  const s = testStack();
  const home = scratch('homes', uniqueName('home'));
  const catalog = new DatasourceCatalog(catalogFile(home));
  catalog.put({ name: 'site_a', kind: 'mariadb', host: s.host, port: s.sourcePort, user: 'root' });
  catalog.put({ name: 'site_b', kind: 'mariadb', host: s.host, port: s.targetPort, user: 'root' });
  catalog.put({ name: 'site_c', kind: 'mariadb', host: spec.host, port: C_PORT, user: 'root' });
  t.after(() => fs.rmSync(home, { recursive: true, force: true }));

  const at = {
    site_a: await readServerBinlogState(db.source),
    site_b: await readServerBinlogState(db.target),
    site_c: await readServerBinlogState(C),
  };
  const ch1 = uniqueName('ab');
  const ch2 = uniqueName('bc');
  const names = { ab: uniqueName('ab'), ba: uniqueName('ba'), bc: uniqueName('bc'), cb: uniqueName('cb') };
  const plan: Array<[string, keyof typeof at, keyof typeof at, string]> = [
    [names.ab, 'site_a', 'site_b', ch1],
    [names.ba, 'site_b', 'site_a', ch1],
    [names.bc, 'site_b', 'site_c', ch2],
    [names.cb, 'site_c', 'site_b', ch2],
  ];

  await withWorker(
    async ({ client, taskQueue }) => {
      const handles = [];
      for (const [name, source, target, channel] of plan) {
        handles.push(
          await startPipeline(
            client,
            taskQueue,
            {
              name,
              source,
              target,
              mappings: [{ source: { schema: db.name, table: 'items' } }],
              start: { file: at[source].file, pos: at[source].pos },
              options: { channel: { id: channel } },
            },
            { runSeconds: 4 },
          ),
        );
      }
      try {
        const everywhere = async (want: string[]) =>
          waitFor(`${JSON.stringify(want)} on A, B and C`, async () => {
            const all = await Promise.all([db.source, db.target, C].map((c) => rowsOf(c, db.name)));
            return all.every((r) => JSON.stringify(r) === JSON.stringify(want));
          });
        await db.source.query(`INSERT INTO items VALUES (1, 'from A', 1)`);
        await everywhere(['1:from A:1']);
        await C.query(`INSERT INTO \`${db.name}\`.items VALUES (2, 'from C', 2)`);
        await everywhere(['1:from A:1', '2:from C:2']);
        await C.query(`UPDATE \`${db.name}\`.items SET v = 'changed on C' WHERE id = 1`);
        await everywhere(['1:changed on C:1', '2:from C:2']);

        const applied = async () => {
          const out: Record<string, number> = {};
          for (const [k, n] of Object.entries(names))
            out[k] = await metricOf('otterflow_rows_applied_total', n);
          return out;
        };
        const now = await applied();
        // A's row: ab, bc once each. C's insert and update: cb and ba twice each. Nothing else.
        assert.deepEqual(now, { ab: 1, ba: 2, bc: 1, cb: 2 });
        await sleep(9000);
        assert.deepEqual(await applied(), now, 'nothing applied while all sites are idle');

        // A's binlog: its own insert, C's insert and C's update — once each, no echo of row 1.
        const onA = await loggedRows(s.sourcePort, at.site_a, db.name, 'items');
        assert.deepEqual(countKinds(onA), { insert: 2, update: 1, delete: 0 });
        assert.equal(onA.filter((r) => r.kind === 'insert' && r.after?.get(0)?.text === '1').length, 1);
        // B carries both directions of both channels: still each change once.
        assert.deepEqual(countKinds(await loggedRows(s.targetPort, at.site_b, db.name, 'items')), {
          insert: 2,
          update: 1,
          delete: 0,
        });
        // C: A's row arrived once; C's own writes once.
        assert.deepEqual(countKinds(await loggedRows(C_PORT, at.site_c, db.name, 'items')), {
          insert: 2,
          update: 1,
          delete: 0,
        });
      } finally {
        await Promise.all(handles.map((h) => h.executeUpdate(stopUpdate)));
      }
    },
    { home },
  );
});
