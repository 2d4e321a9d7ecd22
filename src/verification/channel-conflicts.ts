import type { CellValue } from '../binlog/types';
import { sameCell } from '../replication/conflicts';
import type { ChunkDifference } from './chunk-verifier';
import { keyId } from './classify';

/**
 * Rows that conflict resolution decided (pure; docs/verification.md, "Channels"). With the
 * non-converging policy combinations (sourceWins on both pipelines swaps values, targetWins on both
 * keeps each site's own; docs/bidirectional.md) the two sites legitimately hold different rows for a
 * key that had a conflict. Such a key is not a difference when a recorded conflict explains it: on
 * each site that recorded a conflict for the key, the site's current row is what the latest recorded
 * resolution left there — `skipped`: the target row found; `applied`: the source's after image (gone
 * for a delete). A key with no record, or whose current rows are not what the resolution left (a
 * change made behind the pipelines' back since), is still a real difference.
 */

/** The latest conflict recorded for a key on one site (values as text, by this site's column names). */
export interface RecordedConflict {
  id: number;
  /** The pipeline that recorded it (the one writing into this site). */
  pipeline: string;
  op: 'update' | 'delete' | 'insert';
  resolution: 'applied' | 'skipped';
  policy: string;
  sourceAfter: Record<string, string | null> | null;
  targetRow: Record<string, string | null> | null;
}

/** One site of a channel as the decision needs it: its compared columns, conflicts and current rows by key id. */
export interface SiteEvidence {
  /** This site's names and data types of the compared columns (the row a conflict left is compared on these). */
  columns: readonly { name: string; dataType: string }[];
  conflicts: Map<string, RecordedConflict>;
  rows: Map<string, Record<string, unknown>>;
}

export interface DecidedConflict {
  site: 'source' | 'target';
  pipeline: string;
  conflictId: number;
  policy: string;
  resolution: 'applied' | 'skipped';
}

/** A differing key that conflict resolution decided, with the records that explain it. */
export interface DecidedDifference extends ChunkDifference {
  conflicts: DecidedConflict[];
}

/** The row a resolution left on the site that recorded it: undefined when it left none. */
export function rowLeftBy(c: RecordedConflict): Record<string, string | null> | undefined {
  if (c.resolution === 'skipped') return c.targetRow ?? undefined;
  return c.op === 'delete' ? undefined : (c.sourceAfter ?? undefined);
}

/** A recorded value (text; binary as 0x…) against the value read now, by data type. */
function sameRecorded(dataType: string, recorded: string | null, now: unknown): boolean {
  if (recorded === null || now === null || now === undefined)
    return recorded === null && (now === null || now === undefined);
  if (Buffer.isBuffer(now)) return recorded === `0x${now.toString('hex')}`;
  return sameCell(dataType, recorded, now);
}

/** True when the site's current row is what conflict `c` left there (on the compared columns it recorded). */
export function explains(
  c: RecordedConflict,
  current: Record<string, unknown> | undefined,
  columns: readonly { name: string; dataType: string }[],
): boolean {
  const left = rowLeftBy(c);
  if (!left || !current) return !left && !current;
  return columns.every(
    (col) => !(col.name in left) || sameRecorded(col.dataType, left[col.name] ?? null, current[col.name]),
  );
}

/**
 * Splits confirmed differences into real ones and those conflict resolution decided: decided when at
 * least one site recorded a conflict for the key and every site that did holds what it left.
 */
export function splitDecided(
  differences: readonly ChunkDifference[],
  source: SiteEvidence,
  target: SiteEvidence,
): { real: ChunkDifference[]; decided: DecidedDifference[] } {
  const real: ChunkDifference[] = [];
  const decided: DecidedDifference[] = [];
  for (const d of differences) {
    const id = keyId(d.key as CellValue[]);
    const found: DecidedConflict[] = [];
    let explained = true;
    for (const [site, ev] of [
      ['source', source],
      ['target', target],
    ] as const) {
      const c = ev.conflicts.get(id);
      if (!c) continue;
      if (!explains(c, ev.rows.get(id), ev.columns)) explained = false;
      found.push({
        site,
        pipeline: c.pipeline,
        conflictId: c.id,
        policy: c.policy,
        resolution: c.resolution,
      });
    }
    if (explained && found.length > 0) decided.push({ ...d, conflicts: found });
    else real.push(d);
  }
  return { real, decided };
}
