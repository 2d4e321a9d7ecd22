import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Client } from '@temporalio/client';
import { stringifyKey } from '../../src/backfill/keys';
import { readServerBinlogState } from '../../src/binlog/replica/server-state';
import { type PipelineConfig, parsePipelineConfig } from '../../src/pipeline/config';
import type { ChannelDirection } from '../../src/verification/contract';
import { readDifferences, readReport } from '../../src/verification/report-store';
import { stopUpdate } from '../../src/workflows/pipeline-contract';
import { startPipeline, waitFor } from '../helpers/pipeline';
import { startWriteLoop } from '../helpers/source-writer';
import {
  connectTo,
  type FreshDatabases,
  freshDatabases,
  type StackServer,
  uniqueName,
  withWorker,
} from '../helpers/stack';
import { runVerification } from '../helpers/verify';

// Sites A (the test stack's "source") and B (its "target"); pipelines ab (A → B) and ba (B → A) on
// one channel over `items`. A verification of either direction treats both sites as sources.

const ROWS = 2000;

interface Channel {
  ab: PipelineConfig;
  ba: PipelineConfig;
  /** Verification channel settings of each direction. */
  abDir: ChannelDirection;
  baDir: ChannelDirection;
}

async function createChannel(db: FreshDatabases): Promise<Channel> {
  for (const c of [db.source, db.target]) {
    await c.query('CREATE TABLE items (id INT PRIMARY KEY, v VARCHAR(60), n INT NULL)');
    await c.query(`INSERT INTO items SELECT seq, CONCAT('v', seq), seq FROM seq_1_to_${ROWS}`);
  }
  const channel = uniqueName('ch');
  const [startA, startB] = [await readServerBinlogState(db.source), await readServerBinlogState(db.target)];
  const pipeline = (name: string, source: string, target: string, start: { file: string; pos: number }) =>
    parsePipelineConfig({
      name,
      source,
      target,
      mappings: [{ source: { schema: db.name, table: 'items' } }],
      start: { file: start.file, pos: start.pos },
      options: { channel: { id: channel } },
    });
  const ab = pipeline(uniqueName('ab'), 'source', 'target', startA);
  const ba = pipeline(uniqueName('ba'), 'target', 'source', startB);
  return {
    ab,
    ba,
    abDir: { id: channel, peer: ba.name },
    baDir: { id: channel, peer: ab.name },
  };
}

/**
 * Writes on one site, on its own keys only (so the two sites never write the same row: no conflict):
 * updates and deletes in `lo..hi`, inserts from `firstNew`, and one hot key rewritten again and again.
 */
function startWriter(which: StackServer, db: string, lo: number, hi: number, firstNew: number, hot: number) {
  let next = firstNew;
  const rnd = () => lo + Math.floor(Math.random() * (hi - lo + 1));
  return startWriteLoop(
    () => connectTo(which, db),
    async (w) => {
      const x = Math.random();
      if (x < 0.15) await w.query("INSERT INTO items VALUES (?, 'new', 0)", [next++]);
      else if (x < 0.55)
        await w.query("UPDATE items SET v = CONCAT(v, '+'), n = n + 1 WHERE id = ?", [rnd()]);
      else if (x < 0.6) await w.query('DELETE FROM items WHERE id = ?', [rnd()]);
      else if (x < 0.65) await w.query("INSERT IGNORE INTO items VALUES (?, 'back', 1)", [rnd()]);
      else await w.query('UPDATE items SET n = n + 1 WHERE id = ?', [hot]);
    },
  );
}

/** The differences of a verification as sorted `kind key [columns]` strings, from the site holding its report. */
async function differencesOn(which: StackServer, id: string): Promise<string[]> {
  const conn = await connectTo(which);
  try {
    const { differences } = await readDifferences(conn, id, 0, 100_000);
    return differences.map((d) => `${d.kind} ${stringifyKey(d.key)} ${d.columns.join(',')}`.trim()).sort();
  } finally {
    await conn.end();
  }
}

async function startBoth(client: Client, taskQueue: string, ch: Channel) {
  const tuning = { runSeconds: 10 };
  const hAB = await startPipeline(client, taskQueue, ch.ab, tuning);
  const hBA = await startPipeline(client, taskQueue, ch.ba, tuning);
  return async () => {
    await hAB.executeUpdate(stopUpdate);
    await hBA.executeUpdate(stopUpdate);
  };
}

test('channel verifications of both directions while both sites take writes report nothing', async (t) => {
  const db = await freshDatabases(t, 'vchq');
  const ch = await createChannel(db);
  const onA = startWriter('source', db.name, 1, 900, 100_000, 950);
  const onB = startWriter('target', db.name, 1001, 1900, 200_000, 1950);
  t.after(async () => {
    await onA.stop();
    await onB.stop();
  });
  await withWorker(async ({ client, taskQueue }) => {
    const stop = await startBoth(client, taskQueue, ch);
    await waitFor('writes on both sites', async () => onA.writes() > 50 && onB.writes() > 50);
    let rows = 0;
    let unsettled = 0;
    for (let i = 0; i < 6; i++) {
      // Alternating directions; the report of each is on its target site.
      const [config, channel, site]: [PipelineConfig, ChannelDirection, StackServer] =
        i % 2 === 0 ? [ch.ab, ch.abDir, 'target'] : [ch.ba, ch.baDir, 'source'];
      const r = await runVerification(client, taskQueue, config, { chunkSize: 250 + i * 50, channel });
      assert.equal(r.state, 'done');
      assert.deepEqual(
        await differencesOn(site, r.id),
        [],
        `verification ${i} (${config.name}) reported a difference`,
      );
      rows += r.rowsCompared;
      unsettled += r.tables.reduce((n, x) => n + x.unsettled, 0);
    }
    const writes = (await onA.stop()) + (await onB.stop());
    await stop();
    t.diagnostic(
      `6 channel verifications: ${rows} rows compared; writes on both sites ${writes}; unsettled keys ${unsettled}`,
    );
  });
});

test('divergence made behind both pipelines on each site is found exactly, on the right side of each direction', async (t) => {
  const db = await freshDatabases(t, 'vchd');
  const ch = await createChannel(db);
  const onA = startWriter('source', db.name, 200, 900, 100_000, 950);
  const onB = startWriter('target', db.name, 1200, 1900, 200_000, 1950);
  t.after(async () => {
    await onA.stop();
    await onB.stop();
  });
  await withWorker(async ({ client, taskQueue }) => {
    const stop = await startBoth(client, taskQueue, ch);
    await waitFor('writes on both sites', async () => onA.writes() > 50 && onB.writes() > 50);
    const quiet = async (which: StackServer) => {
      const c = await connectTo(which, db.name);
      t.after(() => c.end());
      await c.query('SET SESSION sql_log_bin = 0');
      return c;
    };
    const a = await quiet('source');
    await a.query("UPDATE items SET v = 'changed on A' WHERE id = 5");
    await a.query('DELETE FROM items WHERE id = 7');
    await a.query("INSERT INTO items VALUES (9000000, 'only on A', NULL)");
    const b = await quiet('target');
    await b.query('UPDATE items SET n = NULL WHERE id = 1005');
    await b.query('DELETE FROM items WHERE id = 1007');
    await b.query("INSERT INTO items VALUES (8000000, 'only on B', 1)");

    const abRun = await runVerification(client, taskQueue, ch.ab, { chunkSize: 300, channel: ch.abDir });
    const baRun = await runVerification(client, taskQueue, ch.ba, { chunkSize: 300, channel: ch.baDir });
    assert.equal(abRun.state, 'done');
    assert.equal(baRun.state, 'done');
    // A → B: what B holds against what A holds; B → A: the mirror image.
    assert.deepEqual(await differencesOn('target', abRun.id), [
      'different [1005] n',
      'different [5] v',
      'extra [7]',
      'extra [8000000]',
      'missing [1007]',
      'missing [9000000]',
    ]);
    assert.deepEqual(await differencesOn('source', baRun.id), [
      'different [1005] n',
      'different [5] v',
      'extra [1007]',
      'extra [9000000]',
      'missing [7]',
      'missing [8000000]',
    ]);
    const report = await (async () => {
      const c = await connectTo('target');
      try {
        return await readReport(c, abRun.id);
      } finally {
        await c.end();
      }
    })();
    assert.deepEqual(
      report?.tables.map((x) => [x.table, x.missing, x.extra, x.different]),
      [[`${db.name}.items`, 2, 2, 2]],
    );
    const writes = (await onA.stop()) + (await onB.stop());
    await stop();
    t.diagnostic(`writes on both sites during the test: ${writes}`);
  });
});
