import assert from 'node:assert/strict';
import { test } from 'node:test';
import { stopUpdate } from '../../src/workflows/pipeline-contract';
import { samePipelineConfig, startPipeline, status, waitFor } from '../helpers/pipeline';
import { privatePort } from '../helpers/ports';
import {
  activityAttempt,
  activityWorkerPid,
  openTransactionRows,
  spawnWorkerProcess,
  tailOf,
  withClient,
} from '../helpers/processes';
import {
  bigTransaction,
  COUNTER_ROWS,
  createFailureTables,
  seedCounters,
  startStreamWriter,
  summarize,
} from '../helpers/source-writer';
import { freshDatabases, uniqueName } from '../helpers/stack';

const BIG_ROWS = 600_000;

test('kill -9 of the worker running the pipeline mid-batch: the other worker takes over, nothing lost or applied twice', async (t) => {
  const db = await freshDatabases(t, 'pfail');
  await createFailureTables(db.source, db.target);
  const config = await samePipelineConfig(db.source, db.name);

  const taskQueue = uniqueName('tqfail');
  const workers = await Promise.all([
    spawnWorkerProcess({ taskQueue, metricsPort: privatePort(711), logName: 'failover-worker-a' }),
    spawnWorkerProcess({ taskQueue, metricsPort: privatePort(712), logName: 'failover-worker-b' }),
  ]);
  t.after(async () => {
    for (const w of workers) await w.stop();
  });

  await withClient(async (client) => {
    const handle = await startPipeline(client, taskQueue, config);
    await seedCounters(db.source);
    const runner = await waitFor('the replicate activity to run on one of the workers', async () => {
      const pid = await activityWorkerPid(handle);
      return workers.find((w) => w.pid === pid);
    });
    const survivor = workers.find((w) => w !== runner)!;

    const writer = await startStreamWriter(db.name, { pauseMs: 5 });
    await bigTransaction(db.source, BIG_ROWS);
    // Kill while the big transaction is half-applied in the target's open transaction.
    const openRows = await waitFor(
      'the big transaction to be half-applied on the target',
      async () => {
        const n = await openTransactionRows(db.target, 1000);
        return n >= 50_000 ? n : false;
      },
      120_000,
      async () => `status ${JSON.stringify(await status(handle))}\n${tailOf(runner.logFile)}`,
    );
    runner.kill9();
    const killedAt = Date.now();
    assert.equal(await runner.exited, 'SIGKILL');

    const takeover = await waitFor(
      'the surviving worker to run the activity',
      async () => ((await activityWorkerPid(handle)) === survivor.pid ? Date.now() : false),
      120_000,
    );
    const attempt = await activityAttempt(handle);
    const bigVisible = await waitFor(
      'the big transaction to be on the target',
      async () => {
        const [r] = await db.target.query(`SELECT COUNT(*) AS n FROM log WHERE writer = 'big'`);
        const n = Number((r as Array<{ n: number }>)[0]?.n);
        assert.ok(n === 0 || n === BIG_ROWS, `partial big transaction visible: ${n}`);
        return n === BIG_ROWS ? Date.now() : false;
      },
      300_000,
    );
    // Keep writing a little after the takeover, then stop and compare.
    await new Promise((r) => setTimeout(r, 2000));
    const small = await writer.stop();
    assert.ok(small > 0);

    const expected = await summarize(db.source, db.name);
    assert.equal(expected.rows, BIG_ROWS + small);
    assert.equal(expected.duplicates, 0);
    let last = expected;
    await waitFor(
      'the target to equal the source',
      async () => {
        last = await summarize(db.target, db.name);
        return last.rows === expected.rows && last.counters === expected.counters;
      },
      300_000,
      async () => `source ${JSON.stringify(expected)} target ${JSON.stringify(last)}`,
    );
    assert.deepEqual(last, expected);
    // Every counter was bumped by the big transaction once and by the small ones: the sum says no
    // update was lost or applied twice.
    const [sum] = await db.target.query('SELECT CAST(SUM(n) AS CHAR) AS s FROM counters');
    assert.deepEqual(sum, [{ s: String(COUNTER_ROWS + small) }]);

    const st = await status(handle);
    assert.equal(st.state, 'running', JSON.stringify(st));
    await handle.executeUpdate(stopUpdate);
    const final = await handle.result();
    assert.match(
      final.worker ?? '',
      new RegExp(`(^|\\D)${survivor.pid}(\\D|$)`),
      'the survivor finished the pipeline',
    );
    assert.ok((attempt ?? 0) >= 2, `the activity was retried (attempt ${attempt})`);
    console.log(
      JSON.stringify({
        failover: {
          killedWithOpenRows: openRows,
          takeoverAfterMs: takeover - killedAt,
          bigTransactionCommittedAfterKillMs: bigVisible - killedAt,
          attemptAfterTakeover: attempt,
          smallTransactions: small,
        },
      }),
    );
  });
});
