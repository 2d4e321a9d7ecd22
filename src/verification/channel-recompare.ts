import type { BinlogPosition, CellValue } from '../binlog/types';
import type { VerifySource, VerifyTarget } from './chunk-verifier';
import { type DigestMap, digestMap, type KeyDifference, keyId, kindOf } from './classify';

/**
 * The online re-compare of a bidirectional channel (docs/verification.md, "Channels"). On a channel
 * both sites take writes: a key just written on the TARGET, whose change the opposite pipeline has not
 * applied on the source yet, looks stable on the source and differs on the target. So both sites are
 * treated as sources: both are read, both binlog positions taken, and the re-compare waits until this
 * pipeline has applied the source's position on the target AND the opposite pipeline has applied the
 * target's position on the source; then both are read again. A key whose row changed on either site
 * between the two reads is in flight; a key that held one row on each site the whole time and still
 * differs is a real difference (or a row conflict resolution decided: channel-conflicts.ts).
 */

/** The opposite direction of a channel: the target is also a source, the source also a target. */
export interface ChannelPeer {
  /** The target's binlog position now (after whatever was read from it before the call). */
  targetPosition(): Promise<BinlogPosition>;
  /** Waits until the opposite pipeline has applied the target up to `position` on the source. */
  sourceCaughtUp(position: BinlogPosition): Promise<void>;
}

/**
 * Sorts the candidates of a two-sided re-compare: `s1`/`t1` read before both sides caught up with the
 * other's position, `s2`/`t2` after. Stable on both sites and still different: confirmed. Changed on
 * either site and still different: unsettled (compared again). Equal in the second read: done.
 */
export function settleBothSides(
  candidates: readonly CellValue[][],
  s1: DigestMap,
  t1: DigestMap,
  s2: DigestMap,
  t2: DigestMap,
): { confirmed: KeyDifference[]; unsettled: CellValue[][] } {
  const confirmed: KeyDifference[] = [];
  const unsettled: CellValue[][] = [];
  for (const key of candidates) {
    const id = keyId(key);
    const kind = kindOf(s2.get(id)?.hash, t2.get(id)?.hash);
    if (!kind) continue;
    const stable = s1.get(id)?.hash === s2.get(id)?.hash && t1.get(id)?.hash === t2.get(id)?.hash;
    if (stable) confirmed.push({ key, kind });
    else unsettled.push(key);
  }
  return { confirmed, unsettled };
}

/** One attempt of the two-sided re-compare of `keys`. */
export async function recompareBothSides(
  source: VerifySource,
  target: VerifyTarget,
  peer: ChannelPeer,
  keys: CellValue[][],
): Promise<{ confirmed: KeyDifference[]; unsettled: CellValue[][] }> {
  const [s1, t1] = await Promise.all([source.rowDigests({ keys }), target.rowDigests({ keys })]);
  // Positions after the reads: whatever either site held at its first read is at or before them.
  const [onSource, onTarget] = await Promise.all([source.position(), peer.targetPosition()]);
  await Promise.all([target.caughtUp(onSource), peer.sourceCaughtUp(onTarget)]);
  const [s2, t2] = await Promise.all([source.rowDigests({ keys }), target.rowDigests({ keys })]);
  return settleBothSides(keys, digestMap(s1), digestMap(t1), digestMap(s2), digestMap(t2));
}
