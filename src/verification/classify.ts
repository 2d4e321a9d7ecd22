import type { BinlogPosition, CellValue } from '../binlog/types';
import { encodeKey } from '../pipeline/values';
import type { DifferenceKind } from './contract';

/**
 * Comparing per-row digests and telling real differences from changes in flight (pure).
 */

/** One row's key (target key order) and row hash, as either side reads it. */
export interface RowDigest {
  key: CellValue[];
  hash: string;
}

/** Rows by key identity: the hash, or absent. */
export type DigestMap = Map<string, RowDigest>;

const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);

/**
 * A key's identity across sides: BIGINT comes back as bigint and INT as number, and a key column may
 * be one on the source and the other on the target, so integers are normalised first.
 */
export function keyId(key: readonly CellValue[]): string {
  return encodeKey(
    key.map((v) => (typeof v === 'bigint' && v <= MAX_SAFE && v >= -MAX_SAFE ? Number(v) : v)),
  );
}

export function digestMap(rows: readonly RowDigest[]): DigestMap {
  const m: DigestMap = new Map();
  for (const r of rows) m.set(keyId(r.key), r);
  return m;
}

/** What a target row is compared with what the source holds; undefined when they agree. */
export function kindOf(source: string | undefined, target: string | undefined): DifferenceKind | undefined {
  if (source === undefined) return target === undefined ? undefined : 'extra';
  if (target === undefined) return 'missing';
  return source === target ? undefined : 'different';
}

export interface KeyDifference {
  key: CellValue[];
  kind: DifferenceKind;
}

/** Every key whose rows differ between the two digest lists. */
export function diffDigests(source: DigestMap, target: DigestMap): KeyDifference[] {
  const out: KeyDifference[] = [];
  for (const [id, s] of source) {
    const kind = kindOf(s.hash, target.get(id)?.hash);
    if (kind) out.push({ key: s.key, kind });
  }
  for (const [id, t] of target) if (!source.has(id)) out.push({ key: t.key, kind: 'extra' });
  return out;
}

/**
 * Sorts the candidates of a re-compare. The source was read twice (`before`, then `after`), and the
 * target in between, once the pipeline had applied everything up to the first source read. A key whose
 * source row is the same in both reads held that row the whole time, so the target must hold it too:
 * if it does not, the difference is real (`confirmed`). A key whose source row changed between the
 * reads is still in flight (`unsettled`): compare it again later.
 */
export function settle(
  candidates: readonly CellValue[][],
  before: DigestMap,
  target: DigestMap,
  after: DigestMap,
): { confirmed: KeyDifference[]; unsettled: CellValue[][] } {
  const confirmed: KeyDifference[] = [];
  const unsettled: CellValue[][] = [];
  for (const key of candidates) {
    const id = keyId(key);
    const s1 = before.get(id)?.hash;
    const s2 = after.get(id)?.hash;
    if (s1 !== s2) {
      unsettled.push(key);
      continue;
    }
    const kind = kindOf(s2, target.get(id)?.hash);
    if (kind) confirmed.push({ key, kind });
  }
  return { confirmed, unsettled };
}

/** Names of the columns whose hashes differ (same order as `names`). */
export function differingColumns(
  names: readonly string[],
  source: readonly (CellValue | undefined)[],
  target: readonly (CellValue | undefined)[],
): string[] {
  const out: string[] = [];
  names.forEach((n, i) => {
    const a = source[i] ?? null;
    const b = target[i] ?? null;
    if (String(a) !== String(b) || (a === null) !== (b === null)) out.push(n);
  });
  return out;
}

/** Splits `mysql-bin.000012` into its base and number, for ordering binlog files. */
function fileOrder(file: string): [string, number] {
  const m = /^(.*)\.(\d+)$/.exec(file);
  return m ? [m[1] as string, Number(m[2])] : [file, 0];
}

/**
 * True when the pipeline's applied position `applied` (its checkpoint on the target) is at or past
 * `wanted` (a source position read after a chunk was read). By file and position when both have a
 * file; else by MariaDB GTID (every domain of `wanted` reached). Undefined `applied`: false.
 */
export function positionReached(applied: BinlogPosition | undefined, wanted: BinlogPosition): boolean {
  if (!applied) return false;
  if (applied.file && wanted.file) {
    const [ab, an] = fileOrder(applied.file);
    const [wb, wn] = fileOrder(wanted.file);
    if (ab === wb && an !== wn) return an > wn;
    if (ab !== wb) return applied.file > wanted.file;
    return applied.pos >= wanted.pos;
  }
  if (applied.gtid !== undefined && wanted.gtid !== undefined) {
    const seqs = (g: string) => {
      const m = new Map<string, bigint>();
      for (const part of g
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean)) {
        const [domain, , seq] = part.split('-');
        if (domain !== undefined && seq !== undefined) m.set(domain, BigInt(seq));
      }
      return m;
    };
    const have = seqs(applied.gtid);
    for (const [domain, seq] of seqs(wanted.gtid)) if ((have.get(domain) ?? -1n) < seq) return false;
    return true;
  }
  return false;
}

/**
 * A look's confirmed difference only counts once it has been confirmed in `needed` looks in a row with
 * the same source and target rows (the same digests): the two source reads of one look can agree
 * while the row changed and changed back in between (A → B → A) and the target showed the B the
 * pipeline had applied meanwhile. A real difference stands still and is confirmed in every look; a row
 * toggling in flight rarely lines up the same way several looks in a row. Pure; one per chunk.
 */
export class Confirmations {
  private streak = new Map<string, { kind: DifferenceKind; look: string; count: number }>();

  constructor(private readonly needed: number) {}

  /**
   * Feeds one look: `confirmed` (with what each side showed) and every other key compared in it.
   * Returns the differences confirmed often enough and the keys to look at again.
   */
  look(
    confirmed: readonly (KeyDifference & { source?: string; target?: string })[],
    others: readonly CellValue[][],
  ): { final: KeyDifference[]; again: CellValue[][] } {
    const next = new Map<string, { kind: DifferenceKind; look: string; count: number }>();
    const final: KeyDifference[] = [];
    const again: CellValue[][] = [...others];
    for (const d of confirmed) {
      const id = keyId(d.key);
      const look = `${d.kind}|${d.source ?? ''}|${d.target ?? ''}`;
      const prev = this.streak.get(id);
      const count = prev && prev.look === look ? prev.count + 1 : 1;
      if (count >= this.needed) final.push({ key: d.key, kind: d.kind });
      else {
        next.set(id, { kind: d.kind, look, count });
        again.push(d.key);
      }
    }
    this.streak = next;
    return { final, again };
  }
}
