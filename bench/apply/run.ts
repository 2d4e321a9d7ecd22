/**
 * Apply micro-benchmark: rows/s of 1000-row statements into a MySQL/MariaDB target.
 *   node --import tsx bench/apply/run.ts [--rows 100000] [--port 23307] [--host 127.0.0.1]
 * Compares, in one run on one server: a plain multi-row INSERT (the ceiling), the applier's
 * INSERT … ON DUPLICATE KEY UPDATE for new rows and for existing rows, UPDATEs with the
 * missing-row probe, and multi-row DELETE; each through mysql2 `query` (client-side formatting)
 * and `execute` (server-side prepared statements). Each batch of 10,000 rows is one transaction;
 * each figure is the best of --rounds (default 2) interleaved rounds.
 * Prints JSON. Not a test: figures vary from run to run on a shared machine.
 */
import { randomBytes } from 'node:crypto';
import mysql from 'mysql2/promise';
import type { UpsertOp } from '../../src/connectors/dialect';
import { MysqlApplier, type MysqlProtocol } from '../../src/connectors/mysql/applier';
import type { ApplyPlan, TableRef } from '../../src/pipeline/model';

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] ? process.argv[i + 1]! : fallback;
}

const ROWS = Number(arg('rows', '100000'));
const BATCH = 10_000;
const ROUNDS = Number(arg('rounds', '2'));
const PORT = Number(arg('port', process.env.OTTERFLOW_TARGET_PORT ?? '23307'));
const HOST = arg('host', '127.0.0.1');

function rowOf(i: number): Map<string, string | number | bigint | Buffer> {
  return new Map<string, string | number | bigint | Buffer>([
    ['id', BigInt(i)],
    ['a', i % 1000],
    ['b', `name-${i}-${'x'.repeat(20)}`],
    ['c', `${i}.25`],
    ['d', '2024-05-06 07:08:09.123456'],
    ['e', Buffer.from([i & 0xff, (i >> 8) & 0xff, 0, 0xff])],
  ]);
}

/** Wall seconds and this process's CPU seconds (the worker shares its cores with the decoder). */
async function timed(fn: () => Promise<void>): Promise<{ seconds: number; clientCpu: number }> {
  const t0 = process.hrtime.bigint();
  const c0 = process.cpuUsage();
  await fn();
  const c = process.cpuUsage(c0);
  return { seconds: Number(process.hrtime.bigint() - t0) / 1e9, clientCpu: (c.user + c.system) / 1e6 };
}

async function main() {
  const conn = await mysql.createConnection({
    host: HOST,
    port: PORT,
    user: 'root',
    supportBigNumbers: true,
    bigNumberStrings: true,
    dateStrings: true,
    timezone: 'Z',
    charset: 'utf8mb4_general_ci',
  });
  const db = `bench_apply_${randomBytes(3).toString('hex')}`;
  await conn.query(`CREATE DATABASE ${db}`);
  await conn.query(`USE ${db}`);
  const results: Record<string, { seconds: number; rowsPerSecond: number; clientCpuSeconds: number }> = {};
  // Best of ROUNDS, query and execute interleaved, so JIT warm-up and neighbours' load hit both alike.
  const record = (name: string, { seconds, clientCpu }: { seconds: number; clientCpu: number }) => {
    const prev = results[name];
    if (prev && prev.seconds <= seconds) return;
    results[name] = {
      seconds: Number(seconds.toFixed(3)),
      rowsPerSecond: Math.round(ROWS / seconds),
      clientCpuSeconds: Number(clientCpu.toFixed(3)),
    };
  };
  const ddl =
    'CREATE TABLE t (id BIGINT UNSIGNED PRIMARY KEY, a INT, b VARCHAR(64), c DECIMAL(12,2), d DATETIME(6), e VARBINARY(16))';
  try {
    for (let round = 0; round < ROUNDS; round++)
      for (const protocol of ['query', 'execute'] as MysqlProtocol[]) {
        await conn.query('DROP TABLE IF EXISTS t');
        await conn.query(ddl);
        const target: TableRef = { schema: db, table: 't' };
        const applier = new MysqlApplier(conn, { protocol });
        await applier.prepareSession();

        // Plain multi-row INSERT of the same rows: the ceiling for any upsert.
        const cols = ['id', 'a', 'b', 'c', 'd', 'e'];
        const plainSql = `INSERT INTO t (${cols.join(',')}) VALUES ${new Array(1000).fill('(?,?,?,?,?,?)').join(',')}`;
        record(
          `${protocol}: plain INSERT, 1000 rows/statement`,
          await timed(async () => {
            for (let start = 0; start < ROWS; start += BATCH) {
              await conn.beginTransaction();
              for (let s = start; s < start + BATCH; s += 1000) {
                const params: unknown[] = [];
                for (let i = s; i < s + 1000; i++) params.push(...rowOf(i).values());
                if (protocol === 'execute') await conn.execute(plainSql, params as never[]);
                else await conn.query(plainSql, params);
              }
              await conn.commit();
            }
          }),
        );
        await conn.query('TRUNCATE t');

        const runPlans = async (make: (i: number) => UpsertOp | null, deletes = false) => {
          for (let start = 0; start < ROWS; start += BATCH) {
            const p: ApplyPlan = { tables: [{ target, deletes: [], upserts: [] }] };
            const tp = p.tables[0]!;
            for (let i = start; i < start + BATCH; i++) {
              if (deletes) tp.deletes.push({ kind: 'delete', target, key: [BigInt(i)], before: new Map() });
              else tp.upserts.push(make(i)!);
            }
            await conn.beginTransaction();
            await applier.apply(p);
            await conn.commit();
          }
        };
        const upsert = (i: number, expectExisting: boolean, bump = 0): UpsertOp => {
          const row = rowOf(i);
          row.set('a', i + bump);
          return { kind: 'upsert', target, key: [BigInt(i)], row, expectExisting };
        };

        record(
          `${protocol}: upsert of new rows (INSERT … ON DUPLICATE KEY UPDATE)`,
          await timed(() => runPlans((i) => upsert(i, false))),
        );
        record(
          `${protocol}: upsert of existing rows, changed`,
          await timed(() => runPlans((i) => upsert(i, false, 1))),
        );
        record(
          `${protocol}: UPDATE with missing-row probe (COUNT + upsert)`,
          await timed(() => runPlans((i) => upsert(i, true, 2))),
        );
        record(
          `${protocol}: DELETE … WHERE id IN (1000 keys)`,
          await timed(() => runPlans(() => null, true)),
        );
      }
    const [v] = await conn.query<mysql.RowDataPacket[]>('SELECT @@version AS v');
    console.log(
      JSON.stringify(
        {
          benchmark: 'apply',
          server: String(v[0]?.v),
          rows: ROWS,
          rowsPerTransaction: BATCH,
          bestOf: ROUNDS,
          results,
        },
        null,
        2,
      ),
    );
  } finally {
    await conn.query(`DROP DATABASE ${db}`);
    await conn.end();
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
