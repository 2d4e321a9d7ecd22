/**
 * Decoder benchmark (npm run bench:decode). Generates a binlog of ROW_CHANGES row changes in a
 * scratch database on the test source (127.0.0.1:23306 unless OTTERFLOW_SOURCE_PORT says
 * otherwise), copies the binlog files with `mariadb-binlog --read-from-remote-server --raw`, then
 * measures in one run, on the same bytes:
 *   - ours: file reader → decoder → row changes with every value decoded
 *   - `mariadb-binlog -v --base64-output=decode-rows FILE > /dev/null`
 *   - @vlasky/zongji streaming the same files from the server
 * and prints one JSON object with rows/s, ratios and peak RSS. Ratios matter, absolute numbers
 * vary with the machine's load. With `--big-file`, runs big-file.ts instead: a ~1 GB binlog on a
 * private server, decoded with RSS sampled every 100 ms.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mysql from 'mysql2/promise';
import { readBinlogFile } from '../../src/binlog/file-reader';
import { runBigFile } from './big-file';

const ROW_CHANGES = Number(process.env.BENCH_ROWS ?? 600_000);
const host = process.env.OTTERFLOW_HOST ?? '127.0.0.1';
const port = Number(process.env.OTTERFLOW_SOURCE_PORT ?? 23306);

function run(
  cmd: string,
  args: string[],
  cwd: string,
  stdout: 'ignore' | 'pipe' = 'ignore',
): Promise<number> {
  const started = process.hrtime.bigint();
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd, stdio: ['ignore', stdout, 'pipe'] });
    let err = '';
    child.stderr?.on('data', (c: Buffer) => {
      err += c.toString();
    });
    child.on('close', (code) =>
      code === 0
        ? resolve(Number(process.hrtime.bigint() - started) / 1e9)
        : reject(new Error(`${cmd} exited ${code}: ${err}`)),
    );
  });
}

async function generate(conn: mysql.Connection, schema: string): Promise<{ first: string; last: string }> {
  await conn.query(`CREATE DATABASE \`${schema}\``);
  await conn.query(
    `CREATE TABLE \`${schema}\`.orders (id INT PRIMARY KEY, customer BIGINT NOT NULL, note VARCHAR(40),
       amount DECIMAL(12,2), created DATETIME(6), score DOUBLE, status TINYINT) ENGINE=InnoDB`,
  );
  await conn.query('FLUSH BINARY LOGS');
  const [st] = (await conn.query('SHOW MASTER STATUS')) as unknown as [Array<{ File: string }>];
  const first = st[0]!.File;
  // Inserts in 10,000-row transactions, then updates of a third of the rows (before + after images).
  const inserts = Math.ceil((ROW_CHANGES * 3) / 4);
  for (let from = 1; from <= inserts; from += 10_000) {
    const to = Math.min(inserts, from + 9_999);
    await conn.query(
      `INSERT INTO \`${schema}\`.orders SELECT seq, seq * 7919, CONCAT('note ', seq), seq / 100,
         '2024-01-01 00:00:00' + INTERVAL seq SECOND, seq / 3, seq % 100 FROM \`${schema}\`.seq_${from}_to_${to}`,
    );
  }
  const updates = ROW_CHANGES - inserts;
  for (let from = 1; from <= updates; from += 10_000)
    await conn.query(
      `UPDATE \`${schema}\`.orders SET status = status + 1 WHERE id BETWEEN ${from} AND ${Math.min(updates, from + 9_999)}`,
    );
  await conn.query('FLUSH BINARY LOGS');
  const [st2] = (await conn.query('SHOW MASTER STATUS')) as unknown as [Array<{ File: string }>];
  return { first, last: st2[0]!.File };
}

async function ours(files: string[], schema: string): Promise<{ rows: number; seconds: number }> {
  const started = process.hrtime.bigint();
  let rows = 0;
  for (const f of files)
    for await (const e of readBinlogFile(f)) {
      if (e.event.kind === 'rows' && e.event.table.schema === schema) rows += e.event.rows.length;
    }
  return { rows, seconds: Number(process.hrtime.bigint() - started) / 1e9 };
}

async function zongji(
  fileNames: string[],
  schema: string,
  expected: number,
): Promise<{ rows: number; seconds: number }> {
  // biome-ignore lint/suspicious/noExplicitAny: zongji has no types
  const ZongJi = (require('@vlasky/zongji') as any).default;
  const z = new ZongJi({ host, port, user: 'root' });
  let rows = 0;
  const started = process.hrtime.bigint();
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`zongji saw ${rows} of ${expected} rows in 300 s`)),
      300_000,
    );
    // biome-ignore lint/suspicious/noExplicitAny: zongji event
    z.on('binlog', (evt: any) => {
      if (evt.rows && evt.tableMap?.[evt.tableId]?.parentSchema === schema) {
        rows += evt.rows.length;
        if (rows >= expected) {
          clearTimeout(timer);
          resolve();
        }
      }
    });
    z.on('error', reject);
    z.start({
      serverId: 24901,
      filename: fileNames[0],
      position: 4,
      includeEvents: ['tablemap', 'writerows', 'updaterows', 'deleterows'],
      includeSchema: { [schema]: true },
    });
  });
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  z.stop();
  return { rows, seconds };
}

async function main(): Promise<void> {
  const schema = `bench_decode_${process.pid}`;
  const conn = await mysql.createConnection({ host, port, user: 'root', multipleStatements: true });
  const dir = await mkdtemp(join(tmpdir(), 'bench-decode-'));
  try {
    const { first } = await generate(conn, schema);
    await run(
      'mariadb-binlog',
      ['--read-from-remote-server', '--raw', `-h${host}`, `-P${port}`, '-uroot', '--to-last-log', first],
      dir,
    );
    const names = (await readdir(dir)).filter((f) => /\.\d+$/.test(f)).sort();
    // The last file is the empty one opened by the final FLUSH.
    const files = names.map((f) => join(dir, f));
    let bytes = 0;
    for (const f of files) bytes += (await stat(f)).size;

    const rssBefore = process.memoryUsage().rss;
    const ourRun = await ours(files, schema);
    const ourPeakRssMb = process.resourceUsage().maxRSS / 1024;

    let mariadbSeconds = 0;
    for (const f of files)
      mariadbSeconds += await run('mariadb-binlog', ['-v', '--base64-output=decode-rows', f], dir);

    let zongjiRun: { rows: number; seconds: number } | { error: string };
    try {
      zongjiRun = await zongji(names, schema, ourRun.rows);
    } catch (err) {
      zongjiRun = { error: (err as Error).message };
    }
    const oursRate = ourRun.rows / ourRun.seconds;
    const mariadbRate = ourRun.rows / mariadbSeconds;
    const zongjiRate = 'rows' in zongjiRun ? zongjiRun.rows / zongjiRun.seconds : undefined;
    process.stdout.write(
      `${JSON.stringify(
        {
          rowChanges: ourRun.rows,
          binlogBytes: bytes,
          ours: {
            seconds: round(ourRun.seconds),
            rowsPerSecond: Math.round(oursRate),
            peakRssMb: Math.round(ourPeakRssMb),
            rssBeforeMb: Math.round(rssBefore / 2 ** 20),
          },
          mariadbBinlog: { seconds: round(mariadbSeconds), rowsPerSecond: Math.round(mariadbRate) },
          zongji:
            'rows' in zongjiRun
              ? { seconds: round(zongjiRun.seconds), rowsPerSecond: Math.round(zongjiRate!) }
              : zongjiRun,
          ratios: {
            oursVsMariadbBinlog: round(oursRate / mariadbRate),
            oursVsZongji: zongjiRate ? round(oursRate / zongjiRate) : null,
          },
        },
        null,
        2,
      )}\n`,
    );
  } finally {
    await conn.query(`DROP DATABASE IF EXISTS \`${schema}\``).catch(() => {});
    await conn.end();
    await rm(dir, { recursive: true, force: true });
  }
}

function round(n: number): number {
  return Math.round(n * 100) / 100;
}

// `--big-file`: the ~1 GB flat-memory run of big-file.ts instead of the comparison above.
(process.argv.includes('--big-file') ? runBigFile() : main()).then(
  () => process.exit(0),
  (err) => {
    process.stderr.write(`bench:decode failed: ${(err as Error).stack}\n`);
    process.exit(1);
  },
);
