import type { CellValue } from '../binlog/types';
import { tableKey } from '../pipeline/model';
import { ComparisonPlanError, type TableComparison } from './table-plan';

/**
 * Chunks of shards merged into one target table, for targets whose key index cannot be walked with
 * the MySQL SQL of src/backfill/chunk-plan.ts (Oracle): every shard's key index is walked on the
 * source instead, and the chunk boundaries are the union of the shards' boundaries. Between two
 * consecutive boundaries each shard holds at most one of its own chunks, so a chunk holds at most
 * (shards × chunk size) rows, and usually about one chunk size (shards by key range).
 *
 * The union is ordered in the worker, which is exact only for integer keys (text keys order by
 * collation, known only to the servers): merged shards with other keys are refused on such targets.
 */

const INTEGER_TYPES = new Set(['tinyint', 'smallint', 'mediumint', 'int', 'integer', 'bigint']);

/** Refuses merged shards whose target key is not made of integer columns on every source. */
export function checkShardKeys(comparison: TableComparison, dialect: string): void {
  if (comparison.sources.length < 2) return;
  for (const s of comparison.sources) {
    const byName = new Map(s.side.columns.map((c) => [c.name, c]));
    const other = s.side.keyColumns.filter((k) => !INTEGER_TYPES.has(byName.get(k)?.dataType ?? ''));
    if (other.length)
      throw new ComparisonPlanError(
        `${tableKey(comparison.target.ref)}: shards merged into one table are verified on ${dialect} targets only with integer keys (${tableKey(s.side.ref)}: ${other.join(', ')})`,
      );
  }
}

function compareInteger(a: CellValue, b: CellValue): number {
  const x = BigInt(a as number | bigint | string);
  const y = BigInt(b as number | bigint | string);
  return x < y ? -1 : x > y ? 1 : 0;
}

/** The union of the shards' boundaries (integer keys), in key order, without repeats. */
export function mergeShardBoundaries(lists: readonly (readonly CellValue[][])[]): CellValue[][] {
  const all = lists.flat();
  all.sort((a, b) => {
    for (let i = 0; i < a.length; i++) {
      const d = compareInteger(a[i] as CellValue, b[i] as CellValue);
      if (d !== 0) return d;
    }
    return 0;
  });
  return all.filter((k, i) => i === 0 || compareKeysEqual(k, all[i - 1] as CellValue[]) === false);
}

function compareKeysEqual(a: readonly CellValue[], b: readonly CellValue[]): boolean {
  return a.every((v, i) => compareInteger(v, b[i] as CellValue) === 0);
}
