import type mysql from 'mysql2/promise';
import { connectTo } from './stack';

/**
 * A continuous stream of small source transactions for failure tests. Each transaction bumps one
 * counter row (`n = n + 1`) and appends one row to an append-only log table, so that after a
 * failure the target can be checked for lost changes (a counter or log row behind) and for applied
 * twice (a log row twice: the log table has no key on purpose).
 *
 * Tables (create them with `createFailureTables` on both sides):
 *   counters (id INT PRIMARY KEY, n INT NOT NULL)
 *   log (seq BIGINT NOT NULL, writer VARCHAR(16) NOT NULL, payload VARCHAR(80) NOT NULL, KEY (writer, seq))   -- no unique key
 */
export const FAILURE_TABLES = [
  'CREATE TABLE counters (id INT PRIMARY KEY, n INT NOT NULL)',
  'CREATE TABLE log (seq BIGINT NOT NULL, writer VARCHAR(16) NOT NULL, payload VARCHAR(80) NOT NULL, KEY by_seq (writer, seq))',
];
export const COUNTER_ROWS = 50;

export async function createFailureTables(source: mysql.Connection, target: mysql.Connection): Promise<void> {
  for (const ddl of FAILURE_TABLES) {
    await source.query(ddl);
    await target.query(ddl);
  }
}

/** Seeds the counters on the source (replicated by the pipeline like any change). */
export async function seedCounters(source: mysql.Connection): Promise<void> {
  await source.query(`INSERT INTO counters SELECT seq, 0 FROM seq_1_to_${COUNTER_ROWS}`);
}

export interface StreamWriter {
  /** Stops after the transaction in flight; resolves with the number of committed transactions. */
  stop(): Promise<number>;
  committed(): number;
}

/** Starts writing small transactions (one every `pauseMs`) from a connection of its own. */
export async function startStreamWriter(
  db: string,
  opts: {
    pauseMs?: number;
    /** The `writer` column of its log rows (distinct per writer so that `seq` stays unique). */
    tag?: string;
    /** Another source than the test stack's (e.g. a private server). */
    connect?: (db: string) => Promise<mysql.Connection>;
  } = {},
): Promise<StreamWriter> {
  const conn = await (opts.connect ?? ((d: string) => connectTo('source', d)))(db);
  const tag = opts.tag ?? 'small';
  let running = true;
  let done = 0;
  let failure: unknown;
  const loop = (async () => {
    while (running) {
      const i = done + 1;
      try {
        await conn.query(
          `START TRANSACTION; UPDATE counters SET n = n + 1 WHERE id = ${(i % COUNTER_ROWS) + 1}; INSERT INTO log VALUES (${i}, '${tag}', CONCAT('small transaction ', ${i})); COMMIT`,
        );
        done = i;
      } catch (err) {
        failure = err;
        running = false;
      }
      if (opts.pauseMs) await new Promise((r) => setTimeout(r, opts.pauseMs));
    }
  })();
  return {
    committed: () => done,
    stop: async () => {
      running = false;
      await loop;
      await conn.end().catch(() => {});
      if (failure) throw failure;
      return done;
    },
  };
}

/** One big source transaction: `rows` log rows and one bump of every counter, committed together. */
export async function bigTransaction(source: mysql.Connection, rows: number, tag = 'big'): Promise<void> {
  await source.query(
    `START TRANSACTION; INSERT INTO log SELECT seq, '${tag}', CONCAT('big transaction row ', seq) FROM seq_1_to_${rows}; UPDATE counters SET n = n + 1; COMMIT`,
  );
}

export interface LogSummary {
  rows: number;
  checksum: string;
  /** (seq, writer) pairs present more than once: a change applied twice. */
  duplicates: number;
  counters: string;
}

/** What the failure tests compare: log size and checksum, duplicates, the exact counters. */
export async function summarize(conn: mysql.Connection, db: string): Promise<LogSummary> {
  const [a] = await conn.query<mysql.RowDataPacket[]>(
    `SELECT COUNT(*) AS n, CAST(COALESCE(SUM(CRC32(CONCAT_WS('|', seq, writer, payload))), 0) AS CHAR) AS crc FROM \`${db}\`.log`,
  );
  const [d] = await conn.query<mysql.RowDataPacket[]>(
    `SELECT COUNT(*) AS n FROM (SELECT seq, writer FROM \`${db}\`.log GROUP BY seq, writer HAVING COUNT(*) > 1) x`,
  );
  const [c] = await conn.query<mysql.RowDataPacket[]>(
    `SELECT GROUP_CONCAT(CONCAT(id, '=', n) ORDER BY id) AS c FROM \`${db}\`.counters`,
  );
  return {
    rows: Number(a[0]?.n),
    checksum: String(a[0]?.crc),
    duplicates: Number(d[0]?.n),
    counters: String(c[0]?.c ?? ''),
  };
}

/** A write loop started by {@link startWriteLoop}. */
export interface WriteLoop {
  /** Writes done so far. */
  writes(): number;
  /** Ends the loop after the write in progress; resolves to the number of writes. */
  stop(): Promise<number>;
}

/**
 * Runs `step` on one connection again and again until stopped, counting the steps: the background
 * load of tests that verify or copy while rows change.
 */
export function startWriteLoop(
  connect: () => Promise<mysql.Connection>,
  step: (w: mysql.Connection) => Promise<unknown>,
): WriteLoop {
  let writing = true;
  let writes = 0;
  const done = (async () => {
    const w = await connect();
    try {
      while (writing) {
        await step(w);
        writes++;
      }
    } finally {
      await w.end();
    }
  })();
  return {
    writes: () => writes,
    stop: async () => {
      writing = false;
      await done;
      return writes;
    },
  };
}
