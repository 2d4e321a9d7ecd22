import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { BinlogPosition, CellValue } from '../../src/binlog/types';
import type { RowSelection } from '../../src/verification/checksum-sql';
import {
  type ChunkDigest,
  type VerifySource,
  type VerifyTarget,
  verifyChunk,
} from '../../src/verification/chunk-verifier';
import {
  Confirmations,
  diffDigests,
  differingColumns,
  digestMap,
  keyId,
  positionReached,
  settle,
} from '../../src/verification/classify';

test('digests: missing, extra and different keys; bigint and number keys are one key', () => {
  assert.equal(keyId([5n]), keyId([5]));
  assert.notEqual(keyId([18446744073709551615n]), keyId([18446744073709551614n]));
  const s = digestMap([
    { key: [1], hash: 'a' },
    { key: [2], hash: 'b' },
    { key: [3n], hash: 'c' },
  ]);
  const t = digestMap([
    { key: [1], hash: 'a' },
    { key: [3], hash: 'x' },
    { key: [4], hash: 'd' },
  ]);
  assert.deepEqual(diffDigests(s, t), [
    { key: [2], kind: 'missing' },
    { key: [3n], kind: 'different' },
    { key: [4], kind: 'extra' },
  ]);
});

test('settle: a key whose source row changed between the two reads is in flight, not a difference', () => {
  const before = digestMap([
    { key: [1], hash: 'a' },
    { key: [2], hash: 'b' },
  ]);
  const target = digestMap([
    { key: [1], hash: 'old' },
    { key: [2], hash: 'old' },
  ]);
  const after = digestMap([
    { key: [1], hash: 'a' },
    { key: [2], hash: 'b2' },
  ]);
  assert.deepEqual(settle([[1], [2]], before, target, after), {
    confirmed: [{ key: [1], kind: 'different' }],
    unsettled: [[2]],
  });
});

test('applied position: by file and position, then by MariaDB GTID domains', () => {
  assert.equal(positionReached({ file: 'b.000002', pos: 4 }, { file: 'b.000001', pos: 900 }), true);
  assert.equal(positionReached({ file: 'b.000010', pos: 4 }, { file: 'b.000009', pos: 900 }), true);
  assert.equal(positionReached({ file: 'b.000001', pos: 899 }, { file: 'b.000001', pos: 900 }), false);
  assert.equal(positionReached({ file: 'b.000001', pos: 900 }, { file: 'b.000001', pos: 900 }), true);
  assert.equal(positionReached(undefined, { file: 'b.000001', pos: 4 }), false);
  assert.equal(
    positionReached({ file: '', pos: 4, gtid: '0-1-10,1-1-5' }, { file: '', pos: 4, gtid: '0-1-9' }),
    true,
  );
  assert.equal(
    positionReached({ file: '', pos: 4, gtid: '0-1-10' }, { file: '', pos: 4, gtid: '0-1-9,1-1-1' }),
    false,
  );
  assert.deepEqual(differingColumns(['a', 'b', 'c'], [1, null, 3], [1, 0, 4]), ['b', 'c']);
});

/** One side in memory: rows by key, an optional script of changes applied at each read. */
class MemorySide implements VerifySource, VerifyTarget {
  reads = 0;
  waits = 0;
  constructor(
    readonly rows: Map<number, string[]>,
    private readonly onRead: (side: MemorySide) => void = () => {},
  ) {}
  private pick(sel: RowSelection): [number, string[]][] {
    this.onRead(this);
    this.reads++;
    return [...this.rows].filter(([k]) => {
      if (sel.keys) return sel.keys.some((x) => x[0] === k);
      if (sel.buckets && !sel.buckets.in.includes(k % sel.buckets.count)) return false;
      return (
        (sel.after === undefined || k > Number(sel.after[0])) &&
        (sel.upTo === undefined || k <= Number(sel.upTo[0]))
      );
    });
  }
  /** Bucket = key modulo the count; "sum": the sorted row texts (any order-independent aggregate will do). */
  async bucketDigests(sel: RowSelection, count: number): Promise<Map<number, ChunkDigest>> {
    const out = new Map<number, ChunkDigest>();
    for (const [k, v] of this.pick(sel)) {
      const d = out.get(k % count) ?? { rows: 0, sum: '' };
      const texts = [...d.sum.split(';').filter(Boolean), v.join('|')].sort();
      out.set(k % count, { rows: d.rows + 1, sum: texts.join(';') });
    }
    return out;
  }
  async rowDigests(sel: RowSelection) {
    return this.pick(sel).map(([k, v]) => ({ key: [k] as CellValue[], hash: v.join('|') }));
  }
  async columnDigests(keys: readonly CellValue[][]) {
    return new Map(
      keys
        .filter((k) => this.rows.has(Number(k[0])))
        .map((k) => [keyId(k), this.rows.get(Number(k[0])) as CellValue[]]),
    );
  }
  async position(): Promise<BinlogPosition> {
    return { file: 'b.000001', pos: 4 };
  }
  async caughtUp(): Promise<void> {
    this.waits++;
  }
}

const rows = (entries: [number, string[]][]) => new Map(entries);

test('equal chunks cost one aggregate per side and no wait', async () => {
  const s = new MemorySide(
    rows([
      [1, ['a', 'x']],
      [2, ['b', 'y']],
    ]),
  );
  const t = new MemorySide(
    rows([
      [1, ['a', 'x']],
      [2, ['b', 'y']],
    ]),
  );
  const o = await verifyChunk(s, t, {}, { columns: ['name', 'v'] });
  assert.deepEqual(o, { rowsSource: 2, rowsTarget: 2, differences: [], unsettled: 0 });
  assert.equal(s.reads + t.reads, 2);
  assert.equal(t.waits, 0);
});

test('a differing chunk reads the rows of its differing key buckets only', async () => {
  const many = (n: number) =>
    rows(Array.from({ length: n }, (_, i) => [i + 1, [`r${i + 1}`]] as [number, string[]]));
  const s = new MemorySide(many(640));
  const t = new MemorySide(many(640));
  t.rows.set(70, ['changed']);
  let fetched = 0;
  const count = (side: MemorySide) => {
    const rowDigests = side.rowDigests.bind(side);
    side.rowDigests = async (sel) => {
      const r = await rowDigests(sel);
      fetched += r.length;
      return r;
    };
  };
  count(s);
  count(t);
  const o = await verifyChunk(s, t, {}, { columns: ['v'] });
  assert.deepEqual(
    o.differences.map((d) => [d.key[0], d.kind]),
    [[70, 'different']],
  );
  assert.equal(o.rowsSource, 640);
  // 640 rows in 64 buckets: the first look reads bucket 70 % 64 = 6 of both sides (10 rows each);
  // then key 70 alone, three reads per look, three looks to confirm it.
  assert.ok(fetched <= 20 + 3 * 3, `rows fetched: ${fetched}`);
});

test('a real difference is reported with its columns; a row the pipeline is still applying is not', async () => {
  const target = rows([
    [1, ['a', 'x']],
    [2, ['b', 'OLD']],
    [3, ['c', 'z']],
    [5, ['e', 'e']],
  ]);
  const t = new MemorySide(target);
  // Key 2 is in flight: the pipeline applies the source's value once the target is waited for.
  const s = new MemorySide(
    rows([
      [1, ['a', 'x']],
      [2, ['b', 'y']],
      [3, ['c', 'CHANGED']],
      [4, ['d', 'd']],
    ]),
  );
  t.caughtUp = async () => {
    target.set(2, ['b', 'y']);
  };
  const o = await verifyChunk(s, t, { after: [0] }, { columns: ['name', 'v'] });
  assert.deepEqual(
    o.differences.map((d) => [d.key[0], d.kind, d.columns]),
    [
      [3, 'different', ['v']],
      [4, 'missing', []],
      [5, 'extra', []],
    ],
  );
  assert.equal(o.unsettled, 0);
});

test('a key that keeps changing on the source is left unsettled after the attempts, never reported', async () => {
  let n = 0;
  const s = new MemorySide(rows([[1, ['a', '0']]]), (side) => {
    side.rows.set(1, ['a', String(++n)]);
  });
  const t = new MemorySide(rows([[1, ['a', 'old']]]));
  const o = await verifyChunk(s, t, {}, { columns: ['name', 'v'], attempts: 3 });
  assert.deepEqual(o.differences, []);
  assert.equal(o.unsettled, 1);
  assert.equal(t.waits, 3);
});

test('a lane looks at a chunk whole first, and goes straight to key buckets after a chunk that differed', async () => {
  const many = (from: number, n: number) =>
    rows(Array.from({ length: n }, (_, i) => [from + i, [`r${from + i}`]] as [number, string[]]));
  const s = new MemorySide(many(1, 300));
  const t = new MemorySide(many(1, 300));
  t.rows.set(50, ['changed']);
  const looks: number[] = [];
  const bucketDigests = s.bucketDigests.bind(s);
  s.bucketDigests = async (sel, count) => {
    looks.push(count);
    return bucketDigests(sel, count);
  };
  const firstLook = { buckets: false };
  const chunk = (after: number, upTo: number) =>
    verifyChunk(s, t, { after: [after], upTo: [upTo] }, { columns: ['v'], firstLook });
  // Equal: one whole-range aggregate. Differing: whole range, then buckets.
  assert.equal((await chunk(0, 40)).differences.length, 0);
  const differing = await chunk(40, 80);
  assert.deepEqual(
    differing.differences.map((d) => d.key[0]),
    [50],
  );
  assert.equal(differing.rowsSource, 40);
  // After a differing chunk: buckets at once; equal, so the next one is looked at whole again.
  const after = await chunk(80, 120);
  assert.deepEqual([after.differences.length, after.rowsSource, after.rowsTarget], [0, 40, 40]);
  await chunk(120, 160);
  assert.deepEqual(looks, [1, 1, 64, 64, 1]);
});

test('a row that changes and changes back between the two source reads is not confirmed by one look', async () => {
  // Source reads show A both times, the target shows the B applied meanwhile (A → B → A): one look
  // alone would confirm it. The next looks line up differently, so it is never reported.
  const looks = [
    [{ key: [1], kind: 'different' as const, source: 'a', target: 'b' }],
    [],
    [{ key: [1], kind: 'different' as const, source: 'a', target: 'b' }],
    [{ key: [1], kind: 'missing' as const, source: 'a', target: '' }],
  ];
  const c = new Confirmations(3);
  for (const l of looks) assert.deepEqual(c.look(l, l.length ? [] : [[1]]).final, []);
  // A difference that stands still is confirmed on its third look in a row.
  const real = new Confirmations(3);
  const d = { key: [2], kind: 'different' as const, source: 'x', target: 'y' };
  assert.deepEqual(real.look([d], []).final, []);
  assert.deepEqual(real.look([d], []).final, []);
  assert.deepEqual(real.look([d], []).final, [{ key: [2], kind: 'different' }]);
});
