import type mysql from 'mysql2/promise';
import type { TargetCapabilities, TargetSession } from '../connectors/target';
import type { Mapper } from '../pipeline/mapping/mapper';
import { tableKey } from '../pipeline/model';
import type { VerifySource, VerifyTarget } from './chunk-verifier';
import type { LoadedComparison } from './planner';
import { type CatchUpWait, type WorkerTable, WorkerVerifySource, WorkerVerifyTarget } from './row-digests';
import { ComparisonPlanError } from './table-plan';

/**
 * Choosing where a comparison's row hashes are computed, and building the worker-side pair
 * (row-digests.ts). The SQL path (mysql-side.ts) is much cheaper — equal chunks never leave the
 * servers — so it stays the choice whenever it can give the right answer.
 */

/** True when the comparison must run in the worker: a mapping has a transform, or the target has no checksum SQL. */
export function comparedInWorker(
  loaded: LoadedComparison,
  target: Pick<TargetCapabilities, 'checksumSql'>,
): boolean {
  return target.checksumSql !== true || loaded.comparison.sources.some((s) => s.transform);
}

/**
 * The worker-side sides of one comparison: the source read on `source` and mapped by `mapper` (the
 * pipeline's mapper, pure transforms loaded), the target read through `target.verifyRows`.
 */
export async function workerSides(
  source: mysql.Connection,
  target: Pick<TargetSession, 'dialect' | 'verifyRows'> & {
    checkpoint: Pick<TargetSession['checkpoint'], 'read'>;
  },
  loaded: LoadedComparison,
  mapper: Mapper,
  wait: CatchUpWait,
): Promise<{ source: VerifySource; target: VerifyTarget }> {
  const access = target.verifyRows;
  const c = loaded.comparison;
  if (!access)
    throw new ComparisonPlanError(
      `${tableKey(c.target.ref)}: the ${target.dialect} target cannot read rows for a verification`,
    );
  const table: WorkerTable = {
    ref: c.target.ref,
    keyColumns: c.target.keyColumns,
    columns: c.target.columns.map((x) => x.name),
  };
  const codec = await access.codec(table.ref, [...table.keyColumns, ...table.columns]);
  const sources = c.sources.map((s, i) => {
    const st = loaded.sourceTables[i];
    if (!st) throw new Error(`internal: no source table ${i} for ${tableKey(c.target.ref)}`);
    const route = mapper
      .routes(st.ref.schema, st.ref.table)
      .find((r) => tableKey(r.target) === tableKey(c.target.ref));
    return {
      table: st,
      keyColumns: s.side.keyColumns,
      mapping: route?.mapping ?? -1,
      transform: s.transform === true,
    };
  });
  return {
    source: new WorkerVerifySource(source, sources, mapper, table, codec),
    target: new WorkerVerifyTarget(access, target.checkpoint, wait, table, codec),
  };
}
