/**
 * Decoder benchmark (npm run bench:decode). Starts its own servers — a private MariaDB (port 24810,
 * data under .otterflow/scratch/bench/) and, when a MySQL root is available (see
 * test/helpers/mysql-server.ts), a private MySQL 9 (port 24811) — writes the same workload of
 * BENCH_ROWS row changes (default 550,000) on each (workload.ts), and measures on the same binlog
 * files, read from the server's data directory:
 *   - decoder: file reader → decoder → row changes with every value decoded (in this process)
 *   - command: `otterflow binlog decode FILE > /dev/null` end to end (its own process, JSON lines)
 *   - the server's own tool, `-v` and `-vv --base64-output=decode-rows` > /dev/null:
 *     mariadb-binlog for MariaDB, mysqlbinlog (from the MySQL root) for MySQL
 *   - MariaDB only: @vlasky/zongji streaming the same files from the server
 * Prints one JSON line per source, then stops the servers. Ratios matter; absolute numbers vary
 * with the machine's load. With `--big-file`, runs big-file.ts instead (a ~1 GB binlog, RSS sampled).
 */
import { spawn } from 'node:child_process';
import { stat } from 'node:fs/promises';
import path from 'node:path';
import { readBinlogFile } from '../../src/binlog/file-reader';
import { projectRoot } from '../../src/config/stack';
import { mysqlUnavailableReason, startMysqlServer } from '../../test/helpers/mysql-server';
import { type BenchServer, startBenchServer, stopBenchServer } from '../lib/instances';
import { runBigFile } from './big-file';
import { generateWorkload, ROW_CHANGES } from './workload';

interface Timed {
  seconds: number;
  rowsPerSecond: number;
}

function log(msg: string): void {
  process.stderr.write(`[bench:decode] ${msg}\n`);
}

/** Runs a command with stdout to /dev/null; resolves with its wall-clock seconds. */
function run(cmd: string, args: string[]): Promise<number> {
  const started = process.hrtime.bigint();
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'] });
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

async function timeAll(
  files: string[],
  rows: number,
  one: (file: string) => Promise<number>,
): Promise<Timed> {
  let seconds = 0;
  for (const f of files) seconds += await one(f);
  return { seconds: round(seconds), rowsPerSecond: Math.round(rows / seconds) };
}

/** Our decoder alone, in this process: every value of every row decoded. */
async function decoderOnly(files: string[], schema: string): Promise<{ rows: number; seconds: number }> {
  const started = process.hrtime.bigint();
  let rows = 0;
  for (const f of files)
    for await (const e of readBinlogFile(f)) {
      if (e.event.kind === 'rows' && e.event.table.schema === schema) rows += e.event.rows.length;
      else if (e.event.kind === 'transactionPayload')
        for (const inner of e.event.events) if (inner.kind === 'rows') rows += inner.rows.length;
    }
  return { rows, seconds: Number(process.hrtime.bigint() - started) / 1e9 };
}

const otterflow = (f: string) =>
  run(process.execPath, [path.join(projectRoot, 'bin', 'otterflow.js'), 'binlog', 'decode', f]);

async function measure(files: string[], schema: string) {
  let bytes = 0;
  for (const f of files) bytes += (await stat(f)).size;
  const dec = await decoderOnly(files, schema);
  const decoder = { seconds: round(dec.seconds), rowsPerSecond: Math.round(dec.rows / dec.seconds) };
  const command = await timeAll(files, dec.rows, otterflow);
  return { rows: dec.rows, bytes, decoder, command };
}

async function zongji(host: string, port: number, fileNames: string[], schema: string, expected: number) {
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
  return { seconds: round(seconds), rowsPerSecond: Math.round(rows / seconds) };
}

function ratios(command: Timed, decoder: Timed, vv: Timed, v: Timed) {
  return {
    commandVsVV: round(vv.seconds / command.seconds),
    commandVsV: round(v.seconds / command.seconds),
    decoderVsV: round(v.seconds / decoder.seconds),
    commandOverDecoder: round(command.seconds / decoder.seconds),
  };
}

async function mariadbSource(): Promise<object> {
  let server: BenchServer | undefined;
  try {
    log('starting a private MariaDB on 24810');
    server = await startBenchServer('decode', 24810, 2490);
    const conn = await server.connect();
    const schema = 'bench_decode';
    log(`writing ${ROW_CHANGES} row changes`);
    const files = await generateWorkload(conn, 'mariadb', schema);
    log(`decoding ${files.length} file(s)`);
    const m = await measure(files, schema);
    const v = await timeAll(files, m.rows, (f) =>
      run('mariadb-binlog', ['-v', '--base64-output=decode-rows', f]),
    );
    const vv = await timeAll(files, m.rows, (f) =>
      run('mariadb-binlog', ['-vv', '--base64-output=decode-rows', f]),
    );
    let zj: object;
    try {
      zj = await zongji(
        server.spec.host,
        server.spec.port,
        files.map((f) => path.basename(f)),
        schema,
        m.rows,
      );
    } catch (err) {
      zj = { error: (err as Error).message };
    }
    await conn.end();
    return {
      source: 'mariadb',
      rowChanges: m.rows,
      binlogBytes: m.bytes,
      decoder: m.decoder,
      command: m.command,
      mariadbBinlogV: v,
      mariadbBinlogVV: vv,
      zongji: zj,
      ratios: ratios(m.command, m.decoder, vv, v),
    };
  } finally {
    await stopBenchServer(server);
  }
}

async function mysqlSource(): Promise<object> {
  const unavailable = mysqlUnavailableReason();
  if (unavailable) return { source: 'mysql', skipped: unavailable };
  log('starting a private MySQL 9 on 24811');
  const server = await startMysqlServer('bench-decode', 24811, 2491, { fresh: true });
  try {
    const conn = await server.connect();
    const [[version]] = (await conn.query('SELECT VERSION() AS v')) as unknown as [[{ v: string }]];
    const schema = 'bench_decode';
    log(`writing ${ROW_CHANGES} row changes`);
    const files = await generateWorkload(conn, 'mysql', schema, server.dataDir);
    await conn.end();
    log(`decoding ${files.length} file(s)`);
    const m = await measure(files, schema);
    const tool = (flag: string) => (f: string) => {
      const { command, args } = server.mysqlbinlogCommand([
        flag,
        '--base64-output=decode-rows',
        server.insidePath(f),
      ]);
      return run(command, args);
    };
    const v = await timeAll(files, m.rows, tool('-v'));
    const vv = await timeAll(files, m.rows, tool('-vv'));
    return {
      source: 'mysql',
      serverVersion: version.v,
      rowChanges: m.rows,
      binlogBytes: m.bytes,
      decoder: m.decoder,
      command: m.command,
      mysqlbinlogV: v,
      mysqlbinlogVV: vv,
      ratios: ratios(m.command, m.decoder, vv, v),
    };
  } finally {
    await server.stop();
  }
}

async function main(): Promise<void> {
  const only = process.argv.find((a) => a.startsWith('--only='))?.slice(7);
  if (only !== 'mysql') process.stdout.write(`${JSON.stringify(await mariadbSource())}\n`);
  if (only !== 'mariadb') process.stdout.write(`${JSON.stringify(await mysqlSource())}\n`);
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
