/**
 * Decoder benchmark (npm run bench:decode). Starts its own servers — a private MariaDB (port 24820,
 * data under .otterflow/scratch/bench/) and, when MySQL 9 is built (`otterflow dev install`, or
 * $OTTERFLOW_MYSQL_ROOT), a private MySQL 9 (port 24821) — writes the same workload of
 * BENCH_ROWS row changes (default 550,000) on each (workload.ts), and measures on the same binlog
 * files, read from the server's data directory:
 *   - decoder: file reader → decoder → row changes with every value decoded (in this process)
 *   - command: `otterflow binlog decode FILE > /dev/null` end to end (its own process, JSON lines),
 *     through tsx as from a clone, and compiled when dist/ exists (`npm run build`)
 *   - the server's own tool, `-v` and `-vv --base64-output=decode-rows` > /dev/null:
 *     mariadb-binlog for MariaDB, mysqlbinlog (of the same MySQL folder) for MySQL
 *   - MariaDB only: @vlasky/zongji streaming the same files from the server
 * Prints one JSON line per source (wall and CPU seconds; ratios of CPU seconds), then stops the
 * servers. Ratios matter; absolute numbers vary with the machine's load. With `--big-file`, runs big-file.ts instead (a ~1 GB binlog, RSS sampled).
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
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
  /** User + system CPU seconds: on a shared machine the steadier figure. */
  cpuSeconds: number;
  rowsPerSecond: number;
}

function log(msg: string): void {
  process.stderr.write(`[bench:decode] ${msg}\n`);
}

/** Runs a command with stdout to /dev/null under GNU time; resolves with its wall and CPU seconds. */
function run(cmd: string, args: string[], env?: NodeJS.ProcessEnv): Promise<{ wall: number; cpu: number }> {
  return new Promise((resolve, reject) => {
    const child = spawn('/usr/bin/time', ['-f', '@@time %e %U %S', cmd, ...args], {
      stdio: ['ignore', 'ignore', 'pipe'],
      env: env ?? process.env,
    });
    let err = '';
    child.stderr?.on('data', (c: Buffer) => {
      err += c.toString();
    });
    child.on('close', (code) => {
      const m = /@@time ([\d.]+) ([\d.]+) ([\d.]+)/.exec(err);
      if (code === 0 && m) resolve({ wall: Number(m[1]), cpu: Number(m[2]) + Number(m[3]) });
      else reject(new Error(`${cmd} exited ${code}: ${err}`));
    });
  });
}

async function timeAll(
  files: string[],
  rows: number,
  one: (file: string) => Promise<{ wall: number; cpu: number }>,
): Promise<Timed> {
  let seconds = 0;
  let cpu = 0;
  for (const f of files) {
    const t = await one(f);
    seconds += t.wall;
    cpu += t.cpu;
  }
  return { seconds: round(seconds), cpuSeconds: round(cpu), rowsPerSecond: Math.round(rows / seconds) };
}

/** Our decoder alone, in this process: every value of every row decoded. */
async function decoderOnly(files: string[], schema: string): Promise<Timed & { rows: number }> {
  const started = process.hrtime.bigint();
  const cpu0 = process.cpuUsage();
  let rows = 0;
  for (const f of files)
    for await (const e of readBinlogFile(f)) {
      if (e.event.kind === 'rows' && e.event.table.schema === schema) rows += e.event.rows.length;
      else if (e.event.kind === 'transactionPayload')
        for (const inner of e.event.events) if (inner.kind === 'rows') rows += inner.rows.length;
    }
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  const cpu = process.cpuUsage(cpu0);
  return {
    rows,
    seconds: round(seconds),
    cpuSeconds: round((cpu.user + cpu.system) / 1e6),
    rowsPerSecond: Math.round(rows / seconds),
  };
}

const cli = path.join(projectRoot, 'bin', 'otterflow.js');
const compiled = fs.existsSync(path.join(projectRoot, 'dist', 'cli', 'main.js'));

/**
 * `otterflow binlog decode`, as run from a clone (TypeScript through tsx) and, when `npm run build`
 * has made dist/, compiled (OTTERFLOW_DIST=1, as in production images).
 */
async function measure(files: string[], schema: string) {
  let bytes = 0;
  for (const f of files) bytes += (await stat(f)).size;
  const { rows, ...decoder } = await decoderOnly(files, schema);
  const command = await timeAll(files, rows, (f) => run(process.execPath, [cli, 'binlog', 'decode', f]));
  const commandCompiled = compiled
    ? await timeAll(files, rows, (f) =>
        run(process.execPath, [cli, 'binlog', 'decode', f], { ...process.env, OTTERFLOW_DIST: '1' }),
      )
    : undefined;
  return { rows, bytes, decoder, command, commandCompiled };
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

/** Ratios of CPU seconds (above 1: ours uses less): steadier than wall time on a shared machine. */
function ratios(m: Awaited<ReturnType<typeof measure>>, vv: Timed, v: Timed) {
  const best = m.commandCompiled ?? m.command;
  return {
    commandVsVV: round(vv.cpuSeconds / m.command.cpuSeconds),
    commandCompiledVsVV: m.commandCompiled ? round(vv.cpuSeconds / m.commandCompiled.cpuSeconds) : null,
    commandVsV: round(v.cpuSeconds / best.cpuSeconds),
    decoderVsV: round(v.cpuSeconds / m.decoder.cpuSeconds),
    commandOverDecoder: round(best.cpuSeconds / m.decoder.cpuSeconds),
  };
}

async function mariadbSource(): Promise<object> {
  let server: BenchServer | undefined;
  try {
    log('starting a private MariaDB on 24820');
    server = await startBenchServer('decode', 24820, 2490);
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
      commandCompiled: m.commandCompiled ?? null,
      mariadbBinlogV: v,
      mariadbBinlogVV: vv,
      zongji: zj,
      ratios: ratios(m, vv, v),
    };
  } finally {
    await stopBenchServer(server);
  }
}

async function mysqlSource(): Promise<object> {
  const unavailable = mysqlUnavailableReason();
  if (unavailable) return { source: 'mysql', skipped: unavailable };
  log('starting a private MySQL 9 on 24821');
  const server = await startMysqlServer('bench-decode', 24821, 2491, { fresh: true });
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
      const { command, args } = server.mysqlbinlogCommand([flag, '--base64-output=decode-rows', f]);
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
      commandCompiled: m.commandCompiled ?? null,
      mysqlbinlogV: v,
      mysqlbinlogVV: vv,
      ratios: ratios(m, vv, v),
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
