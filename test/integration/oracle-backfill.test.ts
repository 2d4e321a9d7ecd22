import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { type BackfillInput, type BackfillStatus, backfillWorkflowId } from '../../src/backfill/contract';
import { catalogFile, DatasourceCatalog } from '../../src/config/datasources';
import { OracleTargetConnector } from '../../src/connectors/oracle/target-session';
import { parsePipelineConfig } from '../../src/pipeline/config';
import { stopUpdate } from '../../src/workflows/pipeline-contract';
import { samePipelineConfig, startPipeline, waitFor } from '../helpers/pipeline';
import { oracleError, type RecordedCall, RecordingOracleDatabase } from '../helpers/recording-oracle';
import { RecordingBackfillTables } from '../helpers/recording-oracle-backfill';
import { freshDatabases, testStack, uniqueName, withWorker } from '../helpers/stack';

/**
 * Initial loads and re-syncs into an Oracle target through the backfill workflow on a real worker and
 * Temporal server, the source a real MariaDB. The Oracle connections record every call (no Oracle
 * server runs here); the backfill progress tables are modelled with per-connection uncommitted changes.
 */

interface Tx {
  connection: number;
  calls: RecordedCall[];
  end: 'commit' | 'rollback' | 'close';
}

/** Every connection's calls grouped into transactions, each ended by COMMIT, ROLLBACK or close. */
function transactions(rdb: RecordingOracleDatabase): Tx[] {
  const open = new Map<number, RecordedCall[]>();
  const out: Tx[] = [];
  for (const c of rdb.calls) {
    const list = open.get(c.connection) ?? [];
    open.set(c.connection, list);
    if (c.method === 'commit' || c.method === 'rollback' || c.method === 'close') {
      if (list.length) out.push({ connection: c.connection, calls: list.splice(0), end: c.method });
    } else list.push(c);
  }
  return out;
}

/** The messages of an error and its causes, one per line. */
function causes(err: unknown): string {
  const out: string[] = [];
  for (let e = err as { message?: string; cause?: unknown } | undefined; e; e = e.cause as typeof e)
    out.push(String(e.message));
  return out.join('\n');
}

async function setup(t: test.TestContext, prefix: string) {
  const { name: db, source } = await freshDatabases(t, prefix);
  await source.query('CREATE TABLE items (id INT PRIMARY KEY, name VARCHAR(50))');
  const home = fs.mkdtempSync(path.join(os.tmpdir(), 'otterflow-orabf-'));
  t.after(() => fs.rmSync(home, { recursive: true, force: true }));
  const s = testStack();
  const catalog = new DatasourceCatalog(catalogFile(home));
  catalog.put({ name: 'source', kind: 'mariadb', host: s.host, port: s.sourcePort, user: 'root' });
  catalog.put({
    name: 'ora',
    kind: 'oracle',
    host: 'oracle.invalid',
    port: 1521,
    user: 'repl',
    serviceName: 'FREEPDB1',
  });
  const rdb = new RecordingOracleDatabase();
  const tables = new RecordingBackfillTables();
  rdb.models.push(tables);
  rdb.defineTable({
    owner: db.toUpperCase(),
    table: 'ITEMS',
    columns: [
      { name: 'ID', dataType: 'NUMBER', precision: 10, scale: 0, nullable: false },
      { name: 'NAME', dataType: 'VARCHAR2' },
    ],
    primaryKey: ['ID'],
  });
  const merge = `MERGE INTO "${db.toUpperCase()}"."ITEMS"`;
  const ids = (calls: readonly RecordedCall[]) =>
    calls
      .filter((c) => c.method === 'executeMany' && c.sql?.startsWith(merge))
      .flatMap((c) => (c.binds as unknown[][]).map((b) => Number(b[0])));
  const connector = new OracleTargetConnector(async () => rdb.connect());
  return { db, source, home, rdb, tables, ids, connector };
}

test('initial load into Oracle: every chunk in one transaction with its progress row; a chunk whose connection dies halfway rolls back and is copied again', async (t) => {
  const { db, source, home, rdb, tables, ids, connector } = await setup(t, 'orabfi');
  await source.query(`INSERT INTO items SELECT seq, CONCAT('name ', seq) FROM seq_1_to_2500`);
  await source.query(`INSERT INTO items VALUES (2501, '')`);
  const sql = tables.sql;
  // Chunk 2: its rows are written, then the progress update fails (the connection dies).
  rdb.failWhen(
    (c) => c.sql === sql.markChunkDone() && (c.binds as unknown[])[2] === 2,
    oracleError('ORA-03113', 'end-of-file on communication channel'),
  );
  const config = parsePipelineConfig(await samePipelineConfig(source, db, { target: 'ora' }));

  await withWorker(
    async ({ client, taskQueue }) => {
      const id = uniqueName('init');
      const input: BackfillInput = { id, kind: 'initial', config, chunkSize: 500, parallelism: 2 };
      const result = (await client.workflow.execute('backfillWorkflow', {
        taskQueue,
        workflowId: backfillWorkflowId(id),
        args: [input],
      })) as BackfillStatus;
      assert.equal(result.state, 'done', JSON.stringify(result));
      assert.equal(result.rowsCopied, 2501);
      // Row 2501's empty name is stored as NULL by Oracle: counted per column, once.
      assert.deepEqual(result.emptyAsNull, { [`${db}.items.name`]: 1 }, JSON.stringify(result));
      assert.equal(result.chunksDone, result.chunksTotal);
      assert.ok((result.chunksTotal ?? 0) >= 5, JSON.stringify(result));
      assert.deepEqual(result.secondaryIndexes?.kept ?? [], [
        `${db}.items: Oracle targets keep their secondary indexes during the load (not deferred)`,
      ]);

      // Every source row committed exactly once.
      const committed = transactions(rdb).filter((x) => x.end === 'commit');
      const all = committed.flatMap((x) => ids(x.calls)).sort((a, b) => a - b);
      assert.deepEqual(
        all,
        Array.from({ length: 2501 }, (_, i) => i + 1),
      );
      // Each chunk's rows committed in the transaction that marked it done, once.
      const chunks = tables.committed.chunks.get(id);
      assert.ok(chunks);
      for (const [no, chunk] of chunks) {
        assert.equal(chunk.status, 'done', `chunk ${no}`);
        assert.equal(chunk.copies, 1, `chunk ${no} marked done once (failed attempts rolled back)`);
        const tx = committed.filter((x) =>
          x.calls.some((c) => c.sql === sql.markChunkDone() && (c.binds as unknown[])[2] === no),
        );
        assert.equal(tx.length, 1, `chunk ${no}`);
        const calls = tx[0]!.calls;
        const lock = calls.findIndex(
          (c) => c.sql === sql.readChunk(true) && (c.binds as unknown[])[1] === no,
        );
        const firstRow = calls.findIndex((c) => ids([c]).length > 0);
        const done = calls.findIndex((c) => c.sql === sql.markChunkDone());
        assert.ok(lock >= 0 && lock < firstRow && firstRow < done, `chunk ${no}: lock, rows, done mark`);
        assert.equal(ids(tx[0]!.calls).length, chunk.rowsCopied);
      }
      // The failed attempt rolled back its rows and left the chunk pending; a retry copied it.
      const failed = transactions(rdb).filter((x) => x.end !== 'commit' && ids(x.calls).length > 0);
      assert.equal(
        failed.length,
        1,
        JSON.stringify(failed.map((x) => x.calls.map((c) => c.sql?.slice(0, 30)))),
      );
      assert.ok(failed.some((x) => x.calls.some((c) => c.failed && c.sql === sql.markChunkDone())));
      // At most 65,535 rows per executeMany, with batchErrors.
      for (const c of rdb.calls.filter((c) => c.method === 'executeMany' && ids([c]).length)) {
        assert.ok((c.binds as unknown[][]).length <= 65_535);
        assert.equal((c.options as { batchErrors?: boolean }).batchErrors, true);
      }
      // The pipeline's checkpoint was created at the load's position.
      assert.ok(rdb.checkpoints.get(config.name));
    },
    { home, targetConnector: connector },
  );
});

test('initial load into Oracle: a row Oracle refuses fails the load at once, naming its key; run again, copied chunks stay copied', async (t) => {
  const { db, source, home, rdb, tables, ids, connector } = await setup(t, 'orabfr');
  await source.query(`INSERT INTO items SELECT seq, CONCAT('name ', seq) FROM seq_1_to_2000`);
  // Oracle rejects one row of the chunk holding id 1250 (batchErrors), as it would a value too long.
  const refused = (c: RecordedCall) => c.method === 'executeMany' && ids([c]).includes(1250);
  rdb.rejectRow(refused, 3, oracleError('ORA-12899', 'value too large for column "NAME"'));
  const config = parsePipelineConfig(await samePipelineConfig(source, db, { target: 'ora' }));

  await withWorker(
    async ({ client, taskQueue }) => {
      const id = uniqueName('refused');
      const input: BackfillInput = { id, kind: 'initial', config, chunkSize: 500, parallelism: 1 };
      const run = () =>
        client.workflow.execute('backfillWorkflow', {
          taskQueue,
          workflowId: backfillWorkflowId(id),
          args: [input],
        }) as Promise<BackfillStatus>;
      const err = await run().then(
        () => assert.fail('the load should fail'),
        (e: unknown) => e,
      );
      const message = causes(err);
      const attempts = rdb.calls.filter(refused);
      // Not retried: the chunk was tried once, and the failure names the refused row and the code.
      assert.equal(attempts.length, 1);
      const key = ids(attempts)[3];
      assert.ok(message.includes(`key {"id":"${key}"}`), message);
      assert.match(message, /ORA-12899/);
      assert.match(message, /chunk \d+/);
      const before = tables.committed.chunks.get(id);
      assert.ok(before);
      const done = [...before].filter(([, c]) => c.status === 'done').map(([no]) => no);
      assert.ok(done.length >= 1 && done.length < before.size, JSON.stringify([...before]));

      // The target was fixed (here: the rejection was one-off): the same load finishes the rest only.
      const result = await run();
      assert.equal(result.state, 'done', JSON.stringify(result));
      const after = tables.committed.chunks.get(id);
      for (const no of done) assert.equal(after?.get(no)?.copies, 1, `chunk ${no} copied once`);
      const committed = transactions(rdb)
        .filter((x) => x.end === 'commit')
        .flatMap((x) => ids(x.calls))
        .sort((a, b) => a - b);
      assert.deepEqual(
        committed,
        Array.from({ length: 2000 }, (_, i) => i + 1),
      );
    },
    { home, targetConnector: connector },
  );
});

test('re-sync of keys into Oracle while the pipeline streams: chunk rows and request progress commit in one batch transaction', async (t) => {
  const { db, source, home, rdb, tables, ids, connector } = await setup(t, 'orabfr');
  // Rows that exist before the pipeline's start position: only a re-sync brings them.
  await source.query(`INSERT INTO items SELECT seq, CONCAT('old ', seq) FROM seq_1_to_20`);
  const input = await samePipelineConfig(source, db, { target: 'ora' });
  const config = parsePipelineConfig(input);

  await withWorker(
    async ({ client, taskQueue }) => {
      const pipeline = await startPipeline(client, taskQueue, input);
      await source.query(`INSERT INTO items VALUES (100, 'streamed')`);
      await waitFor('the streamed row', async () => ids(rdb.calls).includes(100) || undefined, 30_000);
      let writing = true;
      let next = 101;
      const writer = (async () => {
        while (writing) {
          await source.query(`INSERT INTO items VALUES (?, 'during')`, [next++]);
          await source.query(`UPDATE items SET name = 'touched' WHERE id = 5`);
          await new Promise((r) => setTimeout(r, 20));
        }
      })();
      const id = uniqueName('rs');
      const result = (await client.workflow.execute('backfillWorkflow', {
        taskQueue,
        workflowId: backfillWorkflowId(id),
        args: [
          {
            id,
            kind: 'resync',
            config,
            tables: [{ schema: db, table: 'items' }],
            keys: [[3], [7], [999]],
          } satisfies BackfillInput,
        ],
      })) as BackfillStatus;
      writing = false;
      await writer;
      assert.equal(result.state, 'done', JSON.stringify(result));
      const req = result.requests?.[0];
      assert.equal(req?.status, 'done');
      assert.equal(req?.rowsCopied, 2, 'a key absent from the source copies nothing');

      // Rows 3 and 7 were written in a committed batch transaction that also recorded the progress
      // and moved the checkpoint.
      const tx = transactions(rdb).filter(
        (x) => x.end === 'commit' && x.calls.some((c) => c.sql === tables.sql.recordChunk()),
      );
      assert.ok(tx.length >= 1);
      const written = tx.flatMap((x) => ids(x.calls));
      assert.ok(written.includes(3) && written.includes(7), JSON.stringify(written));
      for (const x of tx)
        assert.ok(
          x.calls.some((c) => c.sql === rdb.checkpointSql.fence(true) || c.sql === rdb.checkpointSql.write()),
          'the checkpoint moved in the same transaction',
        );
      assert.equal(tables.committed.requests.get(req!.requestId)?.status, 'done');
      await waitFor(
        `row ${next - 1} streamed`,
        async () => ids(rdb.calls).includes(next - 1) || undefined,
        30_000,
      );
      await pipeline.executeUpdate(stopUpdate);
    },
    { home, targetConnector: connector },
  );
});
