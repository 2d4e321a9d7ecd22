import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { CellValue } from '../../src/binlog/types';
import { BatchMerger } from '../../src/pipeline/merge';
import type { ApplyPlan, MappedChange, Row, TableRef } from '../../src/pipeline/model';

// The merge algebra, checked against the definition: applying drain()'s plan (each table's deletes,
// then its upserts) to the target must give the same rows as replaying the source changes one by one.

const T: TableRef = { schema: 'db', table: 't' };
const keyColumnsOf = () => ['id'];

interface Plain {
  id: number;
  a: number;
  b: number;
}

type Op =
  | { kind: 'I'; id: number }
  | { kind: 'U'; id: number; cols: ('a' | 'b')[] }
  | { kind: 'K'; id: number; to: number }
  | { kind: 'D'; id: number };

/** Ids alternate between number and bigint so that the merger must treat 1 and 1n as one key. */
function idValue(id: number, step: number): CellValue {
  return step % 2 === 0 ? id : BigInt(id);
}

function toRow(r: Plain, step: number): Row {
  return new Map<string, CellValue>([
    ['id', idValue(r.id, step)],
    ['a', r.a],
    ['b', r.b],
  ]);
}

/** Replay `ops` on a copy of `initial` (the source), producing the mapped changes as the mapper would. */
function replay(initial: Map<number, Plain>, ops: Op[], fieldMode: boolean) {
  const state = new Map([...initial].map(([k, v]) => [k, { ...v }]));
  const changes: MappedChange[] = [];
  let counter = 100;
  ops.forEach((op, step) => {
    switch (op.kind) {
      case 'I': {
        const row = { id: op.id, a: counter++, b: counter++ };
        state.set(op.id, row);
        changes.push({ kind: 'insert', target: T, after: toRow(row, step) });
        break;
      }
      case 'U': {
        const before = state.get(op.id) as Plain;
        const after = { ...before };
        for (const c of op.cols) after[c] = counter++;
        state.set(op.id, after);
        const change: MappedChange = {
          kind: 'update',
          target: T,
          before: toRow(before, step),
          after: toRow(after, step + 1),
        };
        if (fieldMode) change.changedColumns = [...op.cols];
        changes.push(change);
        break;
      }
      case 'K': {
        const before = state.get(op.id) as Plain;
        const after = { ...before, id: op.to, a: counter++ };
        state.delete(op.id);
        state.set(op.to, after);
        const change: MappedChange = {
          kind: 'update',
          target: T,
          before: toRow(before, step),
          after: toRow(after, step),
        };
        if (fieldMode) change.changedColumns = ['id', 'a'];
        changes.push(change);
        break;
      }
      case 'D': {
        const before = state.get(op.id) as Plain;
        state.delete(op.id);
        changes.push({ kind: 'delete', target: T, before: toRow(before, step) });
        break;
      }
    }
  });
  return { state, changes };
}

function num(v: CellValue | undefined): number {
  return Number(v as number | bigint);
}

/** Apply a plan to a target as an applier would: deletes first, then upserts (FIELD: changed columns only). */
function applyPlan(initial: Map<number, Plain>, plan: ApplyPlan) {
  const target = new Map([...initial].map(([k, v]) => [k, { ...v }]));
  const problems: string[] = [];
  for (const table of plan.tables) {
    const seen = new Set<number>();
    for (const op of [...table.deletes, ...table.upserts]) {
      const id = num(op.key[0]);
      if (seen.has(id)) problems.push(`two ops for key ${id}`);
      seen.add(id);
    }
    for (const d of table.deletes) {
      const id = num(d.key[0]);
      if (d.expectExisting !== target.has(id))
        problems.push(`delete ${id}: expectExisting=${d.expectExisting}`);
      target.delete(id);
    }
    for (const u of table.upserts) {
      const id = num(u.key[0]);
      const existing = target.get(id);
      if (u.expectExisting && !existing) problems.push(`upsert ${id}: expected an existing row`);
      const full = { id, a: num(u.row.get('a')), b: num(u.row.get('b')) };
      if (existing && u.changedColumns) {
        for (const c of u.changedColumns) if (c === 'a' || c === 'b') existing[c] = full[c];
      } else target.set(id, full);
    }
  }
  return { target, problems };
}

/** What expectExisting must be for an upsert: the key existed and only same-key updates touched it. */
function expectedUpsertExpectExisting(initial: Map<number, Plain>, ops: Op[], id: number): boolean {
  if (!initial.has(id)) return false;
  return (
    ops.every((op) => op.id !== id || op.kind === 'U') && ops.every((op) => op.kind !== 'K' || op.to !== id)
  );
}

function choices(state: Set<number>, keys: number[]): Op[] {
  const out: Op[] = [];
  for (const id of keys) {
    if (!state.has(id)) {
      out.push({ kind: 'I', id });
      continue;
    }
    out.push({ kind: 'U', id, cols: ['a'] }, { kind: 'U', id, cols: ['b'] }, { kind: 'D', id });
    for (const to of keys) if (!state.has(to)) out.push({ kind: 'K', id, to });
  }
  return out;
}

function step(state: Set<number>, op: Op): Set<number> {
  const next = new Set(state);
  if (op.kind === 'I') next.add(op.id);
  if (op.kind === 'D') next.delete(op.id);
  if (op.kind === 'K') {
    next.delete(op.id);
    next.add(op.to);
  }
  return next;
}

function check(initialIds: number[], ops: Op[], fieldMode: boolean): void {
  const initial = new Map(initialIds.map((id) => [id, { id, a: id * 10, b: id * 10 + 1 }]));
  const { state, changes } = replay(initial, ops, fieldMode);
  const merger = new BatchMerger(keyColumnsOf);
  merger.addAll(changes);
  const opCount = merger.size();
  const plan = merger.drain();
  const { target, problems } = applyPlan(initial, plan);
  const label = `${fieldMode ? 'FIELD' : 'ROW'} initial=[${initialIds}] ops=${JSON.stringify(ops)}`;
  assert.deepEqual(problems, [], label);
  assert.deepEqual(
    [...target.values()].sort((x, y) => x.id - y.id),
    [...state.values()].sort((x, y) => x.id - y.id),
    label,
  );
  const planned = plan.tables.reduce((n, t) => n + t.deletes.length + t.upserts.length, 0);
  assert.equal(planned, opCount, `size() counts the ops of the plan: ${label}`);
  for (const u of plan.tables.flatMap((t) => t.upserts)) {
    const id = num(u.key[0]);
    assert.equal(u.expectExisting, expectedUpsertExpectExisting(initial, ops, id), `upsert ${id}: ${label}`);
  }
  assert.equal(merger.size(), 0, 'drain empties the merger');
}

describe('BatchMerger algebra', () => {
  const keys = [1, 2];
  for (const fieldMode of [false, true]) {
    test(`every sequence of up to 4 ops on 2 keys replays exactly (${fieldMode ? 'FIELD' : 'ROW'} mode)`, () => {
      let sequences = 0;
      const initials = [[], [1], [2], [1, 2]];
      for (const initialIds of initials) {
        const walk = (state: Set<number>, ops: Op[]) => {
          if (ops.length > 0) {
            check(initialIds, ops, fieldMode);
            sequences++;
          }
          if (ops.length === 4) return;
          for (const op of choices(state, keys)) walk(step(state, op), [...ops, op]);
        };
        walk(new Set(initialIds), []);
      }
      assert.ok(sequences > 1000, `enumerated ${sequences} sequences`);
    });
  }

  test('seeded random sequences of up to 16 ops on 4 keys replay exactly', () => {
    let seed = 0x5eed;
    const random = () => {
      // mulberry32: small, seeded, good enough to spread the cases
      seed = (seed + 0x6d2b79f5) | 0;
      let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
      t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
      return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    };
    const keys4 = [1, 2, 3, 4];
    for (let i = 0; i < 3000; i++) {
      const initialIds = keys4.filter(() => random() < 0.5);
      let state = new Set(initialIds);
      const ops: Op[] = [];
      const length = 1 + Math.floor(random() * 16);
      for (let j = 0; j < length; j++) {
        const options = choices(state, keys4);
        const op = options[Math.floor(random() * options.length)] as Op;
        ops.push(op);
        state = step(state, op);
      }
      check(initialIds, ops, i % 2 === 1);
    }
  });
});

describe('BatchMerger on full-row keys (tables without a primary or unique key)', () => {
  // Such a table is a multiset: identical rows may repeat, a DELETE removes one of them (LIMIT 1).
  const cols = () => ['a', 'b'];
  const kind = () => 'fullRow' as const;
  const values = [
    [1, 1],
    [1, 2],
    [2, 1],
    [2, 2],
  ] as const;
  const rowOf = (v: readonly number[]): Row =>
    new Map<string, CellValue>([
      ['a', v[0] as number],
      ['b', v[1] as number],
    ]);
  const id = (v: readonly number[]) => v.join(',');

  test('seeded random sequences with duplicate rows replay exactly, one op per change', () => {
    let seed = 77;
    const random = () => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed / 0x7fffffff;
    };
    const pick = <X>(xs: readonly X[]): X => xs[Math.floor(random() * xs.length)] as X;
    for (let i = 0; i < 3000; i++) {
      const initial: string[] = [];
      const n0 = Math.floor(random() * 4);
      for (let j = 0; j < n0; j++) initial.push(id(pick(values)));
      const source = [...initial];
      const merger = new BatchMerger(cols, () => 0, kind);
      const length = 1 + Math.floor(random() * 10);
      const log: string[] = [];
      for (let j = 0; j < length; j++) {
        const r = random();
        if (source.length === 0 || r < 0.4) {
          const v = pick(values);
          source.push(id(v));
          merger.add({ kind: 'insert', target: T, after: rowOf(v) });
          log.push(`I${id(v)}`);
        } else {
          const at = Math.floor(random() * source.length);
          const v = (source[at] as string).split(',').map(Number);
          if (r < 0.7) {
            source.splice(at, 1);
            merger.add({ kind: 'delete', target: T, before: rowOf(v) });
            log.push(`D${id(v)}`);
          } else {
            const w = pick(values);
            source[at] = id(w);
            merger.add({ kind: 'update', target: T, before: rowOf(v), after: rowOf(w) });
            log.push(`U${id(v)}>${id(w)}`);
          }
        }
      }
      const target = [...initial];
      for (const tp of merger.drain().tables) {
        for (const d of tp.deletes) {
          const at = target.indexOf(id(d.key as number[]));
          if (d.expectExisting !== false) assert.ok(at >= 0, `delete of a missing row: ${log}`);
          if (at >= 0) target.splice(at, 1);
        }
        for (const u of tp.upserts) target.push(id(u.key as number[]));
      }
      assert.deepEqual(target.sort(), source.sort(), `initial=${initial} ops=${log}`);
    }
  });

  test('two identical inserts stay two ops, in two plan entries for the same table', () => {
    const m = new BatchMerger(cols, () => 0, kind);
    m.add({ kind: 'insert', target: T, after: rowOf([1, 1]) });
    m.add({ kind: 'insert', target: T, after: rowOf([1, 1]) });
    m.add({ kind: 'update', target: T, before: rowOf([2, 2]), after: rowOf([2, 2]) });
    assert.equal(m.size(), 2);
    const plan = m.drain();
    assert.deepEqual(
      plan.tables.map((t) => t.upserts.length),
      [1, 1],
    );
  });
});

describe('BatchMerger details', () => {
  const parent: TableRef = { schema: 'db', table: 'parent' };
  const child: TableRef = { schema: 'db', table: 'child' };
  const row = (id: CellValue, extra: Record<string, CellValue> = {}): Row =>
    new Map<string, CellValue>([['id', id], ...Object.entries(extra)]);

  test('I+U is one insert-like upsert carrying the latest row', () => {
    const m = new BatchMerger(keyColumnsOf);
    m.add({ kind: 'insert', target: T, after: row(1, { v: 'x' }) });
    m.add({ kind: 'update', target: T, before: row(1, { v: 'x' }), after: row(1, { v: 'y' }) });
    const plan = m.drain();
    assert.equal(plan.tables.length, 1);
    assert.deepEqual(plan.tables[0]?.deletes, []);
    const [u] = plan.tables[0]?.upserts ?? [];
    assert.equal(u?.expectExisting, false);
    assert.equal(u?.row.get('v'), 'y');
    assert.equal(u?.changedColumns, undefined);
  });

  test('an insert then a delete leaves a delete that does not expect the row', () => {
    const m = new BatchMerger(keyColumnsOf);
    m.add({ kind: 'insert', target: T, after: row(7) });
    m.add({ kind: 'delete', target: T, before: row(7) });
    const plan = m.drain();
    assert.equal(plan.tables[0]?.deletes.length, 1);
    assert.equal(plan.tables[0]?.deletes[0]?.expectExisting, false);
    assert.equal(plan.tables[0]?.upserts.length, 0);
  });

  test('FIELD mode unites changed columns, widens nothing by itself, and goes whole-row after an insert', () => {
    const m = new BatchMerger(keyColumnsOf);
    const r = (a: number, b: number, c: number) => row(1, { a, b, c });
    m.add({ kind: 'update', target: T, before: r(0, 0, 0), after: r(1, 0, 0), changedColumns: ['a'] });
    m.add({ kind: 'update', target: T, before: r(1, 0, 0), after: r(1, 0, 2), changedColumns: ['c'] });
    m.add({ kind: 'insert', target: T, after: row(2, { a: 0, b: 0, c: 0 }) });
    m.add({
      kind: 'update',
      target: T,
      before: row(2, { a: 0, b: 0, c: 0 }),
      after: row(2, { a: 5, b: 0, c: 0 }),
      changedColumns: ['a'],
    });
    const ups = m.drain().tables[0]?.upserts ?? [];
    assert.deepEqual(ups[0]?.changedColumns, ['a', 'c']);
    assert.equal(ups[0]?.expectExisting, true);
    assert.equal(ups[1]?.changedColumns, undefined);
  });

  test('keys compare exactly: 5 and 5n are one key, "a" and "A" two, Buffers by bytes', () => {
    const m = new BatchMerger(keyColumnsOf);
    m.add({ kind: 'insert', target: T, after: row(5) });
    m.add({ kind: 'update', target: T, before: row(5n), after: row(5n, { v: 1 }) });
    m.add({ kind: 'insert', target: T, after: row('a') });
    m.add({ kind: 'insert', target: T, after: row('A') });
    m.add({ kind: 'insert', target: T, after: row(Buffer.from([1, 2])) });
    m.add({ kind: 'delete', target: T, before: row(Buffer.from([1, 2])) });
    m.add({ kind: 'insert', target: T, after: row('5') });
    assert.equal(m.size(), 5);
    const plan = m.drain().tables[0];
    assert.deepEqual(
      plan?.upserts.map((u) => u.key[0]),
      [5, 'a', 'A', '5'],
    );
    assert.equal(plan?.deletes.length, 1);
  });

  test('multi-column keys do not collide when their parts concatenate alike', () => {
    const m = new BatchMerger(() => ['x', 'y']);
    const r = (x: CellValue, y: CellValue) =>
      new Map<string, CellValue>([
        ['x', x],
        ['y', y],
      ]);
    m.add({ kind: 'insert', target: T, after: r('ab', 'c') });
    m.add({ kind: 'insert', target: T, after: r('a', 'bc') });
    m.add({ kind: 'insert', target: T, after: r(null, 'n') });
    m.add({ kind: 'insert', target: T, after: r('n', null) });
    m.add({ kind: 'insert', target: T, after: r(1, 23) });
    m.add({ kind: 'insert', target: T, after: r(12, 3) });
    assert.equal(m.size(), 6);
  });

  test('a key change chain collapses: 1→2→3 is delete 1 + upsert 3', () => {
    const m = new BatchMerger(keyColumnsOf);
    m.add({ kind: 'update', target: T, before: row(1, { v: 'a' }), after: row(2, { v: 'a' }) });
    m.add({ kind: 'update', target: T, before: row(2, { v: 'a' }), after: row(3, { v: 'b' }) });
    const plan = m.drain().tables[0];
    assert.deepEqual(
      plan?.deletes.map((d) => [d.key[0], d.expectExisting]),
      [
        [1, true],
        [2, false],
      ],
    );
    assert.deepEqual(
      plan?.upserts.map((u) => [u.key[0], u.row.get('v'), u.expectExisting]),
      [[3, 'b', false]],
    );
  });

  test('tables come out by weight, then by first appearance; empty drains are empty', () => {
    const weights = new Map([
      ['db.parent', 0],
      ['db.child', 10],
    ]);
    const m = new BatchMerger(keyColumnsOf, (t) => weights.get(`${t.schema}.${t.table}`) ?? 5);
    m.add({ kind: 'insert', target: child, after: row(1) });
    m.add({ kind: 'insert', target: { schema: 'db', table: 'other' }, after: row(1) });
    m.add({ kind: 'insert', target: { ...parent }, after: row(1) });
    m.add({ kind: 'insert', target: parent, after: row(2) });
    const plan = m.drain();
    assert.deepEqual(
      plan.tables.map((t) => [t.target.table, t.upserts.length]),
      [
        ['parent', 2],
        ['other', 1],
        ['child', 1],
      ],
    );
    assert.deepEqual(m.drain(), { tables: [] });
  });

  test('a row without its key column is refused with the reason', () => {
    const m = new BatchMerger(keyColumnsOf);
    assert.throws(
      () => m.add({ kind: 'insert', target: T, after: new Map([['v', 1]]) }),
      /key column id of db\.t is absent/,
    );
  });

  test('a partial after image keeps the columns it lacks from the earlier row', () => {
    const m = new BatchMerger(keyColumnsOf);
    m.add({ kind: 'insert', target: T, after: row(1, { a: 1, b: 2 }) });
    m.add({ kind: 'update', target: T, before: row(1), after: row(1, { b: 3 }) });
    const u = m.drain().tables[0]?.upserts[0];
    assert.deepEqual(
      [...(u?.row ?? [])],
      [
        ['id', 1],
        ['a', 1],
        ['b', 3],
      ],
    );
  });
});
