import type { BinlogPosition } from '../binlog/types';
import { type ApplyStats, emptyStats } from '../pipeline/model';
import type { ReplicateProgress, ReplicateResult } from './contract';

const MAX_WARNINGS = 20;

/**
 * What one replicate run did, as the read loop and the committer count it; becomes the activity's
 * result and its heartbeat progress (both small: a bounded set of warnings).
 */
export class RunReport {
  readonly startedAt = Date.now();
  readonly totals: ApplyStats = emptyStats();
  transactions = 0;
  sourceChanges = 0;
  batches = 0;
  ddlApplied = 0;
  lagMs: number | undefined;
  /** The position committed last (with the rows it covers). */
  committed: BinlogPosition | undefined;
  private readonly warnings = new Set<string>();

  constructor(private readonly worker: string) {}

  warn(message: string): void {
    if (this.warnings.size < MAX_WARNINGS) this.warnings.add(message);
  }

  warningList(): string[] {
    return [...this.warnings];
  }

  addStats(s: ApplyStats): void {
    const t = this.totals;
    t.inserted += s.inserted;
    t.updated += s.updated;
    t.deleted += s.deleted;
    t.missingOnUpdate += s.missingOnUpdate;
    t.missingOnDelete += s.missingOnDelete;
    if (s.emptyAsNull) t.emptyAsNull = (t.emptyAsNull ?? 0) + s.emptyAsNull;
  }

  progress(now: number): ReplicateProgress {
    return {
      ...(this.committed ? { position: this.committed } : {}),
      rowsApplied: this.totals.inserted + this.totals.updated + this.totals.deleted,
      transactions: this.transactions,
      ...(this.lagMs !== undefined ? { lagMs: this.lagMs } : {}),
      at: new Date(now).toISOString(),
      worker: this.worker,
    };
  }

  result(): ReplicateResult {
    return {
      ...(this.committed ? { position: this.committed } : {}),
      transactions: this.transactions,
      sourceRowChanges: this.sourceChanges,
      batches: this.batches,
      ...this.totals,
      ddlApplied: this.ddlApplied,
      ...(this.lagMs !== undefined ? { lagMs: this.lagMs } : {}),
      elapsedMs: Date.now() - this.startedAt,
      warnings: this.warningList(),
      worker: this.worker,
    };
  }
}
