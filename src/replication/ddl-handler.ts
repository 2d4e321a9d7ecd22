import type mysql from 'mysql2/promise';
import type { BinlogPosition } from '../binlog/types';
import type { TableInfoSource } from '../connectors/dialect';
import type { PipelineConfig } from '../pipeline/config';
import { analyzeDdl } from '../pipeline/ddl';
import type { Mapper } from '../pipeline/mapping/mapper';
import { tableKey } from '../pipeline/model';
import { PipelineHaltError } from './errors';
import { formatPosition } from './positions';

/**
 * MySQL errors that mean "this DDL is already in effect on the target": table/column/index already
 * there, or already gone. A DDL is not transactional, so after a crash between the DDL and its
 * checkpoint the statement is read again; these errors then mean it was applied the first time.
 * Otter users saw channels hang on exactly this replay (complaint 5); we apply, warn and move on.
 */
const ALREADY_APPLIED = new Map<number, string>([
  [1007, 'database exists'],
  [1008, 'database does not exist'],
  [1050, 'table exists'],
  [1051, 'unknown table'],
  [1060, 'duplicate column'],
  [1061, 'duplicate key name'],
  [1091, 'cannot drop: column or key does not exist'],
  [1146, 'table does not exist'],
]);

export interface DdlOutcome {
  applied: boolean;
  /** `schema.table` keys of target tables whose cached key columns are stale now. */
  invalidated: string[];
  warning?: string;
}

/** Decides what a DDL from the source does to the target, by the pipeline's `ddl` policy. */
export class DdlHandler {
  constructor(
    private readonly config: PipelineConfig,
    private readonly mapper: Mapper,
    private readonly target: mysql.Connection,
    private readonly tables: TableInfoSource,
  ) {}

  async handle(
    schema: string,
    sql: string,
    where: string,
    committed: BinlogPosition | undefined,
  ): Promise<DdlOutcome> {
    const a = analyzeDdl(sql, schema || undefined, this.mapper);
    const none: DdlOutcome = { applied: false, invalidated: [] };
    if (a.mapped === 'none') return none;
    const names = a.tables.map(tableKey).join(', ');
    const at = `${where} (checkpoint ${formatPosition(committed)})`;
    if (a.mapped === 'some') {
      throw new PipelineHaltError(
        `DDL touches mapped and unmapped tables (${names}); it cannot be applied without drifting. ` +
          `Apply the equivalent change on the target by hand, then set options.ddl to "skip" for this statement. Statement: ${sql}`,
        at,
      );
    }
    const policy = this.config.options.ddl;
    if (policy === 'stop') {
      throw new PipelineHaltError(
        `DDL on mapped table(s) ${names} and options.ddl is "stop". Apply it on the target (${a.rewritten ?? 'rewritten by the mapping'}) ` +
          `and update the pipeline with options.ddl "skip", or set options.ddl to "apply". Statement: ${sql}`,
        at,
      );
    }
    if (policy === 'skip') return { ...none, warning: `DDL skipped by policy at ${where}: ${sql}` };
    if (a.problem)
      throw new PipelineHaltError(
        `DDL cannot be rewritten for the target: ${a.problem}. Statement: ${sql}`,
        at,
      );
    if (a.columnRules && (a.kind === 'create_table' || a.kind === 'alter_table')) {
      throw new PipelineHaltError(
        `DDL on ${names}, whose mapping includes/excludes/renames columns: the source statement does not describe the target table. ` +
          `Change the target by hand, then set options.ddl to "skip" for this statement. Statement: ${sql}`,
        at,
      );
    }
    if (
      a.manyToOne &&
      (a.kind === 'drop_table' || a.kind === 'truncate_table' || a.kind === 'rename_table')
    ) {
      throw new PipelineHaltError(
        `${a.kind.replace('_', ' ')} of ${names}, which shares its target table with other source tables: applying it would affect them all. ` +
          `Decide by hand, then set options.ddl to "skip" for this statement. Statement: ${sql}`,
        at,
      );
    }
    const warnings: string[] = [];
    for (const statement of a.statements ?? (a.rewritten ? [a.rewritten] : [])) {
      try {
        await this.target.query(statement);
      } catch (err) {
        const errno = (err as { errno?: number }).errno ?? 0;
        const why = ALREADY_APPLIED.get(errno);
        if (!why) {
          throw new PipelineHaltError(
            `DDL failed on the target: ${(err as Error).message}. Statement: ${statement}`,
            at,
            {
              cause: err,
            },
          );
        }
        warnings.push(`DDL already in effect on the target (${why}), skipped: ${statement}`);
      }
    }
    const invalidated: string[] = [];
    for (const t of a.tables) {
      for (const route of this.mapper.routes(t.schema, t.table)) {
        this.tables.invalidate(route.target);
        invalidated.push(tableKey(route.target));
      }
    }
    return { applied: true, invalidated, ...(warnings.length ? { warning: warnings.join('; ') } : {}) };
  }
}
