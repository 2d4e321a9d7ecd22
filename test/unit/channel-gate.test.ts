import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { ColumnDef, RowChange, TableSchema } from '../../src/binlog/types';
import { ColumnType } from '../../src/binlog/types';
import { markChannelOf, TransactionGate } from '../../src/replication/channel';

function col(name: string): ColumnDef {
  return { name, type: ColumnType.VARCHAR, meta: 256, nullable: false, unsigned: false };
}

function table(schema: string, name: string, columns: string[]): TableSchema {
  return { tableId: 1n, schema, table: name, columns: columns.map(col), primaryKey: [0] };
}

const marks = table('otterflow', 'marks', ['channel', 'pipeline', 'seq', 'site_priority']);
const items = table('app', 'items', ['id', 'v']);

function mark(channel: string, kind: 'insert' | 'update' = 'update'): { change: RowChange } {
  const after = [channel, 'peer', 2n, 0];
  const change: RowChange =
    kind === 'insert'
      ? { kind, table: marks, after }
      : { kind, table: marks, before: [channel, 'peer', 1n, 0], after };
  return { change };
}

function row(id: number): { change: RowChange; id: number } {
  return { change: { kind: 'insert', table: items, after: [id, `v${id}`] }, id };
}

/** Feeds one transaction through the gate; returns the ids that came out and the verdict. */
function run(
  gate: TransactionGate<{ change: RowChange; id?: number }>,
  items: Array<{ change: RowChange; id?: number }>,
) {
  const out: number[] = [];
  for (const it of items) for (const r of gate.offer(it)) if (r.id !== undefined) out.push(r.id);
  const v = gate.endTransaction();
  for (const r of v.release) if (r.id !== undefined) out.push(r.id);
  return { out, dropped: v.dropped, lateMark: v.lateMark };
}

describe('markChannelOf', () => {
  test('reads the channel of inserted and updated mark rows, by name or (no names) the first column', () => {
    assert.equal(markChannelOf(mark('ab').change), 'ab');
    assert.equal(markChannelOf(mark('ab', 'insert').change), 'ab');
    const unnamed = table('otterflow', 'marks', ['', '', '', '']);
    assert.equal(
      markChannelOf({ kind: 'insert', table: unnamed, after: [Buffer.from('x'), 'p', 1n, 0] }),
      'x',
    );
  });
  test('deletes of marks and rows of other tables mark nothing', () => {
    assert.equal(markChannelOf({ kind: 'delete', table: marks, before: ['ab', 'p', 1n, 0] }), undefined);
    assert.equal(markChannelOf(row(1).change), undefined);
    const other = table('otterflow', 'checkpoints', ['channel']);
    assert.equal(markChannelOf({ kind: 'insert', table: other, after: ['ab'] }), undefined);
    const appMarks = table('app', 'marks', ['channel']);
    assert.equal(markChannelOf({ kind: 'insert', table: appMarks, after: ['ab'] }), undefined);
  });
});

describe('TransactionGate', () => {
  test('a transaction without a mark passes whole, in order, at its commit', () => {
    const gate = new TransactionGate('ab', 100);
    assert.deepEqual(run(gate, [row(1), row(2), row(3)]), {
      out: [1, 2, 3],
      dropped: false,
      lateMark: false,
    });
  });

  test('our mark first drops the whole transaction; the next transaction is judged afresh', () => {
    const gate = new TransactionGate('ab', 100);
    assert.deepEqual(run(gate, [mark('ab'), row(1), row(2)]), { out: [], dropped: true, lateMark: false });
    assert.deepEqual(run(gate, [row(3)]), { out: [3], dropped: false, lateMark: false });
  });

  test('a mark anywhere within the hold limit drops the rows before it too', () => {
    const gate = new TransactionGate('ab', 100);
    assert.deepEqual(run(gate, [row(1), row(2), mark('ab'), row(3)]), {
      out: [],
      dropped: true,
      lateMark: false,
    });
  });

  test('the suppress-sync channel * drops on every channel; other channels pass (cascades)', () => {
    const gate = new TransactionGate('ab', 100);
    assert.equal(run(gate, [row(1), mark('*'), row(2)]).dropped, true);
    const other = run(gate, [mark('bc'), row(4)]);
    assert.deepEqual(other.out, [4]);
    assert.equal(other.dropped, false);
  });

  test('past the hold limit changes stream through; a late mark never halves the transaction', () => {
    const gate = new TransactionGate<{ change: RowChange; id?: number }>('ab', 2);
    const seen: number[] = [];
    for (const it of [row(1), row(2), row(3)]) for (const r of gate.offer(it)) seen.push(r.id as number);
    assert.deepEqual(seen, [1, 2, 3], 'released at the limit, then passed one by one');
    assert.equal(gate.heldCount(), 0);
    assert.equal(
      gate.offer(mark('ab')).length,
      1,
      'the late mark itself passes on (a system row, ignored later)',
    );
    for (const r of gate.offer(row(4))) seen.push(r.id as number);
    const v = gate.endTransaction();
    assert.equal(v.dropped, false);
    assert.equal(v.lateMark, true);
    assert.deepEqual(seen, [1, 2, 3, 4]);
  });

  test('the reserved channel id cannot be ours', () => {
    assert.throws(() => new TransactionGate('*', 10), /reserved/);
  });
});
