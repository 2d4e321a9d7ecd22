import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { RowChange, TableSchema } from '../../src/binlog/types';
import type { ApplyPlan, MappedChange, TableRef } from '../../src/pipeline/model';
import { HookList, type ReplicationHooks, type SourceGate } from '../../src/replication/hooks';
import { FakeTargetSession } from '../helpers/fake-target';

const table: TableSchema = { tableId: 1n, schema: 's', table: 't', columns: [], primaryKey: [] };
const change: RowChange = { kind: 'insert', table, after: [] };
const target: TableRef = { schema: 'x', table: 'y' };
const joined = (n: number) =>
  ({ kind: 'insert', target, after: new Map([['id', n]]) }) as unknown as MappedChange;
const gate: SourceGate = {
  offer: (it) => [it],
  endTransaction: () => ({ release: [], dropped: false, lateMark: false }),
};

test('hooks run in the order given; rows they join are concatenated; plans pass through every rewriter', async () => {
  const calls: string[] = [];
  const a: ReplicationHooks = {
    onRow: () => [joined(1)],
    beforeApply: async (p) => {
      calls.push('a.beforeApply');
      return { tables: [...p.tables, { target, deletes: [], upserts: [] }] };
    },
    beforeCommit: async () => {
      calls.push('a.beforeCommit');
    },
  };
  const b: ReplicationHooks = {
    onRow: () => [joined(2), joined(3)],
    beforeApply: async (p) => {
      calls.push(`b.beforeApply ${p.tables.length}`);
      return p;
    },
    beforeCommit: async () => {
      calls.push('b.beforeCommit');
    },
    rolledBack: () => calls.push('b.rolledBack'),
  };
  const list = new HookList([a, b]);
  assert.deepEqual(
    list.onRow(change)?.map((m) => (m.kind === 'insert' ? m.after.get('id') : undefined)),
    [1, 2, 3],
  );
  const session = new FakeTargetSession();
  const out: ApplyPlan = await list.beforeApply({ tables: [] }, session);
  assert.equal(out.tables.length, 1);
  await list.beforeCommit(session, { position: { file: 'f', pos: 1 }, wantedBy: new Set() });
  list.rolledBack();
  assert.deepEqual(calls, [
    'a.beforeApply',
    'b.beforeApply 1',
    'a.beforeCommit',
    'b.beforeCommit',
    'b.rolledBack',
  ]);
});

test('no hook joining rows costs no array; wantingCommit names exactly the hooks that asked', () => {
  let wants = false;
  const asking: ReplicationHooks = { wantsCommit: () => wants, onRow: () => undefined };
  const quiet: ReplicationHooks = { wantsCommit: () => false };
  const list = new HookList([asking, quiet]);
  assert.equal(list.onRow(change), undefined);
  assert.equal(list.anyWantsCommit(), false);
  assert.equal(list.wantingCommit().size, 0);
  wants = true;
  assert.equal(list.anyWantsCommit(), true);
  assert.deepEqual([...list.wantingCommit()], [asking]);
});

test('a gate comes from at most one hook; a hook that rewrites plans is known to the committer', () => {
  assert.equal(new HookList([{ gate }]).gate, gate);
  assert.equal(new HookList([]).gate, undefined);
  assert.throws(() => new HookList([{ gate }, { gate }]), /more than one hook supplies a source gate/);
  assert.equal(new HookList([{ rewritesPlans: true }, {}]).rewritesPlans, true);
  assert.equal(new HookList([{}]).rewritesPlans, false);
});
