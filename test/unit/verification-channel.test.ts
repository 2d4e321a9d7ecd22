import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { BinlogPosition, CellValue } from '../../src/binlog/types';
import {
  explains,
  type RecordedConflict,
  rowLeftBy,
  type SiteEvidence,
  splitDecided,
} from '../../src/verification/channel-conflicts';
import type { ChannelPeer } from '../../src/verification/channel-recompare';
import { settleBothSides } from '../../src/verification/channel-recompare';
import type { RowSelection } from '../../src/verification/checksum-sql';
import {
  type ChunkDigest,
  type VerifySource,
  type VerifyTarget,
  verifyChunk,
} from '../../src/verification/chunk-verifier';
import { digestMap, keyId } from '../../src/verification/classify';

/** One site in memory: rows by key (one hash each), whole-table reads. */
class Site implements VerifySource, VerifyTarget {
  waits = 0;
  onWait: () => void = () => {};
  constructor(readonly rows: Map<number, string>) {}
  private pick(sel: RowSelection): [number, string][] {
    return [...this.rows].filter(([k]) => !sel.keys || sel.keys.some((x) => x[0] === k));
  }
  async bucketDigests(sel: RowSelection, count: number): Promise<Map<number, ChunkDigest>> {
    const out = new Map<number, ChunkDigest>();
    for (const [k, v] of this.pick(sel)) {
      const d = out.get(k % count) ?? { rows: 0, sum: '' };
      out.set(k % count, { rows: d.rows + 1, sum: [d.sum, `${k}=${v}`].sort().join(';') });
    }
    return out;
  }
  async rowDigests(sel: RowSelection) {
    return this.pick(sel).map(([k, v]) => ({ key: [k] as CellValue[], hash: v }));
  }
  async columnDigests(keys: readonly CellValue[][]) {
    return new Map(keys.map((k) => [keyId(k), [this.rows.get(Number(k[0])) ?? null] as CellValue[]]));
  }
  async position(): Promise<BinlogPosition> {
    return { file: 'b.000001', pos: 4 };
  }
  async caughtUp(): Promise<void> {
    this.waits++;
    this.onWait();
  }
}

/** The opposite pipeline: waiting for it runs `onWait` (it applies what it had in flight). */
function peerOf(onWait: () => void): ChannelPeer & { waits: number } {
  const peer = {
    waits: 0,
    targetPosition: async () => ({ file: 'b.000007', pos: 4 }),
    sourceCaughtUp: async () => {
      peer.waits++;
      onWait();
    },
  };
  return peer;
}

test('two-sided settle: stable on both sites and different is real; changed on either site is in flight', () => {
  const m = (e: [number, string][]) => digestMap(e.map(([k, hash]) => ({ key: [k], hash })));
  const s1 = m([
    [1, 'a'],
    [2, 'b'],
    [3, 'c'],
    [4, 'd'],
  ]);
  const t1 = m([
    [1, 'x'],
    [2, 'b'],
    [3, 'new on target'],
    [4, 'd'],
  ]);
  const s2 = m([
    [1, 'a'],
    [2, 'b'],
    [3, 'c'],
    [4, 'd2'],
  ]);
  const t2 = m([
    [1, 'x'],
    [2, 'b'],
    [3, 'newer on target'],
    [4, 'd'],
    [5, 'only target'],
  ]);
  assert.deepEqual(settleBothSides([[1], [2], [3], [4], [5]], s1, t1, s2, t2), {
    confirmed: [{ key: [1], kind: 'different' }],
    unsettled: [[3], [4], [5]],
  });
});

test('a key just written on the target is in flight on a channel; a one-direction re-compare reports it falsely', async () => {
  const base = () =>
    new Map([
      [1, 'same'],
      [2, 'old'],
      [3, 'source row'],
    ]);
  // Key 2 was just changed on the target site; the opposite pipeline has not applied it on the source.
  // Key 3 really differs (changed on the target behind the pipelines' back).
  const make = () => {
    const source = new Site(base());
    const target = new Site(new Map([...base(), [2, 'new on target'], [3, 'diverged']]));
    return { source, target, peer: peerOf(() => source.rows.set(2, 'new on target')) };
  };

  const plain = make();
  const one = await verifyChunk(plain.source, plain.target, {}, { columns: ['v'] });
  assert.deepEqual(
    one.differences.map((d) => [d.key[0], d.kind]),
    [
      [2, 'different'],
      [3, 'different'],
    ],
    'the source side looks stable, so key 2 is (wrongly) confirmed',
  );

  const channel = make();
  const both = await verifyChunk(channel.source, channel.target, {}, { columns: ['v'], peer: channel.peer });
  assert.deepEqual(
    both.differences.map((d) => [d.key[0], d.kind, d.columns]),
    [[3, 'different', ['v']]],
  );
  assert.equal(both.unsettled, 0);
  // Three looks in a row confirm key 3 (the default), each waiting on both directions.
  assert.equal(channel.target.waits, 3, 'this direction waited for the source position');
  assert.equal(channel.peer.waits, 3, 'the opposite direction waited for the target position');
});

test('a key that keeps changing on the target site is unsettled on a channel, not reported', async () => {
  const source = new Site(new Map([[1, 'v0']]));
  const target = new Site(new Map([[1, 'w0']]));
  let n = 0;
  // The target site writes the key again whenever the opposite pipeline is waited for.
  const peer = peerOf(() => {
    n++;
    target.rows.set(1, `w${n}`);
  });
  const o = await verifyChunk(source, target, {}, { columns: ['v'], peer, attempts: 3 });
  assert.deepEqual(o.differences, []);
  assert.equal(o.unsettled, 1);
  assert.equal(peer.waits, 3);
});

const cols = [
  { name: 'id', dataType: 'int' },
  { name: 'v', dataType: 'varchar' },
  { name: 'd', dataType: 'decimal' },
];

function evidence(
  conflicts: [number, RecordedConflict][],
  rows: [number, Record<string, unknown>][],
): SiteEvidence {
  return {
    columns: cols,
    conflicts: new Map(conflicts.map(([k, c]) => [keyId([k]), c])),
    rows: new Map(rows.map(([k, r]) => [keyId([k]), r])),
  };
}

const conflict = (over: Partial<RecordedConflict>): RecordedConflict => ({
  id: 1,
  pipeline: 'p',
  op: 'update',
  resolution: 'applied',
  policy: 'sourceWins',
  sourceAfter: null,
  targetRow: null,
  ...over,
});

test('decided by policy: each site holds what its recorded resolution left; otherwise a real difference', () => {
  const diff = (k: number) => ({ key: [k] as CellValue[], kind: 'different' as const, columns: ['v'] });
  // Key 1: targetWins on both sites, each kept its own row. Key 2: sourceWins on both, the values
  // swapped. Key 3: the target's row was changed after its conflict. Key 4: no conflict at all.
  // Key 5: the source site has no row although its record says the row was kept.
  const source = evidence(
    [
      [
        1,
        conflict({
          id: 11,
          resolution: 'skipped',
          policy: 'targetWins',
          targetRow: { id: '1', v: 'a', d: '1.50' },
        }),
      ],
      [2, conflict({ id: 12, sourceAfter: { id: '2', v: 'b', d: '2' } })],
      [3, conflict({ id: 13, sourceAfter: { id: '3', v: 'b', d: '3' } })],
      [5, conflict({ id: 15, resolution: 'skipped', targetRow: { id: '5', v: 'kept', d: '5' } })],
    ],
    [
      [1, { id: 1, v: 'a', d: '1.500' }],
      [2, { id: 2, v: 'b', d: '2.000' }],
      [3, { id: 3, v: 'b', d: '3.000' }],
    ],
  );
  const target = evidence(
    [
      [
        1,
        conflict({
          id: 21,
          resolution: 'skipped',
          policy: 'targetWins',
          targetRow: { id: '1', v: 'b', d: '1.5' },
        }),
      ],
      [2, conflict({ id: 22, sourceAfter: { id: '2', v: 'a', d: '2' } })],
      [3, conflict({ id: 23, sourceAfter: { id: '3', v: 'a', d: '3' } })],
    ],
    [
      [1, { id: 1, v: 'b', d: '1.500' }],
      [2, { id: 2, v: 'a', d: '2.000' }],
      [3, { id: 3, v: 'changed behind', d: '3.000' }],
    ],
  );
  const r = splitDecided([diff(1), diff(2), diff(3), diff(4), diff(5)], source, target);
  assert.deepEqual(
    r.decided.map((d) => [d.key[0], d.conflicts.map((c) => `${c.site}#${c.conflictId}`)]),
    [
      [1, ['source#11', 'target#21']],
      [2, ['source#12', 'target#22']],
    ],
  );
  assert.deepEqual(
    r.real.map((d) => d.key[0]),
    [3, 4, 5],
  );
});

test('the row a resolution left: the target row when skipped, the after image when applied, none after a delete', () => {
  assert.deepEqual(rowLeftBy(conflict({ resolution: 'skipped', targetRow: { v: 'x' } })), { v: 'x' });
  assert.deepEqual(rowLeftBy(conflict({ sourceAfter: { v: 'y' } })), { v: 'y' });
  assert.equal(rowLeftBy(conflict({ op: 'delete', sourceAfter: null })), undefined);
  assert.equal(explains(conflict({ op: 'delete' }), undefined, cols), true);
  assert.equal(explains(conflict({ op: 'delete' }), { id: 1, v: 'x', d: '1' }, cols), false);
  assert.equal(
    explains(
      conflict({ sourceAfter: { id: '1', v: '0xff', d: '1' } }),
      { id: 1, v: Buffer.from([255]), d: '1.0' },
      cols,
    ),
    true,
  );
});
