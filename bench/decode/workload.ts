/**
 * The decode benchmark's workload, the same on MariaDB and MySQL: ROW_CHANGES row changes of a
 * 7-column table (INT key, BIGINT, VARCHAR, DECIMAL, DATETIME(6), DOUBLE, TINYINT): inserts in
 * 10,000-row transactions, then updates of a third of the rows (before and after images). Returns
 * the binlog files that hold them (closed: a FLUSH follows), as paths on this machine.
 */
import path from 'node:path';
import type mysql from 'mysql2/promise';

export const ROW_CHANGES = Number(process.env.BENCH_ROWS ?? 550_000);

const COLUMNS = `seq, seq * 7919, CONCAT('note ', seq), seq / 100, '2024-01-01 00:00:00' + INTERVAL seq SECOND, seq / 3, seq % 100`;

/** Rows `from`..`to` as a query: MariaDB's sequence engine, or a recursive CTE on MySQL. */
function rowsQuery(flavor: 'mariadb' | 'mysql', schema: string, from: number, to: number): string {
  if (flavor === 'mariadb') return `SELECT ${COLUMNS} FROM \`${schema}\`.seq_${from}_to_${to}`;
  return `WITH RECURSIVE s(seq) AS (SELECT ${from} UNION ALL SELECT seq + 1 FROM s WHERE seq < ${to}) SELECT ${COLUMNS} FROM s`;
}

export async function generateWorkload(
  conn: mysql.Connection,
  flavor: 'mariadb' | 'mysql',
  schema: string,
  dataDir?: string,
): Promise<string[]> {
  await conn.query(`CREATE DATABASE \`${schema}\``);
  await conn.query(
    `CREATE TABLE \`${schema}\`.orders (id INT PRIMARY KEY, customer BIGINT NOT NULL, note VARCHAR(40),
       amount DECIMAL(12,2), created DATETIME(6), score DOUBLE, status TINYINT) ENGINE=InnoDB`,
  );
  if (flavor === 'mysql') await conn.query('SET SESSION cte_max_recursion_depth = 20000');
  await conn.query('SET GLOBAL max_binlog_size = 1073741824');
  await conn.query('FLUSH BINARY LOGS');
  const status = flavor === 'mariadb' ? 'SHOW MASTER STATUS' : 'SHOW BINARY LOG STATUS';
  const [[first]] = (await conn.query(status)) as unknown as [[{ File: string }]];
  const inserts = Math.ceil((ROW_CHANGES * 3) / 4);
  for (let from = 1; from <= inserts; from += 10_000) {
    const to = Math.min(inserts, from + 9_999);
    await conn.query(`INSERT INTO \`${schema}\`.orders ${rowsQuery(flavor, schema, from, to)}`);
  }
  const updates = ROW_CHANGES - inserts;
  for (let from = 1; from <= updates; from += 10_000)
    await conn.query(
      `UPDATE \`${schema}\`.orders SET status = status + 1 WHERE id BETWEEN ${from} AND ${Math.min(updates, from + 9_999)}`,
    );
  await conn.query('FLUSH BINARY LOGS');
  const [[last]] = (await conn.query(status)) as unknown as [[{ File: string }]];
  const [[vars]] = (await conn.query('SELECT @@log_bin_basename AS base')) as unknown as [[{ base: string }]];
  const dir = dataDir ?? path.dirname(vars.base);
  const [logs] = (await conn.query('SHOW BINARY LOGS')) as unknown as [Array<{ Log_name: string }>];
  return logs
    .map((l) => l.Log_name)
    .filter((f) => f >= first.File && f < last.File)
    .map((f) => path.join(dir, f));
}
