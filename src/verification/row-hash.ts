import { hash } from 'node:crypto';
import { crc32 } from 'node:zlib';
import type { CanonicalValue } from '../connectors/target';
import type { ChunkDigest } from './chunk-verifier';

/**
 * Row hashes of a comparison computed in the worker (pure): both sides' rows, in canonical form
 * (connectors/canonical.ts), hashed and aggregated by the same functions, so the chunk algorithm
 * (chunk-verifier.ts) compares their digests as it compares the servers' SQL checksums.
 *
 * The hash is the first 64 bits of SHA-1 over an unambiguous encoding of the values (each value's
 * length, then its text; NULL apart from ''). Rows travel to the worker anyway, so a strong hash costs
 * little beside the read, and a changed row goes unnoticed only with odds of 2^-64.
 */

/** The encoding hashed: `N` for NULL, else `<length>:<text>`, joined by `,`. */
function encode(values: readonly CanonicalValue[]): string {
  let s = '';
  for (const v of values) s += v === null ? 'N,' : `${v.length}:${v},`;
  return s;
}

function hash64(values: readonly CanonicalValue[]): bigint {
  return hash('sha1', encode(values), 'buffer').readBigUInt64BE(0);
}

/** A row's hash as decimal text (what RowDigest.hash holds). */
export function rowHash(values: readonly CanonicalValue[]): string {
  return hash64(values).toString();
}

/** One column's hash, or null for NULL (to name the columns of a `different` row). */
export function valueHash(v: CanonicalValue): string | null {
  return v === null ? null : hash64([v]).toString();
}

/**
 * The bucket of a key, 0 … count-1, from its canonical values alone: the same on both sides. CRC32
 * is enough here: buckets only narrow the rows a differing chunk fetches, they decide nothing.
 */
export function keyBucket(key: readonly CanonicalValue[], count: number): number {
  return crc32(encode(key)) % Math.max(1, Math.floor(count));
}

/** Adds rows' hashes up per bucket: an order-independent aggregate, as the SQL path's SUM. */
export class BucketSums {
  private readonly sums = new Map<number, { rows: number; sum: bigint }>();

  add(bucket: number, hash: string): void {
    const d = this.sums.get(bucket) ?? { rows: 0, sum: 0n };
    d.rows++;
    d.sum += BigInt(hash);
    this.sums.set(bucket, d);
  }

  digests(): Map<number, ChunkDigest> {
    const out = new Map<number, ChunkDigest>();
    for (const [b, d] of this.sums) out.set(b, { rows: d.rows, sum: d.sum.toString() });
    return out;
  }
}
