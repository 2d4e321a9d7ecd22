import { spawn } from 'node:child_process';
import type mysql from 'mysql2/promise';
import { register } from 'prom-client';
import type { BinlogPosition } from '../../src/binlog/types';
import { type OracleRow, parseOracleOutput } from './mariadb-binlog-oracle';

/**
 * Helpers of the bidirectional-channel tests (test/integration/bidirectional*.test.ts).
 */

/**
 * Row changes of one table logged by a live server since `from`, read with the independent
 * `mariadb-binlog` client (remote, through the last log): proves what each server really logged.
 */
export async function loggedRows(
  port: number,
  from: BinlogPosition,
  schema: string,
  table: string,
): Promise<OracleRow[]> {
  const args = [
    '--read-from-remote-server',
    '--host=127.0.0.1',
    `--port=${port}`,
    '--user=root',
    `--start-position=${from.pos}`,
    '--to-last-log',
    '-vv',
    '--base64-output=decode-rows',
    from.file,
  ];
  const child = spawn('mariadb-binlog', args, { stdio: ['ignore', 'pipe', 'pipe'] });
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  child.stdout.on('data', (c: Buffer) => out.push(c));
  child.stderr.on('data', (c: Buffer) => err.push(c));
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
  if (code !== 0) throw new Error(`mariadb-binlog exited ${code}: ${Buffer.concat(err).toString()}`);
  return parseOracleOutput(Buffer.concat(out).toString('latin1')).filter(
    (r) => r.schema === schema && r.table === table,
  );
}

/** Counts of logged row changes by kind: `{ insert, update, delete }`. */
export function countKinds(rows: OracleRow[]): { insert: number; update: number; delete: number } {
  const c = { insert: 0, update: 0, delete: 0 };
  for (const r of rows) c[r.kind]++;
  return c;
}

/** The in-process worker's value of a counter for one pipeline (summed over other labels). */
export async function metricOf(
  name: string,
  pipeline: string,
  labels: Record<string, string> = {},
): Promise<number> {
  const all = await register.getMetricsAsJSON();
  const m = all.find((x) => x.name === name);
  return (m?.values ?? [])
    .filter(
      (v) =>
        v.labels.pipeline === pipeline && Object.entries(labels).every(([k, want]) => v.labels[k] === want),
    )
    .reduce((n, v) => n + v.value, 0);
}

/** Rows of `db.table` as `id:v` strings in key order (for convergence checks). */
export async function rowsOf(conn: mysql.Connection, db: string, table = 'items'): Promise<string[]> {
  const [rows] = await conn.query<mysql.RowDataPacket[]>(
    `SELECT CONCAT_WS(':', id, IFNULL(v, 'NULL'), IFNULL(ts, 'NULL')) AS r FROM \`${db}\`.\`${table}\` ORDER BY id`,
  );
  return rows.map((r) => String(r.r));
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * DDL statements (QUERY events other than BEGIN/COMMIT) a live server logged since `from` whose
 * default database is `db` or that name it, in log order, as the server wrote them (SHOW BINLOG EVENTS).
 */
export async function loggedDdl(conn: mysql.Connection, from: BinlogPosition, db: string): Promise<string[]> {
  const [logs] = await conn.query<mysql.RowDataPacket[]>('SHOW BINARY LOGS');
  const files = logs.map((l) => String(l.Log_name)).filter((f) => f >= from.file);
  const out: string[] = [];
  for (const f of files) {
    const [events] = await conn.query<mysql.RowDataPacket[]>(
      f === from.file ? `SHOW BINLOG EVENTS IN ? FROM ${Number(from.pos)}` : 'SHOW BINLOG EVENTS IN ?',
      [f],
    );
    for (const e of events) {
      if (e.Event_type !== 'Query') continue;
      // SHOW BINLOG EVENTS prefixes the statement with the default database and session flags.
      const info = String(e.Info).replace(/^(?:use `[^`]*`; )?(?:set [^;]*; )*/i, (m) =>
        m.startsWith('use') ? m.replace(/set [^;]*; /gi, '') : '',
      );
      if (/^(BEGIN|COMMIT|XA )/.test(info)) continue;
      const prefix = `use \`${db}\`; `;
      if (info.startsWith(prefix)) out.push(info.slice(prefix.length));
      else if (info.includes(db)) out.push(info.replace(/^use `[^`]*`; /, ''));
    }
  }
  return out;
}

/**
 * The config of one pipeline of a test channel over `<db>.items`: `source` → `target` from `start`,
 * with `conflict` settings (policy, column, sitePriority).
 */
export function itemsChannelPipeline(
  db: string,
  channel: string,
  name: string,
  source: string,
  target: string,
  start: BinlogPosition,
  conflict: object,
) {
  return {
    name,
    source,
    target,
    mappings: [{ source: { schema: db, table: 'items' } }],
    start: { file: start.file, pos: start.pos },
    options: { channel: { id: channel, conflict } },
  };
}
