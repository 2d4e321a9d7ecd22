import type mysql from 'mysql2/promise';
import { keyCompare, keyIn } from '../backfill/keys';
import type { SourceTable } from '../backfill/source-table';
import { readServerBinlogState } from '../binlog/replica/server-state';
import type { BinlogPosition, CellValue, RowImage } from '../binlog/types';
import { quoteMysqlIdentifier, quoteMysqlTable } from '../connectors/mysql/source';
import type { CanonicalValue, TargetCheckpoint, TargetRowAccess, TargetRowCodec } from '../connectors/target';
import type { Mapper } from '../pipeline/mapping/mapper';
import { type TableRef, tableKey } from '../pipeline/model';
import type { RowSelection } from './checksum-sql';
import type { ChunkDigest, DigestReader, VerifySource, VerifyTarget } from './chunk-verifier';
import { keyId, positionReached, type RowDigest } from './classify';
import { BucketSums, keyBucket, rowHash, valueHash } from './row-hash';
import { ComparisonPlanError } from './table-plan';

/**
 * The two sides of a comparison computed in the worker: used when the target cannot run the
 * checksum SQL (Oracle) or a mapping has a (pure) transform. Both sides produce rows in the target's
 * canonical form (target.ts TargetRowAccess): the source rows mapped by the pipeline's own mapper
 * (renames, column rules, filters, transform) and converted by the target's codec as the applier
 * would write them; the target rows read through its session. Hashes and buckets come from
 * row-hash.ts on both sides, so verifyChunk runs unchanged.
 */

/** The target table as the comparison sees it (target names). */
export interface WorkerTable {
  ref: TableRef;
  keyColumns: readonly string[];
  /** Compared columns, in hash order. */
  columns: readonly string[];
}

/** One row: its key values (reports, re-syncs), its canonical key (bucket) and compared values. */
interface CanonicalRow {
  key: CellValue[];
  canonicalKey: CanonicalValue[];
  values: CanonicalValue[];
}

/** Digests of canonical rows: everything but reading the rows. */
abstract class CanonicalDigests implements DigestReader {
  constructor(
    protected readonly table: WorkerTable,
    protected readonly codec: TargetRowCodec,
  ) {}

  /** Rows of a key range or key list (with the user's condition, source only). */
  protected abstract rows(selection: RowSelection): Promise<CanonicalRow[]>;

  /** `[...key, ...columns]` canonical values → a row. */
  protected split(canonical: readonly CanonicalValue[]): CanonicalRow {
    const k = this.table.keyColumns.length;
    const canonicalKey = canonical.slice(0, k);
    return {
      key: canonicalKey.map((v, i) => this.codec.keyValue(i, v)),
      canonicalKey,
      values: canonical.slice(k),
    };
  }

  async bucketDigests(selection: RowSelection, count: number): Promise<Map<number, ChunkDigest>> {
    const sums = new BucketSums();
    for (const r of await this.rows(selection)) sums.add(keyBucket(r.canonicalKey, count), rowHash(r.values));
    return sums.digests();
  }

  async rowDigests(selection: RowSelection): Promise<RowDigest[]> {
    if (selection.keys?.length === 0) return [];
    const b = selection.buckets;
    const wanted = b ? new Set(b.in) : undefined;
    const out: RowDigest[] = [];
    for (const r of await this.rows(selection))
      if (!wanted || wanted.has(keyBucket(r.canonicalKey, b?.count ?? 1)))
        out.push({ key: r.key, hash: rowHash(r.values) });
    return out;
  }

  async columnDigests(keys: readonly CellValue[][]): Promise<Map<string, CellValue[]>> {
    const out = new Map<string, CellValue[]>();
    if (keys.length === 0) return out;
    for (const r of await this.rows({ keys })) out.set(keyId(r.key), r.values.map(valueHash));
    return out;
  }
}

/** A source table of the comparison: its definition and the source names of the target key. */
export interface WorkerSourceTable {
  table: SourceTable;
  keyColumns: readonly string[];
  /** Mapping index, for messages. */
  mapping: number;
  /** The mapping has a transform: each row's key is checked to be the one it was read by. */
  transform: boolean;
}

/** The source side: rows read with the backfill's reader settings and mapped as the pipeline maps them. */
export class WorkerVerifySource extends CanonicalDigests implements VerifySource {
  constructor(
    private readonly conn: mysql.Connection,
    private readonly sources: readonly WorkerSourceTable[],
    private readonly mapper: Mapper,
    table: WorkerTable,
    codec: TargetRowCodec,
  ) {
    super(table, codec);
  }

  protected async rows(selection: RowSelection): Promise<CanonicalRow[]> {
    const out: CanonicalRow[] = [];
    for (const s of this.sources) for (const r of await this.tableRows(s, selection)) out.push(r);
    return out;
  }

  private async tableRows(s: WorkerSourceTable, selection: RowSelection): Promise<CanonicalRow[]> {
    if (selection.keys?.length === 0) return [];
    const conds: string[] = [];
    const params: CellValue[] = [];
    const add = (f: { sql: string; params: CellValue[] }) => {
      conds.push(f.sql);
      params.push(...f.params);
    };
    if (selection.after) add(keyCompare(s.keyColumns, selection.after, '>'));
    if (selection.upTo) add(keyCompare(s.keyColumns, selection.upTo, '<='));
    if (selection.keys) add(keyIn(s.keyColumns, selection.keys));
    if (selection.where) conds.push(`(${selection.where})`);
    const schema = s.table.schema;
    const sql = `SELECT ${schema.columns.map((c) => quoteMysqlIdentifier(c.name)).join(', ')} FROM ${quoteMysqlTable(s.table.ref)}${conds.length ? ` WHERE ${conds.join(' AND ')}` : ''}`;
    const [rows] = await this.conn.query({ sql, rowsAsArray: true }, params);
    const ordinals = s.keyColumns.map((k) => schema.columns.findIndex((c) => c.name === k));
    const names = [...this.table.keyColumns, ...this.table.columns];
    const target = tableKey(this.table.ref);
    const out: CanonicalRow[] = [];
    for (const after of rows as unknown as RowImage[]) {
      const mapped = this.mapper
        .map({ kind: 'insert', table: schema, after })
        .filter((c) => tableKey(c.target) === target);
      if (mapped.length === 0) continue; // filtered out, or dropped by the transform
      const change = mapped[0];
      if (mapped.length > 1 || change?.kind !== 'insert')
        throw new ComparisonPlanError(
          `mappings.${s.mapping} (${tableKey(s.table.ref)} → ${target}): the transform turned one row into ${mapped.length > 1 ? `${mapped.length} rows` : `a ${change?.kind}`} of the same table; only transforms that keep, change or drop a row can be verified`,
        );
      const row = this.split(this.codec.canonical(names.map((n) => change.after.get(n) ?? null)));
      if (!s.transform) {
        out.push(row);
        continue;
      }
      // The chunk's range is read on the source key: a transform that changes the key would move rows
      // between chunks, so it is not a function this comparison can follow.
      const sourceKey = this.codec
        .canonical([
          ...ordinals.map((o) => (after[o] ?? null) as CellValue),
          ...this.table.columns.map(() => null),
        ])
        .slice(0, ordinals.length);
      if (keyId(sourceKey) !== keyId(row.canonicalKey))
        throw new ComparisonPlanError(
          `mappings.${s.mapping} (${tableKey(s.table.ref)} → ${target}): the transform changed a row's key (${JSON.stringify(sourceKey)} → ${JSON.stringify(row.canonicalKey)}); transforms that change key columns cannot be verified`,
        );
      out.push(row);
    }
    return out;
  }

  position(): Promise<BinlogPosition> {
    return readServerBinlogState(this.conn);
  }
}

/** How long and how a target side waits for the pipeline's applied position. */
export interface CatchUpWait {
  pipeline: string;
  timeoutMs: number;
  signal?: AbortSignal;
  pollMs?: number;
}

/** Waits until `read` (the pipeline's committed checkpoint) has reached `position`. */
export async function waitForApplied(
  read: () => Promise<BinlogPosition | undefined>,
  position: BinlogPosition,
  wait: CatchUpWait,
): Promise<void> {
  const deadline = Date.now() + wait.timeoutMs;
  for (;;) {
    const applied = await read();
    if (positionReached(applied, position)) return;
    if (wait.signal?.aborted) throw new Error('verification cancelled');
    if (Date.now() > deadline)
      throw new Error(
        `pipeline ${wait.pipeline} has not applied the source up to ${position.file}:${position.pos} within ${Math.round(wait.timeoutMs / 1000)} s (applied: ${applied ? `${applied.file}:${applied.pos}` : 'nothing'}); is it running?`,
      );
    await new Promise((r) => setTimeout(r, wait.pollMs ?? 200));
  }
}

/** The target side: rows read through the target session, the pipeline's checkpoint to wait on. */
export class WorkerVerifyTarget extends CanonicalDigests implements VerifyTarget {
  constructor(
    private readonly access: TargetRowAccess,
    private readonly checkpoint: Pick<TargetCheckpoint, 'read'>,
    private readonly wait: CatchUpWait,
    table: WorkerTable,
    codec: TargetRowCodec,
  ) {
    super(table, codec);
  }

  protected async rows(selection: RowSelection): Promise<CanonicalRow[]> {
    const rows = await this.access.read({
      table: this.table.ref,
      keyColumns: this.table.keyColumns,
      columns: [...this.table.keyColumns, ...this.table.columns],
      ...(selection.after ? { after: selection.after } : {}),
      ...(selection.upTo ? { upTo: selection.upTo } : {}),
      ...(selection.keys ? { keys: selection.keys } : {}),
    });
    return rows.map((r) => this.split(r));
  }

  caughtUp(position: BinlogPosition): Promise<void> {
    return waitForApplied(() => this.checkpoint.read(), position, this.wait);
  }
}
