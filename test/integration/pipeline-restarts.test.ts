import assert from 'node:assert/strict';
import { test } from 'node:test';
import type mysql from 'mysql2/promise';
import { stopUpdate } from '../../src/workflows/pipeline-contract';
import { samePipelineConfig, startPipeline, status, waitFor } from '../helpers/pipeline';
import { privatePort } from '../helpers/ports';
import { privateHome, startPrivateMariaDb, startPrivateTemporal } from '../helpers/private-servers';
import { openTransactionRows, sleep, spawnWorkerProcess, tailOf, withClient } from '../helpers/processes';
import {
  bigTransaction,
  COUNTER_ROWS,
  createFailureTables,
  type LogSummary,
  seedCounters,
  startStreamWriter,
  summarize,
} from '../helpers/source-writer';
import { connectTo, freshDatabases, testStack, uniqueName } from '../helpers/stack';

/** Waits until the target's log and counters equal the source's; returns the summary. */
async function waitForSameSummary(
  source: mysql.Connection,
  target: () => Promise<mysql.Connection>,
  db: string,
): Promise<LogSummary> {
  const expected = await summarize(source, db);
  assert.equal(expected.duplicates, 0);
  let last: LogSummary | undefined;
  await waitFor(
    'the target to equal the source',
    async () => {
      last = await summarize(await target(), db);
      return last.rows === expected.rows && last.counters === expected.counters;
    },
    300_000,
    async () => `source ${JSON.stringify(expected)} target ${JSON.stringify(last)}`,
  );
  assert.deepEqual(last, expected);
  return expected;
}

async function logRows(conn: mysql.Connection, db: string, writer: string): Promise<number> {
  const [r] = await conn.query<mysql.RowDataPacket[]>(
    `SELECT COUNT(*) AS n FROM \`${db}\`.log WHERE writer = ?`,
    [writer],
  );
  return Number(r[0]?.n);
}

test('Temporal server killed (SIGKILL) and restarted mid-stream: the pipeline resumes by itself', async (t) => {
  const db = await freshDatabases(t, 'ptmp');
  await createFailureTables(db.source, db.target);
  const temporal = await startPrivateTemporal(privatePort(720));
  t.after(() => temporal.stop());
  const config = await samePipelineConfig(db.source, db.name);
  const taskQueue = uniqueName('tqtmp');
  const worker = await spawnWorkerProcess({
    taskQueue,
    metricsPort: privatePort(722),
    logName: 'restart-temporal-worker',
    env: {
      OTTERFLOW_TEMPORAL_PORT: String(temporal.port),
      OTTERFLOW_TEMPORAL_UI_PORT: String(temporal.port + 1),
    },
  });
  t.after(() => worker.stop());

  await withClient(async (client) => {
    const handle = await startPipeline(client, taskQueue, config);
    await seedCounters(db.source);
    const writer = await startStreamWriter(db.name, { pauseMs: 10 });
    await waitFor(
      'the stream to reach the target',
      async () => (await logRows(db.target, db.name, 'small')) > 50,
    );

    await temporal.kill9();
    const killedAt = Date.now();
    await sleep(3000);
    await temporal.restart();
    const restartedAt = Date.now();

    // Changes written after the restart must arrive: the pipeline runs again on its own.
    const after = writer.committed() + 20;
    await waitFor('the stream to continue after the restart', async () => writer.committed() >= after);
    const resumedAt = await waitFor(
      'changes written after the restart to reach the target',
      async () => {
        const [r] = await db.target.query<mysql.RowDataPacket[]>(
          `SELECT COUNT(*) AS n FROM log WHERE writer = 'small' AND seq = ?`,
          [after],
        );
        return Number(r[0]?.n) === 1 ? Date.now() : false;
      },
      180_000,
      async () => `worker log:\n${tailOf(worker.logFile)}`,
    );
    // The activity run in flight kept replicating while the server was down (the data plane does not
    // need Temporal). Temporal's part: that run's result is recorded and the next run is scheduled.
    const recordedAt = await waitFor(
      'a replicate run to be recorded by the workflow after the restart',
      async () => {
        const s = await status(handle);
        return Date.parse(s.updatedAt) > restartedAt && s.counters.transactions > 0 ? Date.now() : false;
      },
      180_000,
      async () => `worker log:\n${tailOf(worker.logFile)}`,
    );
    const nextRunFrom = writer.committed() + 1;
    await bigTransaction(db.source, 50_000);
    await waitFor(
      'changes written after that to reach the target',
      async () => {
        const [r] = await db.target.query<mysql.RowDataPacket[]>(
          `SELECT COUNT(*) AS n FROM log WHERE writer = 'small' AND seq = ?`,
          [nextRunFrom + 5],
        );
        return Number(r[0]?.n) === 1;
      },
      180_000,
    );
    await sleep(1000);
    const small = await writer.stop();
    await waitForSameSummary(db.source, async () => db.target, db.name);
    const [sum] = await db.target.query('SELECT CAST(SUM(n) AS CHAR) AS s FROM counters');
    assert.deepEqual(sum, [{ s: String(COUNTER_ROWS + small) }]);

    const st = await waitFor('the status query to answer after the restart', async () => status(handle));
    assert.equal(st.state, 'running', JSON.stringify(st));
    await handle.executeUpdate(stopUpdate);
    assert.equal((await handle.result()).state, 'stopped');
    console.log(
      JSON.stringify({
        temporalRestart: {
          downMs: restartedAt - killedAt,
          changesFlowingAfterRestartMs: resumedAt - restartedAt,
          runRecordedAfterRestartMs: recordedAt - restartedAt,
          smallTransactions: small,
        },
      }),
    );
  }, temporal.address);
});

test('target MariaDB killed (SIGKILL) mid-batch and restarted: the pipeline recovers, nothing lost or doubled', async (t) => {
  const BIG_ROWS = 600_000;
  const target = await startPrivateMariaDb(privatePort(730), 'failover-target');
  t.after(() => target.stop());
  const name = uniqueName('ptgt');
  const source = await connectTo('source');
  let tconn = await target.connect();
  t.after(async () => {
    await source.query(`DROP DATABASE IF EXISTS \`${name}\``).catch(() => {});
    await source.end();
    await tconn.query(`DROP DATABASE IF EXISTS \`${name}\``).catch(() => {});
    await tconn.end().catch(() => {});
  });
  for (const c of [source, tconn]) await c.query(`CREATE DATABASE \`${name}\`; USE \`${name}\``);
  await createFailureTables(source, tconn);
  const home = privateHome([
    { name: 'ptarget', kind: 'mariadb', host: '127.0.0.1', port: target.port, user: 'root' },
  ]);
  const config = await samePipelineConfig(source, name, { target: 'ptarget' });
  const taskQueue = uniqueName('tqtgt');
  const worker = await spawnWorkerProcess({
    taskQueue,
    metricsPort: privatePort(732),
    logName: 'restart-target-worker',
    env: { OTTERFLOW_HOME: home },
  });
  t.after(() => worker.stop());

  await withClient(async (client) => {
    const handle = await startPipeline(client, taskQueue, config);
    await seedCounters(source);
    const writer = await startStreamWriter(name, { pauseMs: 5 });
    await bigTransaction(source, BIG_ROWS);
    const openRows = await waitFor(
      'the big transaction to be half-applied on the private target',
      async () => {
        const n = await openTransactionRows(tconn, 1000);
        return n >= 50_000 ? n : false;
      },
      120_000,
      async () => `status ${JSON.stringify(await status(handle))}\n${tailOf(worker.logFile)}`,
    );
    await target.kill9();
    const killedAt = Date.now();
    await tconn.end().catch(() => {});
    await sleep(2000);
    await target.restart();
    const restartedAt = Date.now();
    tconn = await target.connect(name);

    const bigAt = await waitFor(
      'the big transaction on the restarted target',
      async () => {
        const n = await logRows(tconn, name, 'big');
        assert.ok(n === 0 || n === BIG_ROWS, `partial big transaction visible: ${n}`);
        return n === BIG_ROWS ? Date.now() : false;
      },
      300_000,
      async () => `status ${JSON.stringify(await status(handle))}\n${tailOf(worker.logFile)}`,
    );
    await sleep(2000);
    const small = await writer.stop();
    const summary = await waitForSameSummary(source, async () => tconn, name);
    assert.equal(summary.rows, BIG_ROWS + small);
    const [sum] = await tconn.query('SELECT CAST(SUM(n) AS CHAR) AS s FROM counters');
    assert.deepEqual(sum, [{ s: String(COUNTER_ROWS + small) }]);

    const st = await status(handle);
    assert.equal(st.state, 'running', JSON.stringify(st));
    await handle.executeUpdate(stopUpdate);
    const final = await handle.result();
    assert.equal(final.lastError, undefined);
    console.log(
      JSON.stringify({
        targetRestart: {
          killedWithOpenRows: openRows,
          downMs: restartedAt - killedAt,
          bigTransactionCommittedAfterRestartMs: bigAt - restartedAt,
          smallTransactions: small,
        },
      }),
    );
  });
});

test('source MariaDB killed (SIGKILL) mid-stream and restarted: the pipeline reconnects and resumes from its checkpoint', async (t) => {
  const source = await startPrivateMariaDb(privatePort(740), 'failover-source');
  t.after(() => source.stop());
  const name = uniqueName('psrc');
  let sconn = await source.connect();
  const target = await connectTo('target');
  t.after(async () => {
    await sconn.query(`DROP DATABASE IF EXISTS \`${name}\``).catch(() => {});
    await sconn.end().catch(() => {});
    await target.query(`DROP DATABASE IF EXISTS \`${name}\``).catch(() => {});
    await target.end();
  });
  for (const c of [sconn, target]) await c.query(`CREATE DATABASE \`${name}\`; USE \`${name}\``);
  await createFailureTables(sconn, target);
  const s = testStack();
  const home = privateHome([
    { name: 'psource', kind: 'mariadb', host: '127.0.0.1', port: source.port, user: 'root' },
    { name: 'target', kind: 'mariadb', host: s.host, port: s.targetPort, user: 'root' },
  ]);
  const config = await samePipelineConfig(sconn, name, { source: 'psource' });
  const taskQueue = uniqueName('tqsrc');
  const worker = await spawnWorkerProcess({
    taskQueue,
    metricsPort: privatePort(742),
    logName: 'restart-source-worker',
    env: { OTTERFLOW_HOME: home },
  });
  t.after(() => worker.stop());
  const connect = (db: string) => source.connect(db);

  await withClient(async (client) => {
    const handle = await startPipeline(client, taskQueue, config);
    await seedCounters(sconn);
    const first = await startStreamWriter(name, { pauseMs: 5, tag: 'before', connect });
    await bigTransaction(sconn, 100_000);
    await waitFor(
      'the stream to reach the target',
      async () => (await logRows(target, name, 'before')) > 100,
      60_000,
    );
    await source.kill9();
    const killedAt = Date.now();
    await first.stop().catch(() => {}); // its connection died with the server
    await sconn.end().catch(() => {});
    await sleep(2000);
    await source.restart();
    const restartedAt = Date.now();
    sconn = await source.connect(name);

    const second = await startStreamWriter(name, { pauseMs: 5, tag: 'after', connect });
    const flowingAt = await waitFor(
      'changes written after the restart to reach the target',
      async () => ((await logRows(target, name, 'after')) > 20 ? Date.now() : false),
      180_000,
      async () => `status ${JSON.stringify(await status(handle))}\n${tailOf(worker.logFile)}`,
    );
    await bigTransaction(sconn, 50_000, 'big2');
    await sleep(1000);
    await second.stop();
    // The source is the truth after its crash recovery: whatever it kept, the target must equal.
    await waitForSameSummary(sconn, async () => target, name);

    const st = await status(handle);
    assert.equal(st.state, 'running', JSON.stringify(st));
    await handle.executeUpdate(stopUpdate);
    const final = await handle.result();
    assert.equal(final.lastError, undefined);
    console.log(
      JSON.stringify({
        sourceRestart: {
          downMs: restartedAt - killedAt,
          changesFlowingAfterRestartMs: flowingAt - restartedAt,
        },
      }),
    );
  });
});
