/**
 * Big-file mode of the decoder benchmark (`npm run bench:decode -- --big-file`): is the decoder's
 * memory flat on a ~1 GB binlog file?
 *
 * 1. Starts a private mariadbd (port 24650, files under .otterflow/scratch/bench-decode/) with
 *    max_binlog_size = 1 GiB, and fills one binlog file to BENCH_BYTES (default and at most 1e9 bytes) with
 *    20,000-row transactions: INSERT, then UPDATE (before + after images), then DELETE of the same
 *    rows, so the table stays small while the binlog grows. 10 columns incl. TEXT, DECIMAL,
 *    DATETIME(6), UUID.
 * 2. Decodes the file straight from the server's data directory in a child process
 *    (decode-file-child.ts: file reader → decoder → every value) and samples the child's RSS from
 *    /proc every 100 ms.
 * 3. Prints one JSON object: rows/s, MB/s, peak RSS, steady RSS (median of the samples after the
 *    first 10% of the run) and RSS at 10/25/50/75/100% of the run.
 * The binlog is deleted afterwards (RESET MASTER) and the server stopped; its data directory is
 * removed unless BENCH_KEEP_SERVER_DATA=1.
 */
import { spawn } from 'node:child_process';
import { readFileSync, rmSync, statSync } from 'node:fs';
import path from 'node:path';
import mysql from 'mysql2/promise';
import { projectRoot } from '../../src/config/stack';
import { dataDir, instanceRecord, type MariaDbInstanceSpec, startMariaDb } from '../../src/devstack/mariadb';
import { stopProcess } from '../../src/devstack/processes';
import { findMariaDb } from '../../src/devstack/tools';

/** Stays below max_binlog_size (1 GiB, the server's limit) so the whole run lands in one file. */
const TARGET_BYTES = Math.min(Number(process.env.BENCH_BYTES ?? 1e9), 1e9);
const BATCH = 20_000;
const SAMPLE_MS = 100;

const scratch = path.join(projectRoot, '.otterflow', 'scratch', 'bench-decode');
const dir = path.join(scratch, 'mariadb-24650');
const spec: MariaDbInstanceSpec = {
  name: 'bench-decode',
  host: '127.0.0.1',
  port: 24650,
  serverId: 650,
  dir,
  runDir: path.join(dir, 'run'),
};

function log(msg: string): void {
  process.stderr.write(`[bench:decode --big-file] ${msg}\n`);
}

/** Fills the current binlog file to TARGET_BYTES; returns its path and the row changes written. */
async function generate(
  conn: mysql.Connection,
): Promise<{ file: string; rowChanges: number; seconds: number }> {
  const started = Date.now();
  await conn.query('SET GLOBAL max_binlog_size = 1073741824');
  await conn.query('DROP DATABASE IF EXISTS bench; CREATE DATABASE bench; USE bench');
  await conn.query(
    `CREATE TABLE bench.orders (id BIGINT PRIMARY KEY, customer BIGINT NOT NULL, note VARCHAR(60),
       amount DECIMAL(12,2), created DATETIME(6), score DOUBLE, status TINYINT UNSIGNED, u UUID,
       body TEXT, flags INT) ENGINE=InnoDB`,
  );
  await conn.query('RESET MASTER');
  const [st] = (await conn.query('SHOW MASTER STATUS')) as unknown as [Array<{ File: string }>];
  const name = st[0]!.File;
  const file = path.join(dataDir(spec), name);
  let rowChanges = 0;
  let from = 1;
  let batches = 0;
  while (statSync(file).size < TARGET_BYTES) {
    const to = from + BATCH - 1;
    await conn.query(
      `INSERT INTO bench.orders SELECT seq, seq * 7919, CONCAT('note number ', seq, ' of the big-file benchmark'),
         seq / 100, '2024-01-01 00:00:00' + INTERVAL seq SECOND, seq / 3, seq % 200,
         CONCAT('123e4567-e89b-12d3-a456-', LPAD(HEX(seq), 12, '0')),
         REPEAT(CONCAT('body ', seq, ' '), 6), seq % 1000 FROM seq_${from}_to_${to}`,
    );
    await conn.query(
      `UPDATE bench.orders SET status = status + 1, score = score * 2 WHERE id BETWEEN ${from} AND ${to}`,
    );
    await conn.query(`DELETE FROM bench.orders WHERE id BETWEEN ${from} AND ${to}`);
    rowChanges += 3 * BATCH;
    from = to + 1;
    if (++batches % 20 === 0)
      log(`${Math.round(statSync(file).size / 2 ** 20)} MB of binlog, ${rowChanges} row changes`);
  }
  await conn.query('FLUSH BINARY LOGS'); // closes the file (no more writes to it)
  return { file, rowChanges, seconds: (Date.now() - started) / 1000 };
}

function rssMb(pid: number): number | undefined {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) / 1024 : undefined;
  } catch {
    return undefined;
  }
}

interface ChildResult {
  rows: number;
  events: number;
  bytes: number;
  seconds: number;
  rssBeforeMb: number;
}

/** Runs the decoding child, sampling its RSS every SAMPLE_MS while it decodes. */
function decodeInChild(file: string): Promise<{ result: ChildResult; samples: number[] }> {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', path.join(__dirname, 'decode-file-child.ts'), file],
    { stdio: ['ignore', 'pipe', 'inherit'], cwd: projectRoot },
  );
  const samples: number[] = [];
  let out = '';
  let timer: NodeJS.Timeout | undefined;
  child.stdout.on('data', (c: Buffer) => {
    out += c.toString();
    // Sample from the moment decoding starts (the child prints "start" first).
    if (!timer && out.includes('start\n'))
      timer = setInterval(() => {
        const v = rssMb(child.pid!);
        if (v !== undefined) samples.push(v);
      }, SAMPLE_MS);
  });
  return new Promise((resolve, reject) => {
    child.on('close', (code) => {
      if (timer) clearInterval(timer);
      const last = out.trim().split('\n').pop() ?? '';
      if (code !== 0) reject(new Error(`decoder child exited ${code}`));
      else resolve({ result: JSON.parse(last) as ChildResult, samples });
    });
  });
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] ?? 0;
}

const r1 = (n: number) => Math.round(n * 10) / 10;

export async function runBigFile(): Promise<void> {
  const tools = findMariaDb();
  if (!tools) throw new Error('mariadbd is not installed');
  log(`starting a private mariadbd on ${spec.port} (${dir})`);
  await startMariaDb(spec, tools);
  const conn = await mysql.createConnection({
    host: spec.host,
    port: spec.port,
    user: 'root',
    multipleStatements: true,
  });
  try {
    const gen = await generate(conn);
    const size = statSync(gen.file).size;
    log(
      `generated ${r1(size / 2 ** 20)} MB (${gen.rowChanges} row changes) in ${r1(gen.seconds)} s; decoding`,
    );
    const { result, samples } = await decodeInChild(gen.file);
    if (result.rows !== gen.rowChanges)
      throw new Error(`decoded ${result.rows} row changes, wrote ${gen.rowChanges}`);
    const at = (f: number) => r1(samples[Math.min(samples.length - 1, Math.floor(samples.length * f))] ?? 0);
    process.stdout.write(
      `${JSON.stringify(
        {
          mode: 'big-file',
          binlogBytes: size,
          rowChanges: result.rows,
          events: result.events,
          seconds: r1(result.seconds),
          rowsPerSecond: Math.round(result.rows / result.seconds),
          mbPerSecond: r1(size / 2 ** 20 / result.seconds),
          rss: {
            beforeDecodingMb: r1(result.rssBeforeMb),
            peakMb: r1(Math.max(...samples)),
            steadyMb: r1(median(samples.slice(Math.floor(samples.length / 10)))),
            at10pct: at(0.1),
            at25pct: at(0.25),
            at50pct: at(0.5),
            at75pct: at(0.75),
            atEnd: at(1),
            samples: samples.length,
            sampleEveryMs: SAMPLE_MS,
          },
          generateSeconds: r1(gen.seconds),
        },
        null,
        2,
      )}\n`,
    );
  } finally {
    // The big file goes: RESET MASTER deletes every binlog file of the private server.
    await conn.query('DROP DATABASE IF EXISTS bench; RESET MASTER').catch(() => {});
    await conn.end().catch(() => {});
    const rec = instanceRecord(spec);
    if (rec) await stopProcess(rec, 60_000);
    if (process.env.BENCH_KEEP_SERVER_DATA !== '1') rmSync(dir, { recursive: true, force: true });
  }
}
