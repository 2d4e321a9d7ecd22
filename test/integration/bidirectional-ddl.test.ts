import assert from 'node:assert/strict';
import { test } from 'node:test';
import type mysql from 'mysql2/promise';
import { readServerBinlogState } from '../../src/binlog/replica/server-state';
import { analyzeDdl } from '../../src/pipeline/ddl';
import { ddlMarksOf } from '../../src/replication/channel';
import { stopUpdate } from '../../src/workflows/pipeline-contract';
import { loggedDdl, metricOf, sleep } from '../helpers/bidi';
import { startPipeline, status, waitFor } from '../helpers/pipeline';
import { freshDatabases, uniqueName, withWorker } from '../helpers/stack';

// Sites A and B are the test stack's "source" (23306) and "target" (23307). Pipelines ab (A → B) and
// ba (B → A) share a channel and BOTH apply DDL: each DDL must reach the other site once and stop.

async function tablesOf(conn: mysql.Connection, schema: string): Promise<string[]> {
  const [rows] = await conn.query<mysql.RowDataPacket[]>(
    'SELECT TABLE_NAME AS t FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? ORDER BY 1',
    [schema],
  );
  return rows.map((r) => String(r.t));
}

async function columnsOf(conn: mysql.Connection, schema: string, table: string): Promise<string> {
  const [rows] = await conn.query<mysql.RowDataPacket[]>(
    'SELECT COLUMN_NAME AS c FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? ORDER BY ORDINAL_POSITION',
    [schema, table],
  );
  return rows.map((r) => String(r.c)).join(',');
}

async function countOf(conn: mysql.Connection, schema: string, table: string): Promise<number> {
  const [[r]] = await conn.query<mysql.RowDataPacket[]>(
    `SELECT COUNT(*) AS n FROM \`${schema}\`.\`${table}\``,
  );
  return Number(r?.n);
}

/** `kind table` of a logged statement (the DDL analysis with names mapped to themselves). */
function label(sql: string, db: string): string {
  const a = analyzeDdl(sql, db, {
    routes: (schema, table) => [{ target: { schema, table }, manyToOne: false, columnRules: false }],
    schemaTargets: () => undefined,
  });
  return `${a.kind} ${a.tables.map((t) => t.table).join(',')}`;
}

test('DDL with options.ddl apply on both pipelines of a channel arrives once and never comes back', async (t) => {
  const db = await freshDatabases(t, 'bddl');
  const startA = await readServerBinlogState(db.source);
  const startB = await readServerBinlogState(db.target);
  const channel = uniqueName('ch');
  const mappings = [{ source: { schema: db.name, table: '/.*/' } }];
  const ab = uniqueName('ab');
  const ba = uniqueName('ba');

  await withWorker(async ({ client, taskQueue }) => {
    const tuning = { runSeconds: 4 };
    const options = { ddl: 'apply' as const, channel: { id: channel } };
    const hAB = await startPipeline(
      client,
      taskQueue,
      {
        name: ab,
        source: 'source',
        target: 'target',
        mappings,
        start: { file: startA.file, pos: startA.pos },
        options,
      },
      tuning,
    );
    const hBA = await startPipeline(
      client,
      taskQueue,
      {
        name: ba,
        source: 'target',
        target: 'source',
        mappings,
        start: { file: startB.file, pos: startB.pos },
        options,
      },
      tuning,
    );
    // Every kind of table DDL on one site, each arrived on the other before the next.
    const play = async (origin: mysql.Connection, other: mysql.Connection, p: string) => {
      await origin.query(`CREATE TABLE ${p}1 (id INT PRIMARY KEY, v INT)`);
      await waitFor(`${p}1 created`, async () => (await tablesOf(other, db.name)).includes(`${p}1`));
      await origin.query(`INSERT INTO ${p}1 VALUES (1, 10), (2, 20)`);
      await waitFor(`${p}1 rows`, async () => (await countOf(other, db.name, `${p}1`)) === 2);
      await origin.query(`ALTER TABLE ${p}1 ADD COLUMN w VARCHAR(10) /* an application's comment */`);
      await waitFor(`${p}1 altered`, async () => (await columnsOf(other, db.name, `${p}1`)) === 'id,v,w');
      await origin.query(`TRUNCATE TABLE ${p}1`);
      await waitFor(`${p}1 truncated`, async () => (await countOf(other, db.name, `${p}1`)) === 0);
      await origin.query(`RENAME TABLE ${p}1 TO ${p}2`);
      await waitFor(`${p}1 renamed`, async () => (await tablesOf(other, db.name)).includes(`${p}2`));
      await origin.query(`DROP TABLE ${p}2`);
      await waitFor(`${p}2 dropped`, async () => !(await tablesOf(other, db.name)).includes(`${p}2`));
    };
    try {
      await play(db.source, db.target, 'a');
      await play(db.target, db.source, 'b');
      await sleep(6000); // echoes, had there been any, would have come back by now (runs of 4 s)

      assert.deepEqual(await tablesOf(db.source, db.name), []);
      assert.deepEqual(await tablesOf(db.target, db.name), []);
      const expected = (p: string) => [
        `create_table ${p}1`,
        `alter_table ${p}1`,
        `truncate_table ${p}1`,
        `rename_table ${p}1,${p}2`,
        `drop_table ${p}2`,
      ];
      // Each server logged every DDL exactly once: its own application's, then the other site's.
      const onA = await loggedDdl(db.source, startA, db.name);
      const onB = await loggedDdl(db.target, startB, db.name);
      assert.deepEqual(
        onA.map((s) => label(s, db.name)),
        [...expected('a'), ...expected('b')],
        onA.join('\n'),
      );
      assert.deepEqual(
        onB.map((s) => label(s, db.name)),
        [...expected('a'), ...expected('b')],
        onB.join('\n'),
      );
      // What a pipeline applied carries its marker (DROP TABLE is logged in the server's own words).
      const marked = (logged: string[], pipeline: string) =>
        logged.map((s) => ddlMarksOf(s).some((m) => m.channel === channel && m.pipeline === pipeline));
      assert.deepEqual(marked(onB, ab), [true, true, true, true, false, false, false, false, false, false]);
      assert.deepEqual(marked(onA, ba), [false, false, false, false, false, true, true, true, true, false]);

      // The echoes were skipped quietly: counted, no warning, no error.
      for (const p of [ab, ba]) {
        assert.ok((await metricOf('otterflow_channel_skipped_ddl_total', p, { reason: 'echo' })) >= 4, p);
        assert.ok((await metricOf('otterflow_channel_skipped_ddl_total', p, { reason: 'gone' })) >= 1, p);
      }
      for (const h of [hAB, hBA]) {
        const s = await status(h);
        assert.equal(s.lastError, undefined, JSON.stringify(s.lastError));
        assert.deepEqual(
          s.warnings.filter((w) => /DDL/.test(w)),
          [],
        );
        assert.equal(s.state, 'running');
      }
    } finally {
      await Promise.all([hAB.executeUpdate(stopUpdate), hBA.executeUpdate(stopUpdate)]);
    }
  });
});
