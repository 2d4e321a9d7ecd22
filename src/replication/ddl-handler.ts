import type { BinlogPosition } from '../binlog/types';
import type { TargetSession } from '../connectors/target';
import type { PipelineConfig } from '../pipeline/config';
import { analyzeDdl } from '../pipeline/ddl';
import type { Mapper } from '../pipeline/mapping/mapper';
import { type TableRef, tableKey } from '../pipeline/model';
import { logger } from '../util/logger';
import { ddlSkipMark, withDdlMark } from './channel';
import { channelMetrics } from './channel-session';
import { PipelineHaltError } from './errors';
import { formatPosition } from './positions';

export interface DdlOutcome {
  applied: boolean;
  /** `schema.table` keys of target tables whose cached key columns are stale now. */
  invalidated: string[];
  warning?: string;
  /**
   * Why a channel pipeline did not apply the DDL: `echo` — it carries our channel's
   * (or the suppress-sync) marker; `gone` — a DROP TABLE of tables the target does not have.
   */
  skipped?: 'echo' | 'gone';
}

/** Decides what a DDL from the source does to the target, by the pipeline's `ddl` policy. */
export class DdlHandler {
  constructor(
    private readonly config: PipelineConfig,
    private readonly mapper: Mapper,
    private readonly target: TargetSession,
  ) {}

  async handle(
    schema: string,
    sql: string,
    where: string,
    committed: BinlogPosition | undefined,
  ): Promise<DdlOutcome> {
    const none: DdlOutcome = { applied: false, invalidated: [] };
    const channel = this.config.options.channel;
    // The opposite pipeline applied this DDL (or an application asked no channel to
    // replicate it): skip it whatever the policy, like a marked transaction.
    const mark = channel ? ddlSkipMark(sql, channel.id) : undefined;
    if (mark) return this.skipped('echo', `marked by ${mark.pipeline ?? mark.channel}`, where, sql);
    const a = analyzeDdl(sql, schema || undefined, this.mapper);
    if (a.mapped === 'none') return none;
    // What the statement touches, for messages: its tables, or the database of CREATE/DROP DATABASE.
    const names =
      a.tables.length > 0
        ? a.tables.map(tableKey).join(', ')
        : a.database !== undefined
          ? `database ${a.database}`
          : a.kind;
    const at = `${where} (checkpoint ${formatPosition(committed)})`;
    if (a.mapped === 'some') {
      throw new PipelineHaltError(
        `DDL touches mapped and unmapped tables (${names}); it cannot be applied without drifting. ` +
          `Apply the equivalent change on the target by hand, then set options.ddl to "skip" for this statement. Statement: ${sql}`,
        at,
      );
    }
    // The server logs DROP TABLE in its own words, without our marker: the echo of a
    // drop the opposite pipeline applied is recognised by its tables being gone here already.
    if (
      channel &&
      a.kind === 'drop_table' &&
      a.statements &&
      (await this.allGone(a.tables, a.statements.length))
    )
      return this.skipped('gone', 'its tables do not exist on the target', where, sql);
    const policy = this.config.options.ddl;
    if (policy !== 'apply' && a.kind === 'create_database') {
      // Creating a mapped table's database changes no mapped table: nothing to stop for.
      return {
        ...none,
        warning: `${names} (a schema of mapped tables) was created on the source and not on the target (options.ddl is "${policy}"): ${sql}`,
      };
    }
    if (policy === 'stop') {
      throw new PipelineHaltError(
        `DDL on mapped ${a.tables.length > 0 ? 'table(s) ' : ''}${names} and options.ddl is "stop". Apply it on the target (${a.rewritten ?? 'rewritten by the mapping'}) ` +
          `and update the pipeline with options.ddl "skip", or set options.ddl to "apply". Statement: ${sql}`,
        at,
      );
    }
    if (policy === 'skip') return { ...none, warning: `DDL skipped by policy at ${where}: ${sql}` };
    if (!this.target.capabilities.sourceDdl)
      throw new PipelineHaltError(
        `DDL on mapped ${names} and options.ddl is "apply", but a ${this.target.dialect} target cannot run MySQL DDL. ` +
          `Apply the equivalent change on the target by hand, then set options.ddl to "skip" (or "stop"). Statement: ${sql}`,
        at,
      );
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
    for (const rewritten of a.statements ?? (a.rewritten ? [a.rewritten] : [])) {
      // Our marker travels with the DDL into the target's binlog: the opposite
      // pipeline skips it there instead of applying it back here.
      const statement = channel ? withDdlMark(rewritten, channel.id, this.config.name) : rewritten;
      let outcome: Awaited<ReturnType<TargetSession['applyDdl']>>;
      try {
        outcome = await this.target.applyDdl(statement);
      } catch (err) {
        throw new PipelineHaltError(
          `DDL failed on the target: ${(err as Error).message}. Statement: ${statement}`,
          at,
          { cause: err },
        );
      }
      // A DDL is not transactional: after a crash between the DDL and its checkpoint the statement is
      // read again, and "already there / already gone" then means it was applied the first time.
      if (outcome.result === 'already-in-effect')
        warnings.push(`DDL already in effect on the target (${outcome.why}), skipped: ${statement}`);
    }
    const invalidated: string[] = [];
    for (const t of a.tables) {
      for (const route of this.mapper.routes(t.schema, t.table)) {
        this.target.tables.invalidate(route.target);
        invalidated.push(tableKey(route.target));
      }
    }
    return { applied: true, invalidated, ...(warnings.length ? { warning: warnings.join('; ') } : {}) };
  }

  /** A DDL a channel pipeline does not apply: counted and logged at debug level, no warning. */
  private skipped(reason: 'echo' | 'gone', why: string, where: string, sql: string): DdlOutcome {
    channelMetrics.skippedDdl.inc({ pipeline: this.config.name, reason });
    logger.debug({ pipeline: this.config.name, at: where, reason, sql }, `channel DDL skipped: ${why}`);
    return { applied: false, invalidated: [], skipped: reason };
  }

  /**
   * True when no target table of a DROP TABLE exists (every fan-out target of every
   * source table). Any doubt (an error other than "no such table/database") counts as existing, so
   * the statement runs as it would without a channel.
   */
  private async allGone(tables: readonly TableRef[], fanOut: number): Promise<boolean> {
    for (const t of tables) {
      const routes = this.mapper.routes(t.schema, t.table);
      for (let k = 0; k < fanOut; k++) {
        const target = routes[k]?.target;
        if (!target || (await this.targetTableExists(target))) return false;
      }
    }
    return true;
  }

  private targetTableExists(t: TableRef): Promise<boolean> {
    return this.target.tableExists(t);
  }
}
