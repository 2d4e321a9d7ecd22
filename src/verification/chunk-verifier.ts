import type { BinlogPosition, CellValue } from '../binlog/types';
import { type ChannelPeer, recompareBothSides } from './channel-recompare';
import type { RowSelection } from './checksum-sql';
import {
  Confirmations,
  type DigestMap,
  diffDigests,
  differingColumns,
  digestMap,
  type KeyDifference,
  keyId,
  type RowDigest,
  settle,
} from './classify';
import type { DifferenceKind } from './contract';

/**
 * One chunk's online comparison, written against two small interfaces so that it knows nothing of
 * connections or SQL dialects (src/verification/mysql-side.ts implements them for MySQL/MariaDB).
 *
 * 1. Both sides' aggregates (COUNT, SUM of row hashes) over the key range: equal → done. Otherwise
 *    the same per bucket of keys (64 buckets by a hash of the key, in one GROUP BY per side); a lane
 *    whose previous chunk differed starts there (FirstLook).
 * 2. Otherwise both sides' per-row (key, hash) lists of the differing buckets only, read at once: the
 *    keys that differ now are the candidates (a real difference cannot hide from this look; changes in flight add candidates).
 * 3. Repeat at most `attempts` times on the candidates: read the source's row digests, then its binlog
 *    position P; wait until the pipeline has applied P on the target; read the target's digests; read
 *    the source again for the keys that differ. A key whose source row did not change between the two
 *    source reads and still differs on the target is confirmed by this look; a key that changed is in
 *    flight and is compared again (see classify.ts `settle`). A difference is real once `confirmations`
 *    looks in a row confirm it with the same rows (classify.ts `Confirmations`: a row changed and
 *    changed back between two reads fools one look).
 * 4. The target columns of `different` rows come from per-column hashes of both sides.
 */

/** The aggregate of a set of rows. */
export interface ChunkDigest {
  rows: number;
  /** SUM of the row hashes, as decimal text. */
  sum: string;
}

/** What a verification reads from either side. */
export interface DigestReader {
  /** Aggregates of the selected rows per key bucket (absent bucket: no rows), `count` buckets. */
  bucketDigests(selection: RowSelection, count: number): Promise<Map<number, ChunkDigest>>;
  rowDigests(selection: RowSelection): Promise<RowDigest[]>;
  /** One hash per compared column (NULL for NULL), by key identity (classify.ts keyId). */
  columnDigests(keys: readonly CellValue[][]): Promise<Map<string, CellValue[]>>;
}

export interface VerifySource extends DigestReader {
  /** The source's binlog position now (after whatever was read before the call). */
  position(): Promise<BinlogPosition>;
}

export interface VerifyTarget extends DigestReader {
  /** Waits until the pipeline has applied the source up to `position` (throws on timeout or abort). */
  caughtUp(position: BinlogPosition): Promise<void>;
}

export interface ChunkDifference {
  key: CellValue[];
  kind: DifferenceKind;
  /** `different`: target names of the differing columns. */
  columns: string[];
}

export interface ChunkOutcome {
  rowsSource: number;
  rowsTarget: number;
  differences: ChunkDifference[];
  /** Keys that changed on the source in every attempt: not reported. */
  unsettled: number;
}

/** Key buckets a chunk's aggregate is split into (a differing chunk fetches rows of its differing buckets only). */
export const BUCKETS = 64;

export interface ChunkVerifyOptions {
  /** Target names of the compared columns (for `different`). */
  columns: readonly string[];
  /** Re-compares of keys in flight before giving up on them (default 8). */
  attempts?: number;
  /** Looks in a row that must confirm a difference with the same rows on both sides (default 3). */
  confirmations?: number;
  /** Shared by the consecutive chunks of one lane: which first look to take (see FirstLook). */
  firstLook?: FirstLook;
  /** The user's condition (source side): rows only on the target are then not looked for. */
  where?: string;
  /** Compare only these keys (a repair's second look): no aggregate, no range. */
  keys?: CellValue[][];
  /** On a bidirectional channel: the opposite direction, so the re-compare treats both sites as sources. */
  peer?: ChannelPeer;
}

/**
 * The first look at a chunk: the whole range (one plain aggregate per side, the cheapest scan when
 * the chunk is equal) or straight to key buckets (one GROUP BY per side: cheaper when the chunk
 * differs, as chunks do in a row under source writes, since a differing whole range is read again
 * per bucket). After a chunk whose first look differed, the next one starts with buckets; after an
 * equal one, with the whole range.
 */
export interface FirstLook {
  buckets: boolean;
}

export async function verifyChunk(
  source: VerifySource,
  target: VerifyTarget,
  range: Pick<RowSelection, 'after' | 'upTo' | 'keyRange'>,
  o: ChunkVerifyOptions,
): Promise<ChunkOutcome> {
  const where = o.where;
  let rowsSource = 0;
  let rowsTarget = 0;
  let narrowed: RowSelection = range;
  if (where === undefined && !o.keys) {
    const look = o.firstLook ?? { buckets: false };
    if (!look.buckets) {
      // The whole range first (one bucket: no grouping); only a chunk that differs is split into key buckets.
      const [sw, tw] = await Promise.all([source.bucketDigests(range, 1), target.bucketDigests(range, 1)]);
      const [x, y] = [sw.get(0), tw.get(0)];
      rowsSource = x?.rows ?? 0;
      rowsTarget = y?.rows ?? 0;
      look.buckets = rowsSource !== rowsTarget || (x?.sum ?? '0') !== (y?.sum ?? '0');
      if (!look.buckets) return { rowsSource, rowsTarget, differences: [], unsettled: 0 };
    }
    const [s, t] = await Promise.all([
      source.bucketDigests(range, BUCKETS),
      target.bucketDigests(range, BUCKETS),
    ]);
    const differing: number[] = [];
    rowsSource = 0;
    rowsTarget = 0;
    for (let b = 0; b < BUCKETS; b++) {
      const x = s.get(b);
      const y = t.get(b);
      rowsSource += x?.rows ?? 0;
      rowsTarget += y?.rows ?? 0;
      if ((x?.rows ?? 0) !== (y?.rows ?? 0) || (x?.sum ?? '0') !== (y?.sum ?? '0')) differing.push(b);
    }
    look.buckets = differing.length > 0;
    // All buckets equal (now): what differed was in flight (a real difference does not come and go).
    if (differing.length === 0) return { rowsSource, rowsTarget, differences: [], unsettled: 0 };
    narrowed = { ...range, buckets: { count: BUCKETS, in: differing } };
  }
  const confirmed: KeyDifference[] = [];
  // First look: both sides at once, no waiting. Keys that agree now are done (a real difference does
  // not come and go); the rest are candidates for the careful look below.
  let keys: CellValue[][] | undefined = o.keys;
  if (!keys) {
    let before: DigestMap;
    let tgt: DigestMap;
    if (where === undefined) {
      const [s, t] = await Promise.all([source.rowDigests(narrowed), target.rowDigests(narrowed)]);
      before = digestMap(s);
      tgt = digestMap(t);
    } else {
      // With a condition only the source knows which rows are in: the target is read by their keys.
      before = digestMap(await source.rowDigests({ ...range, where }));
      tgt = before.size === 0 ? new Map() : digestMap(await target.rowDigests({ keys: keysOf(before) }));
    }
    if (where !== undefined) {
      rowsSource = before.size;
      rowsTarget = tgt.size;
    }
    keys = diffDigests(before, tgt).map((d) => d.key);
  } else {
    rowsSource = keys.length;
    rowsTarget = keys.length;
  }
  const needed = Math.max(1, o.confirmations ?? 3);
  const attempts = Math.max(needed, o.attempts ?? 8);
  const streaks = new Confirmations(needed);
  for (let attempt = 0; attempt < attempts && keys.length > 0; attempt++) {
    if (o.peer) {
      const r = await recompareBothSides(source, target, o.peer, keys);
      const c = streaks.look(r.confirmed, r.unsettled);
      confirmed.push(...c.final);
      keys = c.again;
      continue;
    }
    const before = digestMap(await source.rowDigests({ keys }));
    await target.caughtUp(await source.position());
    const tgt = digestMap(await target.rowDigests({ keys }));
    const candidates = diffDigests(before, tgt).map((d) => d.key);
    if (candidates.length === 0) {
      keys = [];
      break;
    }
    const after = digestMap(await source.rowDigests({ keys: candidates }));
    const r = settle(candidates, before, tgt, after);
    const seen = r.confirmed.map((d) => {
      const id = keyId(d.key);
      return { ...d, source: String(before.get(id)?.hash ?? ''), target: String(tgt.get(id)?.hash ?? '') };
    });
    const c = streaks.look(seen, r.unsettled);
    confirmed.push(...c.final);
    keys = c.again;
  }
  const differences = await nameColumns(source, target, confirmed, o.columns);
  return { rowsSource, rowsTarget, differences, unsettled: keys.length };
}

function keysOf(m: DigestMap): CellValue[][] {
  return [...m.values()].map((r) => r.key);
}

async function nameColumns(
  source: DigestReader,
  target: DigestReader,
  found: readonly KeyDifference[],
  columns: readonly string[],
): Promise<ChunkDifference[]> {
  const different = found.filter((d) => d.kind === 'different').map((d) => d.key);
  let s = new Map<string, CellValue[]>();
  let t = new Map<string, CellValue[]>();
  if (different.length)
    [s, t] = await Promise.all([source.columnDigests(different), target.columnDigests(different)]);
  return found.map((d) => {
    if (d.kind !== 'different') return { key: d.key, kind: d.kind, columns: [] };
    const id = keyId(d.key);
    const named = differingColumns(columns, s.get(id) ?? [], t.get(id) ?? []);
    // The row changed again between the digests and this read: the whole row is what differed.
    return { key: d.key, kind: d.kind, columns: named.length ? named : [...columns] };
  });
}
