import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { BatchPolicy } from '../../src/pipeline/batching';

/** Feed one transaction of `rows` changes at time `now`, merging `opsPerRow` ops per row; returns the decisions. */
function transaction(p: BatchPolicy, rows: number, now: number, held: { ops: number }) {
  const decisions: string[] = [];
  p.beginTransaction(now);
  for (let i = 0; i < rows; i++) {
    held.ops++;
    const d = p.rowChanges(1, held.ops, now);
    if (d === 'flush') {
      decisions.push('flush');
      held.ops = 0;
    }
  }
  const end = p.endTransaction(now);
  if (end === 'commit') {
    decisions.push('commit');
    held.ops = 0;
    p.committed();
  }
  return decisions;
}

describe('BatchPolicy', () => {
  test('commits only at transaction ends, once the row count is reached', () => {
    const p = new BatchPolicy({ maxRowChanges: 250, maxDelayMs: 1_000_000 });
    const held = { ops: 0 };
    const decisions = [0, 1, 2, 3, 4].map(() => transaction(p, 100, 0, held).join(','));
    // 100, 200 → continue; 300 ≥ 250 → commit; then 100, 200 again
    assert.deepEqual(decisions, ['', '', 'commit', '', '']);
  });

  test('commits at the first boundary after the delay, counted from the batch opening', () => {
    const p = new BatchPolicy({ maxRowChanges: 1000, maxDelayMs: 200 });
    const held = { ops: 0 };
    assert.deepEqual(transaction(p, 1, 1000, held), []);
    assert.deepEqual(transaction(p, 1, 1150, held), []);
    assert.deepEqual(transaction(p, 1, 1200, held), ['commit']);
    assert.equal(p.snapshot().openedAt, undefined);
    assert.deepEqual(transaction(p, 1, 1300, held), []);
    assert.equal(p.snapshot().openedAt, 1300);
  });

  test('an idle stream commits on tick at the deadline, never inside a transaction', () => {
    const p = new BatchPolicy({ maxRowChanges: 1000, maxDelayMs: 200 });
    assert.equal(p.tick(0), 'continue', 'nothing held');
    assert.equal(p.deadline(), undefined);
    p.beginTransaction(100);
    p.rowChanges(1, 1, 100);
    p.endTransaction(100);
    assert.equal(p.deadline(), 300);
    assert.equal(p.tick(299), 'continue');
    p.beginTransaction(299);
    assert.equal(p.tick(10_000), 'continue', 'a transaction is open');
    assert.equal(p.deadline(), undefined);
    assert.equal(p.endTransaction(10_000), 'commit');
  });

  test('a huge transaction flushes in bounded sub-batches and commits once at its end', () => {
    const p = new BatchPolicy({ maxRowChanges: 6000, maxDelayMs: 200 });
    const held = { ops: 0 };
    let peak = 0;
    let flushes = 0;
    p.beginTransaction(0);
    for (let i = 0; i < 1_000_000; i++) {
      held.ops++;
      peak = Math.max(peak, held.ops);
      if (p.rowChanges(1, held.ops, i / 1000) === 'flush') {
        flushes++;
        held.ops = 0;
      }
      assert.equal(p.tick(i / 1000), 'continue');
    }
    assert.equal(peak, 12_000, 'at most twice the batch size is held');
    assert.equal(flushes, Math.floor(1_000_000 / 12_000));
    assert.equal(p.snapshot().rowChanges, 1_000_000);
    assert.equal(p.endTransaction(1000), 'commit');
  });

  test('merged ops, not row changes, bound memory: updates of one row never flush', () => {
    const p = new BatchPolicy({ maxRowChanges: 10, maxDelayMs: 200 });
    p.beginTransaction(0);
    for (let i = 0; i < 100; i++) assert.equal(p.rowChanges(1, 1, 0), 'continue');
    assert.equal(p.endTransaction(0), 'commit', 'the row count still ends the batch');
  });

  test('an explicit buffer limit flushes at that many ops', () => {
    const p = new BatchPolicy({ maxRowChanges: 100, maxDelayMs: 200, maxBufferedOps: 3 });
    const held = { ops: 0 };
    assert.deepEqual(transaction(p, 7, 0, held), ['flush', 'flush']);
    assert.equal(p.snapshot().flushes, 2);
  });

  test('fromOptions reads batchSize and maxBatchDelayMs', () => {
    const p = BatchPolicy.fromOptions({ batchSize: 2, maxBatchDelayMs: 50 });
    p.beginTransaction(0);
    p.rowChanges(1, 1, 0);
    assert.equal(p.endTransaction(0), 'continue');
    p.beginTransaction(0);
    p.rowChanges(1, 2, 0);
    assert.equal(p.endTransaction(0), 'commit');
  });
});
