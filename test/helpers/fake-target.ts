import type { BinlogPosition, CellValue } from '../../src/binlog/types';
import type {
  ApplyContext,
  ApplyResult,
  RowByRowResult,
  TableInfoSource,
} from '../../src/connectors/dialect';
import { TargetTableMissingError } from '../../src/connectors/dialect';
import {
  type CheckpointClaim,
  type DdlApplyOutcome,
  type ResyncChunkProgress,
  type ResyncRequests,
  StaleEpochError,
  type TargetCapabilities,
  type TargetCheckpoint,
  type TargetSession,
} from '../../src/connectors/target';
import type { ApplyPlan, TableRef, TargetTableInfo } from '../../src/pipeline/model';
import { emptyStats, tableKey } from '../../src/pipeline/model';

/** `schema.table` → key → row (column → value); what a committed target holds. */
export type FakeTables = Map<string, Map<string, Record<string, CellValue>>>;

/**
 * A target session in memory, for engine tests without a server: it keeps rows and the checkpoint
 * with real transaction semantics (nothing is visible before commit, rollback discards), enforces the
 * epoch fence, and records every call in `log` so a test can check the order of statements.
 */
export class FakeTargetSession implements TargetSession {
  readonly dialect = 'fake';
  capabilities: TargetCapabilities = {
    transactionalDdl: false,
    sourceDdl: true,
    channels: false,
    bulkLoad: false,
    prebuild: true,
  };
  readonly log: string[] = [];
  /** Committed state. */
  readonly rows: FakeTables = new Map();
  checkpointPosition: BinlogPosition | undefined;
  epoch = 0;
  /** Makes the next matching apply throw (then forgets it). */
  failNextApply: ((plan: ApplyPlan) => Error | undefined) | undefined;
  /** Each apply waits for this before it resolves (a slow target). */
  applyDelay: (() => Promise<void>) | undefined;
  /** Tables that do not exist on the target. */
  readonly missingTables = new Set<string>();
  readonly prebuilt: ApplyPlan[] = [];
  private tx: { rows: FakeTables; checkpoint: BinlogPosition | undefined } | undefined;

  readonly tables: TableInfoSource = {
    get: async (ref: TableRef): Promise<TargetTableInfo> => {
      if (this.missingTables.has(tableKey(ref))) throw new TargetTableMissingError(ref);
      return { ref, columns: ['id', 'v'], keyColumns: ['id'], keyKind: 'primary' };
    },
    invalidate: (ref?: TableRef) => {
      this.log.push(`invalidate ${ref ? tableKey(ref) : '*'}`);
    },
  };

  readonly checkpoint: TargetCheckpoint = {
    claim: async (initial: () => Promise<BinlogPosition>): Promise<CheckpointClaim> => {
      this.log.push('claim');
      const created = this.checkpointPosition === undefined;
      if (created) this.checkpointPosition = await initial();
      this.epoch++;
      return { epoch: this.epoch, position: this.checkpointPosition as BinlogPosition, created };
    },
    read: async () => this.checkpointPosition,
    fence: async (epoch: number, position?: BinlogPosition) => {
      this.requireTx('fence');
      this.log.push(position ? `fence ${epoch} ${fmt(position)}` : `fence ${epoch}`);
      if (epoch !== this.epoch) throw new StaleEpochError('fake', epoch);
      if (position) this.tx!.checkpoint = position;
    },
    write: async (epoch: number, position: BinlogPosition) => {
      this.requireTx('write');
      this.log.push(`checkpoint ${fmt(position)}`);
      if (epoch !== this.epoch) throw new StaleEpochError('fake', epoch);
      this.tx!.checkpoint = position;
    },
    remove: async () => {
      const had = this.checkpointPosition !== undefined;
      this.checkpointPosition = undefined;
      return had;
    },
  };

  readonly resyncRequests: ResyncRequests = {
    next: async () => undefined,
    recordChunk: async (p: ResyncChunkProgress) => {
      this.log.push(`resync ${p.requestId}`);
    },
    fail: async () => {},
  };

  get inTransaction(): boolean {
    return this.tx !== undefined;
  }

  async begin(): Promise<void> {
    if (this.tx) throw new Error('transaction already open');
    this.log.push('begin');
    this.tx = { rows: cloneTables(this.rows), checkpoint: this.checkpointPosition };
  }

  async commit(): Promise<void> {
    this.requireTx('commit');
    this.log.push('commit');
    const tx = this.tx!;
    this.tx = undefined;
    this.rows.clear();
    for (const [k, v] of tx.rows) this.rows.set(k, v);
    this.checkpointPosition = tx.checkpoint;
  }

  async rollback(): Promise<void> {
    if (!this.tx) return;
    this.log.push('rollback');
    this.tx = undefined;
  }

  async apply(plan: ApplyPlan, context?: ApplyContext): Promise<ApplyResult> {
    this.requireTx('apply');
    this.log.push(`apply ${describePlan(plan)}${context?.inTransaction ? '' : ' (no tx flag)'}`);
    if (this.applyDelay) await this.applyDelay();
    const err = this.failNextApply?.(plan);
    if (err) {
      this.failNextApply = undefined;
      throw err;
    }
    return { stats: this.write(plan), missing: [] };
  }

  async applyRowByRow(plan: ApplyPlan): Promise<RowByRowResult> {
    this.requireTx('applyRowByRow');
    this.log.push(`rowByRow ${describePlan(plan)}`);
    return { stats: this.write(plan), missing: [], failures: [] };
  }

  async prebuild(plan: ApplyPlan): Promise<void> {
    this.log.push(`prebuild ${describePlan(plan)}`);
    this.prebuilt.push(plan);
  }

  isDataError(err: unknown): boolean {
    return (err as { sqlState?: string })?.sqlState?.startsWith('23') === true;
  }

  async applyDdl(statement: string): Promise<DdlApplyOutcome> {
    if (this.tx) throw new Error('DDL inside a transaction');
    this.log.push(`ddl ${statement}`);
    return { result: 'applied' };
  }

  lacksSourceType(_dataType: string): string | undefined {
    return undefined;
  }

  async tableExists(ref: TableRef): Promise<boolean> {
    return !this.missingTables.has(tableKey(ref));
  }

  async close(): Promise<void> {
    await this.rollback();
    this.log.push('close');
  }

  /** Committed rows of one table, by key text. */
  tableRows(schema: string, table: string): Record<string, Record<string, CellValue>> {
    return Object.fromEntries(this.rows.get(`${schema}.${table}`) ?? new Map());
  }

  private requireTx(what: string): void {
    if (!this.tx) throw new Error(`${what} outside a transaction`);
  }

  private write(plan: ApplyPlan) {
    const stats = emptyStats();
    for (const tp of plan.tables) {
      const k = tableKey(tp.target);
      let t = this.tx!.rows.get(k);
      if (!t) {
        t = new Map();
        this.tx!.rows.set(k, t);
      }
      for (const d of tp.deletes) {
        t.delete(String(d.key));
        stats.deleted++;
      }
      for (const u of tp.upserts) {
        t.set(String(u.key), Object.fromEntries(u.row));
        if (u.expectExisting) stats.updated++;
        else stats.inserted++;
      }
    }
    return stats;
  }
}

export function fmt(p: BinlogPosition): string {
  return `${p.file}:${p.pos}`;
}

function describePlan(plan: ApplyPlan): string {
  return plan.tables.map((t) => `${tableKey(t.target)}[-${t.deletes.length} +${t.upserts.length}]`).join(' ');
}

function cloneTables(src: FakeTables): FakeTables {
  const out: FakeTables = new Map();
  for (const [k, v] of src) out.set(k, new Map(v));
  return out;
}
