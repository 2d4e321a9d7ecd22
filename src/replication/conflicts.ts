import type { CellValue } from '../binlog/types';
import { describeKey, describeValue, type TableInfoSource } from '../connectors/dialect';
import type { ConflictPolicy } from '../pipeline/config';
import {
  type ApplyPlan,
  type MergedOp,
  type Row,
  type TablePlan,
  type TargetTableInfo,
  tableKey,
} from '../pipeline/model';

/**
 * Write-conflict detection for active-active channels (docs/bidirectional.md). Otter has none; here a
 * channel pipeline compares, before applying an UPDATE or DELETE, the target's current row with the
 * source's BEFORE image (the first one of the key in the batch). If they differ, the row was changed
 * on the target side concurrently: a conflict, resolved by the configured policy and recorded.
 * An INSERT (an upsert without a before image: the source had no row) whose key the target already
 * holds, with other values, is a conflict too — the same key inserted on both sites.
 *
 * Pure logic apart from the injected {@link TargetRowReader} (connectors/mysql/marks.ts reads the
 * rows, locked, in the batch transaction: one SELECT … WHERE key IN (…) per chunk).
 */

/** A target row as the driver returned it, by column name (mysql2 with exact strings, see openMysql). */
export type TargetRow = Record<string, unknown>;

/** Reads the current target rows of some keys inside the open batch transaction (and locks them). */
export interface TargetRowReader {
  read(info: TargetTableInfo, keys: CellValue[][], columns: string[]): Promise<TargetRow[]>;
}

/** The opposite pipeline of the channel, as registered in our SOURCE's mark table. */
export interface PeerSite {
  pipeline: string;
  sitePriority: number;
}

export type ConflictResolution = 'applied' | 'skipped';

export const CONFLICT_OPS = ['update', 'delete', 'insert'] as const;
export type ConflictOp = (typeof CONFLICT_OPS)[number];

/** One detected conflict, as stored in the target's `otterflow.conflicts` and listed by the API. */
export interface ConflictRecord {
  pipeline: string;
  channel: string;
  /** `schema.table` on the target. */
  table: string;
  /** What the source did: an UPDATE (or a replace) of the row, a DELETE, or an INSERT of a key the target had. */
  op: ConflictOp;
  key: Record<string, string>;
  /** Column → value as text (binary as 0x…, NULL as null); null for an INSERT (the source had no row). */
  sourceBefore: Record<string, string | null> | null;
  /** The row the source wants written (null for a DELETE). */
  sourceAfter: Record<string, string | null> | null;
  /** The target row found (null: the target had no row any more). */
  targetRow: Record<string, string | null> | null;
  /** applied: the source's change was written; skipped: the target row was kept. */
  resolution: ConflictResolution;
  policy: ConflictPolicy;
  /** Why this resolution (which rule decided). */
  reason: string;
}

export interface ConflictSettings {
  policy: ConflictPolicy;
  /** lastWriterWins: target column compared. */
  column?: string;
  /** This pipeline's site priority. */
  sitePriority: number;
}

export interface ConflictCheckerOptions {
  pipeline: string;
  channel: string;
  settings: ConflictSettings;
  tables: TableInfoSource;
  reader: TargetRowReader;
  /** The opposite pipeline (for sitePriority and ties); undefined when it never registered. */
  peer: () => Promise<PeerSite | undefined>;
  warn: (message: string) => void;
}

type Op = MergedOp;
type UpsertOp = Extract<MergedOp, { kind: 'upsert' }>;

/**
 * Checks a plan against the target before it is applied. Use one per replicate run of a channel
 * pipeline: `const { plan, conflicts } = await checker.check(merged)` inside the open target
 * transaction, apply `plan`, store `conflicts` in the same transaction.
 */
export class ConflictChecker {
  private warnedFullRow = new Set<string>();

  constructor(private readonly opts: ConflictCheckerOptions) {}

  async check(plan: ApplyPlan): Promise<{ plan: ApplyPlan; conflicts: ConflictRecord[] }> {
    const conflicts: ConflictRecord[] = [];
    const tables: TablePlan[] = [];
    for (const tp of plan.tables) {
      // Upserts without a before image are the source's INSERTs: checked for a key the target already has.
      // Re-sync copies are not: repairing whatever the target holds is their purpose.
      const candidates: Op[] = [
        ...tp.deletes.filter((op) => op.sourceBefore !== undefined),
        ...tp.upserts.filter((op) => op.sourceBefore !== undefined || !op.fromResync),
      ];
      if (candidates.length === 0) {
        tables.push(tp);
        continue;
      }
      const info = await this.opts.tables.get(tp.target);
      if (info.keyKind === 'fullRow') {
        const name = tableKey(info.ref);
        if (!this.warnedFullRow.has(name)) {
          this.warnedFullRow.add(name);
          this.opts.warn(`${name} has no primary or unique key: write conflicts on it are not detected`);
        }
        tables.push(tp);
        continue;
      }
      const types = columnTypesOf(info);
      const present = new Set(info.columns);
      const wanted = new Set(info.keyColumns);
      if (this.opts.settings.column) wanted.add(this.opts.settings.column);
      for (const op of candidates)
        for (const c of (op.sourceBefore ?? (op as UpsertOp).row).keys()) wanted.add(c);
      const columns = [...wanted].filter((c) => present.has(c));
      const found = new RowIndex(info.keyColumns, types);
      for (const row of await this.opts.reader.read(
        info,
        candidates.map((op) => op.key),
        columns,
      ))
        found.add(row);

      const skipped = new Set<Op>();
      for (const op of candidates) {
        const target = found.find(op.key);
        if (!conflictsWith(op, target, types, present)) continue;
        const decided = await this.decide(op, target, types);
        conflicts.push(this.record(info, op, target, decided));
        if (decided.resolution === 'skipped') skipped.add(op);
      }
      tables.push(
        skipped.size === 0
          ? tp
          : {
              ...tp,
              deletes: tp.deletes.filter((op) => !skipped.has(op)),
              upserts: tp.upserts.filter((op) => !skipped.has(op)),
            },
      );
    }
    return { plan: { tables }, conflicts };
  }

  private async decide(
    op: Op,
    target: TargetRow | undefined,
    types: Record<string, string>,
  ): Promise<{ resolution: ConflictResolution; reason: string }> {
    const s = this.opts.settings;
    switch (s.policy) {
      case 'sourceWins':
        return { resolution: 'applied', reason: 'policy sourceWins' };
      case 'targetWins':
        return { resolution: 'skipped', reason: 'policy targetWins' };
      case 'lastWriterWins': {
        const column = s.column ?? '';
        const src = op.kind === 'upsert' ? op.row.get(column) : undefined;
        const tgt = target?.[column];
        const cmp =
          src === undefined || tgt === undefined ? undefined : compareVersions(src, tgt, types[column]);
        if (cmp !== undefined && cmp > 0)
          return {
            resolution: 'applied',
            reason: `${column}: source ${describe(src)} > target ${describe(tgt)}`,
          };
        if (cmp !== undefined && cmp < 0)
          return {
            resolution: 'skipped',
            reason: `${column}: source ${describe(src)} < target ${describe(tgt)}`,
          };
        const why =
          cmp === 0
            ? `${column} equal (${describe(src)})`
            : op.kind === 'delete'
              ? 'a DELETE has no after image'
              : target === undefined
                ? 'the target row is gone'
                : `${column} not comparable`;
        return this.bySitePriority(`${why}; `);
      }
      case 'sitePriority':
        return this.bySitePriority('');
    }
  }

  /** The pipeline with the higher site priority wins; equal priorities: the greater pipeline name. */
  private async bySitePriority(prefix: string): Promise<{ resolution: ConflictResolution; reason: string }> {
    const own = this.opts.settings.sitePriority;
    const peer = await this.opts.peer();
    if (!peer) {
      this.opts.warn(
        'the opposite pipeline of the channel has not registered its site priority on our source yet: ' +
          'taken as 0 for conflict resolution',
      );
    }
    const other = peer?.sitePriority ?? 0;
    const otherName = peer?.pipeline ?? '';
    const wins = own !== other ? own > other : this.opts.pipeline > otherName;
    const rule =
      own !== other
        ? `site priority ${own} vs ${other}`
        : `site priorities equal (${own}); pipeline name ${this.opts.pipeline} vs ${otherName || '(unknown)'}`;
    return { resolution: wins ? 'applied' : 'skipped', reason: `${prefix}${rule}` };
  }

  private record(
    info: TargetTableInfo,
    op: Op,
    target: TargetRow | undefined,
    decided: { resolution: ConflictResolution; reason: string },
  ): ConflictRecord {
    return {
      pipeline: this.opts.pipeline,
      channel: this.opts.channel,
      table: tableKey(info.ref),
      op: op.kind === 'delete' ? 'delete' : op.sourceBefore ? 'update' : 'insert',
      key: describeKey(info.keyColumns, op.key),
      sourceBefore: op.sourceBefore ? rowText(op.sourceBefore) : null,
      sourceAfter: op.kind === 'upsert' ? rowText(op.row) : null,
      targetRow: target ? targetText(target) : null,
      resolution: decided.resolution,
      policy: this.opts.settings.policy,
      reason: decided.reason,
    };
  }
}

/**
 * True when applying `op` would overwrite a concurrent target change: the target row differs from the
 * source's before image in a compared column (FIELD mode: only the columns the source changed), or an
 * UPDATE finds the row gone. A DELETE of a row that is already gone is no conflict (both sides agree).
 * An upsert without a before image (the source INSERTed the key) conflicts when the target already has
 * the key with a different row; the same row inserted on both sides is no conflict.
 */
export function conflictsWith(
  op: MergedOp,
  target: TargetRow | undefined,
  types: Record<string, string>,
  targetColumns: ReadonlySet<string>,
): boolean {
  const before = op.sourceBefore;
  if (!before) {
    if (op.kind !== 'upsert' || !target) return false;
    for (const [c, v] of op.row) {
      if (targetColumns.has(c) && !sameCell(types[c], v, target[c])) return true;
    }
    return false;
  }
  if (!target) return op.kind === 'upsert';
  const compared = op.kind === 'upsert' && op.changedColumns ? op.changedColumns : [...before.keys()];
  for (const c of compared) {
    if (!targetColumns.has(c) || !before.has(c)) continue;
    if (!sameCell(types[c], before.get(c), target[c])) return true;
  }
  return false;
}

const TEMPORAL = new Set(['date', 'datetime', 'timestamp', 'time']);
const INTEGER = new Set(['tinyint', 'smallint', 'mediumint', 'int', 'integer', 'bigint', 'year']);

/**
 * Whether a source value (binlog CellValue) and a target value (driver value) are the same stored
 * value, by the target column's data type. Exact — no collation folding: a case change on the target
 * is a change. FLOAT compares as float32 (the reader selects it as `c + 0e0`, an exact double), DOUBLE
 * to 1e-15 relative, DECIMAL numerically, temporal text with fractions padded, JSON structurally.
 */
export function sameCell(
  dataType: string | undefined,
  source: CellValue | undefined,
  target: unknown,
): boolean {
  if (source === undefined) return true; // not in the image (MINIMAL/NOBLOB): nothing to compare
  if (source === null || target === null || target === undefined)
    return source === null && (target === null || target === undefined);
  const t = (dataType ?? '').toLowerCase();
  if (Buffer.isBuffer(source) || Buffer.isBuffer(target)) return asBuffer(source).equals(asBuffer(target));
  if (t === 'float') return Math.fround(Number(source)) === Math.fround(Number(target));
  if (t === 'double' || t === 'real') {
    const a = Number(source);
    const b = Number(target);
    return a === b || Math.abs(a - b) <= 1e-15 * Math.max(Math.abs(a), Math.abs(b));
  }
  return canonical(t, source) === canonical(t, target);
}

/** One text per stored value of a type (used for equality and to match fetched rows to keys). */
function canonical(t: string, v: unknown): string {
  if (v === null || v === undefined) return '\u0000N';
  if (Buffer.isBuffer(v)) return `x${v.toString('hex')}`;
  if (t === 'float') return `f${Math.fround(Number(v))}`;
  if (t === 'double' || t === 'real') return `f${Number(v)}`;
  if (t === 'decimal' || t === 'numeric') return `d${normalizeDecimal(String(v))}`;
  if (INTEGER.has(t) || typeof v === 'number' || typeof v === 'bigint') return `i${String(v)}`;
  if (TEMPORAL.has(t)) return `t${normalizeTemporal(String(v))}`;
  if (t === 'json') return `j${canonicalJson(String(v))}`;
  return `s${String(v)}`;
}

function asBuffer(v: unknown): Buffer {
  return Buffer.isBuffer(v) ? v : Buffer.from(String(v), 'utf8');
}

/** `-0012.5000` → `-12.5`; `-0.00` → `0`. */
export function normalizeDecimal(s: string): string {
  const m = /^([+-]?)(\d*)(?:\.(\d*))?$/.exec(s.trim());
  if (!m) return s;
  const int = (m[2] ?? '').replace(/^0+(?=\d)/, '') || '0';
  const frac = (m[3] ?? '').replace(/0+$/, '');
  const body = frac ? `${int}.${frac}` : int;
  return m[1] === '-' && body !== '0' ? `-${body}` : body;
}

/** Temporal text with its fraction padded to 6 digits, so `…:05` and `…:05.000000` compare equal. */
export function normalizeTemporal(s: string): string {
  const m = /^(.*\d{2}:\d{2}:\d{2})(?:\.(\d{1,6}))?$/.exec(s);
  if (!m) return s;
  return `${m[1]}.${(m[2] ?? '').padEnd(6, '0')}`;
}

function canonicalJson(s: string): string {
  try {
    return JSON.stringify(sortKeys(JSON.parse(s)));
  } catch {
    return s;
  }
}

function sortKeys(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(sortKeys);
  if (v && typeof v === 'object')
    return Object.fromEntries(
      Object.keys(v as object)
        .sort()
        .map((k) => [k, sortKeys((v as Record<string, unknown>)[k])]),
    );
  return v;
}

/**
 * Orders two values of the lastWriterWins column: numbers (and DECIMAL/BIGINT text) numerically,
 * temporal text chronologically, other text by code units. Undefined when either is NULL.
 */
export function compareVersions(a: unknown, b: unknown, dataType?: string): number | undefined {
  if (a === null || b === null || a === undefined || b === undefined) return undefined;
  if (Buffer.isBuffer(a) && Buffer.isBuffer(b)) return Buffer.compare(a, b);
  const sa = String(a);
  const sb = String(b);
  const numeric = /^[+-]?\d+(\.\d+)?$/;
  if (numeric.test(sa) && numeric.test(sb)) {
    if (!sa.includes('.') && !sb.includes('.')) {
      const x = BigInt(sa);
      const y = BigInt(sb);
      return x === y ? 0 : x > y ? 1 : -1;
    }
    const x = Number(sa);
    const y = Number(sb);
    return x === y ? 0 : x > y ? 1 : -1;
  }
  const t = (dataType ?? '').toLowerCase();
  const x = TEMPORAL.has(t) || /^\d{4}-\d{2}-\d{2}/.test(sa) ? normalizeTemporal(sa) : sa;
  const y = TEMPORAL.has(t) || /^\d{4}-\d{2}-\d{2}/.test(sb) ? normalizeTemporal(sb) : sb;
  return x === y ? 0 : x > y ? 1 : -1;
}

/**
 * Fetched target rows by key. Exact first; a key the target's collation matched differently
 * ('a' found as 'A', trailing spaces) is then matched case- and trailing-space-insensitively.
 */
class RowIndex {
  private readonly exact = new Map<string, TargetRow>();
  private readonly loose = new Map<string, TargetRow>();

  constructor(
    private readonly keyColumns: readonly string[],
    private readonly types: Record<string, string>,
  ) {}

  add(row: TargetRow): void {
    const values = this.keyColumns.map((c) => row[c]);
    this.exact.set(this.text(values, false), row);
    this.loose.set(this.text(values, true), row);
  }

  find(key: readonly CellValue[]): TargetRow | undefined {
    return this.exact.get(this.text(key, false)) ?? this.loose.get(this.text(key, true));
  }

  private text(values: readonly unknown[], loose: boolean): string {
    let out = '';
    values.forEach((v, i) => {
      let c = canonical((this.types[this.keyColumns[i] as string] ?? '').toLowerCase(), v);
      if (loose && c.startsWith('s')) c = c.toLowerCase().trimEnd();
      out += `${c.length}:${c}`;
    });
    return out;
  }
}

function columnTypesOf(info: TargetTableInfo): Record<string, string> {
  return (info as TargetTableInfo & { columnTypes?: Record<string, string> }).columnTypes ?? {};
}

function describe(v: unknown): string {
  return v === null || v === undefined ? 'NULL' : Buffer.isBuffer(v) ? `0x${v.toString('hex')}` : String(v);
}

function rowText(row: Row): Record<string, string | null> {
  const out: Record<string, string | null> = {};
  for (const [c, v] of row) out[c] = v === null ? null : clip(describeValue(v));
  return out;
}

function targetText(row: TargetRow): Record<string, string | null> {
  const out: Record<string, string | null> = {};
  for (const [c, v] of Object.entries(row)) out[c] = v === null || v === undefined ? null : clip(describe(v));
  return out;
}

/** Conflict records keep values readable, not whole BLOBs. */
function clip(s: string): string {
  return s.length <= 2048 ? s : `${s.slice(0, 2048)}… (${s.length} characters)`;
}
