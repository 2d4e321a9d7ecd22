/**
 * Lag under a steady write load: a writer inserts rows carrying their write time (ms) into the
 * source at a fixed rate; a reader polls the consumer's copy and records, for every row that became
 * visible, visibility time − write time. Polling every 10 ms over-states lag by at most that much.
 */
import type mysql from 'mysql2/promise';
import { percentile, round, sleep } from '../lib/measure';
import { SCHEMA } from './workloads';

export const LAG_TABLE = 'lag';

export const lagTableDdl = `CREATE TABLE IF NOT EXISTS \`${SCHEMA}\`.\`${LAG_TABLE}\` (
  id BIGINT UNSIGNED NOT NULL PRIMARY KEY,
  written_ms BIGINT NOT NULL,
  payload VARCHAR(100) NOT NULL
) ENGINE=InnoDB`;

export interface LagResult {
  seconds: number;
  rowsWritten: number;
  writeRowsPerSecond: number;
  transactions: number;
  rowsSeen: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
}

/**
 * Writes `rowsPerSecond` for `seconds` (autocommit multi-row INSERTs, one every few ms: a few hundred
 * transactions/s) starting at id `firstId`, while polling `replica`; waits up to 10 s after the
 * writer stops for the last rows.
 */
export async function measureLag(
  source: mysql.Connection,
  replica: mysql.Connection,
  firstId: number,
  rowsPerSecond: number,
  seconds: number,
): Promise<LagResult & { nextId: number }> {
  const lags: number[] = [];
  let nextId = firstId;
  let lastSeen = firstId - 1;
  let writing = true;
  let transactions = 0;
  const reader = (async () => {
    const stopAt = () => !writing && lastSeen >= nextId - 1;
    const deadlineAfterWriter = { at: Number.POSITIVE_INFINITY };
    while (!stopAt()) {
      const [rows] = await replica.query<mysql.RowDataPacket[]>(
        `/*bench*/ SELECT id, written_ms FROM \`${SCHEMA}\`.\`${LAG_TABLE}\` WHERE id > ? ORDER BY id`,
        [lastSeen],
      );
      const now = Date.now();
      for (const r of rows) {
        lags.push(now - Number(r.written_ms));
        lastSeen = Math.max(lastSeen, Number(r.id));
      }
      if (!writing && deadlineAfterWriter.at === Number.POSITIVE_INFINITY)
        deadlineAfterWriter.at = now + 10_000;
      if (now > deadlineAfterWriter.at) break;
      await sleep(10);
    }
  })();
  const t0 = Date.now();
  let written = 0;
  try {
    for (;;) {
      const elapsed = Date.now() - t0;
      if (elapsed >= seconds * 1000) break;
      const due = Math.floor((elapsed * rowsPerSecond) / 1000) - written;
      if (due <= 0) {
        await sleep(2);
        continue;
      }
      const n = Math.min(due, 500);
      const now = Date.now();
      const values: string[] = [];
      for (let i = 0; i < n; i++) values.push(`(${nextId + i}, ${now}, 'steady load row ${nextId + i}')`);
      await source.query(`INSERT INTO \`${SCHEMA}\`.\`${LAG_TABLE}\` VALUES ${values.join(', ')}`);
      nextId += n;
      written += n;
      transactions++;
    }
  } finally {
    writing = false;
  }
  const wrote = (Date.now() - t0) / 1000;
  await reader;
  return {
    seconds: round(wrote, 1),
    rowsWritten: written,
    writeRowsPerSecond: Math.round(written / wrote),
    transactions,
    rowsSeen: lags.length,
    p50Ms: percentile(lags, 0.5),
    p99Ms: percentile(lags, 0.99),
    maxMs: lags.length ? lags.reduce((a, b) => Math.max(a, b)) : Number.NaN,
    nextId,
  };
}
