import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { BinlogPosition, CellValue } from '../../src/binlog/types';
import { StaleEpochError } from '../../src/connectors/target';
import type { ApplyPlan } from '../../src/pipeline/model';
import { BatchCommitter, type ClosingBatch } from '../../src/replication/committer';
import { PipelineHaltError } from '../../src/replication/errors';
import { HookList, type ReplicationHooks } from '../../src/replication/hooks';
import { RunReport } from '../../src/replication/run-report';
import { FakeTargetSession } from '../helpers/fake-target';

const T = { schema: 'db', table: 't' };
const pos = (p: number): BinlogPosition => ({ file: 'b.1', pos: p });

function plan(...ids: number[]): ApplyPlan {
  return {
    tables: [
      {
        target: T,
        deletes: [],
        upserts: ids.map((id) => ({
          kind: 'upsert' as const,
          target: T,
          key: [BigInt(id)],
          row: new Map<string, CellValue>([
            ['id', BigInt(id)],
            ['v', `v${id}`],
          ]),
          expectExisting: false,
        })),
      },
    ],
  };
}

function batch(
  p: number,
  thePlan: ApplyPlan,
  wantedBy: ReadonlySet<ReplicationHooks> = new Set(),
): ClosingBatch {
  return {
    plan: thePlan,
    position: pos(p),
    hasWork: true,
    changes: thePlan.tables[0]?.upserts.length ?? 0,
    heartbeat: undefined,
    wantedBy,
  };
}

async function setup(opts: { onError?: 'stop' | 'retryRowByRow'; hooks?: ReplicationHooks[] } = {}) {
  const session = new FakeTargetSession();
  const claim = await session.checkpoint.claim(async () => pos(4));
  const report = new RunReport('test');
  const committer = new BatchCommitter({
    pipeline: 'p',
    session,
    epoch: claim.epoch,
    options: { onError: opts.onError ?? 'stop', missingRow: 'report' },
    hooks: new HookList(opts.hooks ?? []),
    report,
  });
  session.log.length = 0;
  return { session, committer, report };
}

const dataError = () => Object.assign(new Error('Duplicate entry'), { sqlState: '23000' });

test('a batch whose end is known commits in one transaction: fence writes the checkpoint, no separate write', async () => {
  const { session, committer, report } = await setup();
  await committer.commit(batch(100, plan(1, 2)));
  assert.deepEqual(session.log, ['begin', 'fence 1 b.1:100', 'apply db.t[-0 +2]', 'commit']);
  assert.deepEqual(session.checkpointPosition, pos(100));
  assert.deepEqual(Object.keys(session.tableRows('db', 't')), ['1', '2']);
  assert.deepEqual(report.committed, pos(100));
  assert.equal(report.batches, 1);
  assert.equal(report.totals.inserted, 2);
});

test('slices of a huge source transaction share one target transaction; the checkpoint is written last', async () => {
  const { session, committer } = await setup();
  await committer.applySlice(plan(1), undefined);
  assert.equal(committer.hasSlices, true);
  await committer.applySlice(plan(2), undefined);
  assert.equal(session.checkpointPosition?.pos, 4, 'nothing committed between slices');
  assert.deepEqual(session.tableRows('db', 't'), {});
  await committer.commit(batch(200, plan(3)));
  assert.equal(committer.hasSlices, false);
  assert.deepEqual(session.log, [
    'begin',
    'fence 1',
    'apply db.t[-0 +1]',
    'apply db.t[-0 +1]',
    'apply db.t[-0 +1]',
    'checkpoint b.1:200',
    'commit',
  ]);
  assert.deepEqual(Object.keys(session.tableRows('db', 't')), ['1', '2', '3']);
});

test('a background commit runs while the caller goes on; settle waits for it and surfaces its error', async () => {
  const { session, committer } = await setup();
  let release!: () => void;
  session.applyDelay = () => new Promise<void>((r) => (release = r));
  await committer.commit(batch(100, plan(1)), { background: true });
  assert.equal(committer.busy, true);
  assert.equal(session.checkpointPosition?.pos, 4, 'not committed yet');
  await new Promise((r) => setImmediate(r));
  release();
  await committer.settle();
  assert.equal(committer.busy, false);
  assert.equal(session.checkpointPosition?.pos, 100);

  session.applyDelay = undefined;
  session.failNextApply = () => new Error('connection lost');
  await committer.commit(batch(200, plan(2)), { background: true });
  await assert.rejects(committer.settle(), /connection lost/);
  await committer.rollback();
  assert.equal(session.checkpointPosition?.pos, 100, 'the failed batch left the checkpoint where it was');
  assert.deepEqual(Object.keys(session.tableRows('db', 't')), ['1']);
});

test('a batch a hook asked for commits inline even when the caller asked for the background', async () => {
  const hook: ReplicationHooks = {};
  const { committer } = await setup({ hooks: [hook] });
  await committer.commit(batch(100, plan(1), new Set([hook])), { background: true });
  assert.equal(committer.busy, false);
});

test('a data error halts the pipeline, naming the position; the transaction is not committed', async () => {
  const { session, committer } = await setup();
  session.failNextApply = dataError;
  await assert.rejects(committer.commit(batch(100, plan(1))), (err: unknown) => {
    assert.ok(err instanceof PipelineHaltError);
    assert.match(err.message, /the target refused a row: Duplicate entry/);
    assert.equal(err.where, 'b.1:100');
    return true;
  });
  await committer.rollback();
  assert.equal(session.checkpointPosition?.pos, 4);
  assert.deepEqual(session.tableRows('db', 't'), {});
});

test('retryRowByRow redoes the batch one row at a time in a fresh, fenced transaction', async () => {
  const { session, committer } = await setup({ onError: 'retryRowByRow' });
  session.failNextApply = dataError;
  await committer.commit(batch(100, plan(1, 2)));
  assert.deepEqual(session.log, [
    'begin',
    'fence 1 b.1:100',
    'apply db.t[-0 +2]',
    'rollback',
    'begin',
    'fence 1 b.1:100',
    'rowByRow db.t[-0 +2]',
    'commit',
  ]);
  assert.equal(session.checkpointPosition?.pos, 100);
});

test('after slices, a data error is not retried row by row (the slices would be rolled back with it)', async () => {
  const { session, committer } = await setup({ onError: 'retryRowByRow' });
  await committer.applySlice(plan(1), undefined);
  session.failNextApply = dataError;
  await assert.rejects(committer.commit(batch(100, plan(2))), PipelineHaltError);
});

test('a superseded epoch cannot commit: the fence refuses the transaction', async () => {
  const { session, committer } = await setup();
  await session.checkpoint.claim(async () => pos(4)); // a newer attempt
  await assert.rejects(committer.commit(batch(100, plan(1))), StaleEpochError);
  await committer.rollback();
  assert.deepEqual(session.tableRows('db', 't'), {});
  assert.equal(session.checkpointPosition?.pos, 4);
});

test('hooks run at their points: opened after the fence, plan rewritten before the apply, records before the commit', async () => {
  const calls: string[] = [];
  const { session, committer } = await setup();
  const hook: ReplicationHooks = {
    rewritesPlans: true,
    transactionOpened: async (s) => {
      calls.push(`opened inTx=${s.inTransaction}`);
    },
    beforeApply: async (p) => {
      calls.push('beforeApply');
      return { tables: p.tables.map((t) => ({ ...t, upserts: t.upserts.slice(0, 1) })) };
    },
    beforeCommit: async (_s, b) => {
      calls.push(`beforeCommit ${b.position.pos}`);
    },
    afterCommit: (b) => calls.push(`afterCommit ${b.position.pos}`),
    rolledBack: () => calls.push('rolledBack'),
  };
  const c2 = new BatchCommitter({
    pipeline: 'p',
    session,
    epoch: session.epoch,
    options: { onError: 'stop', missingRow: 'report' },
    hooks: new HookList([hook]),
    report: new RunReport('t'),
  });
  assert.equal(c2.canPrebuild, false, 'no statements are built ahead for a plan a hook may rewrite');
  assert.equal(committer.canPrebuild, true);
  await c2.commit(batch(100, plan(1, 2)));
  assert.deepEqual(calls, ['opened inTx=true', 'beforeApply', 'beforeCommit 100', 'afterCommit 100']);
  assert.deepEqual(Object.keys(session.tableRows('db', 't')), ['1']);
  await c2.rollback();
  assert.equal(calls.at(-1), 'rolledBack');
});
