import assert from 'node:assert/strict';
import { test } from 'node:test';
import type mysql from 'mysql2/promise';
import { stopUpdate } from '../../src/workflows/pipeline-contract';
import { samePipelineConfig, startPipeline, status, waitFor } from '../helpers/pipeline';
import { privatePort } from '../helpers/ports';
import {
  openTransactionRows,
  readRssBytes,
  sampleRss,
  spawnWorkerProcess,
  withClient,
} from '../helpers/processes';
import { connectTo, freshDatabases, uniqueName } from '../helpers/stack';

const ROWS = 1_000_000;
/** Generous: the point is "bounded", not "small". The measured peak is printed. */
const RSS_BOUND = 1.5 * 1024 * 1024 * 1024;

async function fingerprint(conn: mysql.Connection, db: string): Promise<unknown> {
  const [rows] = await conn.query(
    `SELECT COUNT(*) AS n, CAST(SUM(id) AS CHAR) AS ids, CAST(SUM(a) AS CHAR) AS a, CAST(SUM(CRC32(CONCAT(id, '/', s))) AS CHAR) AS crc FROM \`${db}\`.big`,
  );
  return (rows as unknown[])[0];
}

test('a 1,000,000-row source transaction arrives whole, is never partly visible, and worker memory stays bounded', async (t) => {
  const db = await freshDatabases(t, 'pbig');
  const ddl = 'CREATE TABLE big (id INT PRIMARY KEY, a BIGINT NOT NULL, s VARCHAR(40) NOT NULL)';
  await db.source.query(ddl);
  await db.target.query(ddl);
  const config = await samePipelineConfig(db.source, db.name, { options: { batchSize: 6000 } });

  const taskQueue = uniqueName('tqbig');
  const worker = await spawnWorkerProcess({
    taskQueue,
    metricsPort: privatePort(710),
    logName: 'bigtx-worker',
  });
  t.after(() => worker.stop());

  await withClient(async (client) => {
    const handle = await startPipeline(client, taskQueue, config);
    // The pipeline streams before the big write: a marker row must arrive first.
    await db.source.query(`INSERT INTO big VALUES (0, 0, 'marker')`);
    const counter = await connectTo('target', db.name);
    t.after(() => counter.end());
    await counter.query('SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED');
    const count = async () => {
      const [r] = await counter.query<mysql.RowDataPacket[]>('SELECT COUNT(*) AS n FROM big WHERE id > 0');
      return Number(r[0]?.n);
    };
    await waitFor('the marker row on the target', async () => {
      const [r] = await counter.query<mysql.RowDataPacket[]>('SELECT id FROM big WHERE id = 0');
      return r.length === 1;
    });
    const rssAtStart = readRssBytes(worker.pid) ?? 0;
    const rss = sampleRss(worker.pid, 200);

    const wroteAt = Date.now();
    await db.source.query(
      `INSERT INTO big SELECT seq, seq * 3, CONCAT('row ', seq, ' ', REPEAT('x', seq % 17)) FROM seq_1_to_${ROWS}`,
    );
    const sourceCommittedMs = Date.now() - wroteAt;

    const seen = new Map<number, number>();
    let maxOpenRows = 0;
    let firstOpenAt = 0;
    await waitFor(
      `${ROWS} rows on the target`,
      async () => {
        const open = await openTransactionRows(db.target, 1000);
        if (open > 0 && firstOpenAt === 0) firstOpenAt = Date.now();
        maxOpenRows = Math.max(maxOpenRows, open);
        const n = await count();
        seen.set(n, (seen.get(n) ?? 0) + 1);
        await new Promise((r) => setTimeout(r, 300));
        return n === ROWS;
      },
      15 * 60_000,
      async () => `counts seen ${JSON.stringify([...seen])}; status ${JSON.stringify(await status(handle))}`,
    );
    const appliedMs = Date.now() - wroteAt;
    const peak = rss.stop();

    // Only "nothing" and "everything" were ever visible.
    assert.deepEqual(
      [...seen.keys()].filter((n) => n !== 0 && n !== ROWS),
      [],
      `partial transaction visible: ${JSON.stringify([...seen])}`,
    );
    assert.ok((seen.get(0) ?? 0) > 0, 'the count was polled while the transaction was being applied');
    assert.ok(maxOpenRows > 1000, `the target had an open transaction with rows in it (max ${maxOpenRows})`);
    assert.deepEqual(await fingerprint(db.target, db.name), await fingerprint(db.source, db.name));
    assert.ok(peak.samples > 10, `RSS was sampled (${peak.samples})`);
    assert.ok(peak.peakBytes < RSS_BOUND, `worker peak RSS ${peak.peakBytes} bytes`);

    const st = await status(handle);
    assert.equal(st.state, 'running', JSON.stringify(st));
    await handle.executeUpdate(stopUpdate);
    const final = await handle.result();
    assert.equal(final.counters.inserted, ROWS + 1, JSON.stringify(final.counters));
    console.log(
      JSON.stringify({
        bigtx: {
          rows: ROWS,
          sourceCommitMs: sourceCommittedMs,
          applyVisibleAfterMs: appliedMs,
          firstOpenTargetTxAfterMs: firstOpenAt ? firstOpenAt - wroteAt : null,
          maxOpenRowsSeen: maxOpenRows,
          countPolls: Object.fromEntries(seen),
          workerRssStartMB: Math.round(rssAtStart / 1048576),
          workerRssPeakMB: Math.round(peak.peakBytes / 1048576),
        },
      }),
    );
  });
});
