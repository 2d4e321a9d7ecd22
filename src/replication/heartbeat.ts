import type mysql from 'mysql2/promise';
import { SYSTEM_SCHEMA } from '../connectors/target';

/**
 * Lag measurement: the pipeline writes `now()` in ms into a heartbeat row on the SOURCE every
 * second; when that row change reaches the target inside a committed batch, lag = commit time −
 * written time. Unlike binlog event timestamps (whole seconds), this has millisecond resolution and
 * keeps moving when the source is idle, so "no lag" and "stuck" can be told apart.
 */
export const HEARTBEAT_TABLE = 'heartbeat';

export async function ensureHeartbeatTable(source: mysql.Connection): Promise<void> {
  await source.query(`CREATE DATABASE IF NOT EXISTS \`${SYSTEM_SCHEMA}\``);
  await source.query(
    `CREATE TABLE IF NOT EXISTS \`${SYSTEM_SCHEMA}\`.\`${HEARTBEAT_TABLE}\` (
      pipeline VARCHAR(64) NOT NULL PRIMARY KEY,
      written_at_ms BIGINT NOT NULL
    ) ENGINE=InnoDB`,
  );
}

/** Writes the heartbeat row every `intervalMs` until stopped; write errors are reported, not thrown. */
export class HeartbeatWriter {
  private timer: NodeJS.Timeout | undefined;
  private writing = false;
  lastError: string | undefined;

  constructor(
    private readonly source: mysql.Connection,
    private readonly pipeline: string,
    private readonly intervalMs = 1000,
  ) {}

  start(): void {
    this.timer = setInterval(() => void this.beat(), this.intervalMs);
    void this.beat();
  }

  async beat(): Promise<void> {
    if (this.writing) return; // a slow source must not pile up writes
    this.writing = true;
    try {
      await this.source.query(
        `INSERT INTO \`${SYSTEM_SCHEMA}\`.\`${HEARTBEAT_TABLE}\` (pipeline, written_at_ms) VALUES (?, ?)
         ON DUPLICATE KEY UPDATE written_at_ms = VALUES(written_at_ms)`,
        [this.pipeline, Date.now()],
      );
      this.lastError = undefined;
    } catch (err) {
      this.lastError = (err as Error).message;
    } finally {
      this.writing = false;
    }
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }
}

/** True when a row change is this pipeline's heartbeat (system schema rows are never replicated). */
export function isHeartbeatOf(
  schema: string,
  table: string,
  pipelineColumn: unknown,
  pipeline: string,
): boolean {
  return schema === SYSTEM_SCHEMA && table === HEARTBEAT_TABLE && pipelineColumn === pipeline;
}
