/**
 * Verification benchmark (npm run bench:verify): the same identity-mapped table of 1M rows compared
 * by (1) an Otterflow verification workflow, (2) `pt-table-sync --print` and (3) a dump-and-diff, in
 * the same run, on its own MariaDB source and target and its own Temporal dev server (ports
 * 24930–24933, data under .otterflow/scratch/verify/bench/; all stopped at the end; bench/verify/stack.ts),
 * with the worker in this process. Prints one JSON document.
 *
 * Phase `equal`: both sides identical; each tool runs `--rounds` times (default 3), the order
 * rotating from round to round; every tool must find nothing. Phase `planted`: `--changed` rows
 * changed on the target (updates, deletes) and one row added; each tool runs once and must find
 * exactly those keys. Each run is measured in wall seconds and CPU-seconds of the source server,
 * the target server and the tool (ours: this process, which runs the worker; also the Temporal
 * server's).
 *
 *   npm run bench:verify -- [--rows 1000000] [--rounds 3] [--changed 10] [--parallelism N] [--chunk ROWS] [--keep]
 *
 * `--keep` leaves the servers and Temporal running for a look (the next run stops and wipes them).
 */
import { spawnSync } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { NativeConnection } from '@temporalio/worker';
import type mysql from 'mysql2/promise';
import { readServerBinlogState } from '../../src/binlog/replica/server-state';
import { catalogFile, DatasourceCatalog } from '../../src/config/datasources';
import { claimCheckpoint } from '../../src/connectors/mysql/checkpoint';
import { parsePipelineConfig } from '../../src/pipeline/config';
import { createWorker } from '../../src/worker/run';
import { installRuntime } from '../../src/worker/runtime';
import { CpuMeter, round } from '../lib/measure';
import { dumpAndDiff, ptTableSyncPrint, type ToolRun } from './baselines';
import { runVerification } from './ours';
import {
  allPlanted,
  createAndFill,
  PORTS,
  plantDifferences,
  SCRATCH,
  startStack,
  stopStack,
  type VerifyBenchStack,
} from './stack';

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  if (i < 0) return fallback;
  const v = Number(process.argv[i + 1]);
  if (!Number.isFinite(v) || v < 0)
    throw new Error(`--${name}: expected a number, got ${process.argv[i + 1]}`);
  return v;
}

function log(line: string): void {
  process.stderr.write(`[bench:verify] ${line}\n`);
}

type Tool = 'otterflow' | 'ptTableSyncPrint' | 'dumpAndDiff';
const TOOLS: Tool[] = ['otterflow', 'ptTableSyncPrint', 'dumpAndDiff'];

interface Measured {
  seconds: number;
  rowsPerSecond: number;
  cpuSeconds: { source: number; target: number; tool: number; temporal?: number };
  keysFound: number;
  extra?: Record<string, unknown>;
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? (s[(s.length - 1) >> 1]! + s[s.length >> 1]!) / 2 : Number.NaN;
};

async function main(): Promise<void> {
  const rows = arg('rows', 1_000_000);
  const rounds = Math.max(1, arg('rounds', 3));
  const changed = arg('changed', 10);
  const parallelism = arg('parallelism', 0) || undefined;
  const chunkSize = arg('chunk', 0) || undefined;
  const out: Record<string, unknown> = {
    benchmark: 'verify',
    at: new Date().toISOString(),
    machine: { cpus: os.cpus().length, loadAverageAtStart: os.loadavg().map((l) => round(l, 1)) },
    rows,
    parallelism: parallelism ?? 'default',
    chunkSize: chunkSize ?? 'default',
    note: '`pt-table-sync --dry-run` reads no rows (it only chooses an algorithm), so `--print` is the baseline: it compares every chunk and prints the statements that would fix the target.',
  };
  const baselineTools: [string, string][] = [
    ['pt-table-sync', 'install percona-toolkit (scripts/bootstrap.sh does, as root)'],
    ['mariadb-dump', 'install the MariaDB client (scripts/bootstrap.sh does)'],
  ];
  for (const [tool, hint] of baselineTools)
    if (spawnSync(tool, ['--version']).error) throw new Error(`${tool} not found: ${hint}`);
  const started: Partial<VerifyBenchStack> = {};
  const conns: mysql.Connection[] = [];
  try {
    log(
      `starting MariaDB on ${PORTS.source} (source) and ${PORTS.target} (target), Temporal on ${PORTS.temporal}`,
    );
    const stack = await startStack(started);
    const [src, tgt] = await Promise.all([stack.source.connect(), stack.target.connect()]);
    conns.push(src, tgt);
    log(`filling ${rows} rows on both sides`);
    await Promise.all([createAndFill(src, rows), createAndFill(tgt, rows)]);
    const [ver] = await src.query<mysql.RowDataPacket[]>('SELECT VERSION() AS v');
    out.serverVersion = ver[0]?.v;

    // A caught-up pipeline on a quiet source: its checkpoint on the target at the source's position.
    const home = path.join(SCRATCH, 'home');
    const catalog = new DatasourceCatalog(catalogFile(home));
    catalog.put({ name: 'vsrc', kind: 'mariadb', host: '127.0.0.1', port: PORTS.source, user: 'root' });
    catalog.put({ name: 'vtgt', kind: 'mariadb', host: '127.0.0.1', port: PORTS.target, user: 'root' });
    const config = parsePipelineConfig({
      name: 'bench_verify',
      source: 'vsrc',
      target: 'vtgt',
      mappings: [{ source: { schema: 'shop', table: 'orders' } }],
    });
    await claimCheckpoint(tgt, config.name, () => readServerBinlogState(src));

    installRuntime();
    const address = `127.0.0.1:${PORTS.temporal}`;
    const native = await NativeConnection.connect({ address });
    const connection = await Connection.connect({ address });
    const client = new Client({ connection, namespace: 'default' });
    const taskQueue = `bench-verify-${process.pid}`;
    const worker = await createWorker(native, { namespace: 'default', taskQueue, home });
    const running = worker.run();
    try {
      // The worker polls before any clock starts: a verification runs on a worker that is already up.
      await client.workflow.execute('stackCheckWorkflow', {
        taskQueue,
        workflowId: `warm-${process.pid}`,
        args: [[]],
      });
      const servers = new CpuMeter({
        source: stack.source.pid,
        target: stack.target.pid,
        temporal: stack.temporalPid,
      });
      const measure = async (tool: Tool): Promise<{ m: Measured; keys: string[] }> => {
        servers.start();
        const node0 = process.cpuUsage();
        let r: ToolRun & { extra?: Record<string, unknown> };
        if (tool === 'otterflow') {
          const v = await runVerification({ client, taskQueue, config, target: tgt, parallelism, chunkSize });
          const { seconds, keys, ...extra } = v;
          r = { seconds, keys, lines: keys.length, toolCpuSeconds: 0, extra };
        } else
          r = await (tool === 'ptTableSyncPrint' ? ptTableSyncPrint : dumpAndDiff)(
            PORTS.source,
            PORTS.target,
          );
        const node = process.cpuUsage(node0);
        const cpu = servers.stop();
        const m: Measured = {
          seconds: round(r.seconds, 2),
          rowsPerSecond: Math.round(rows / r.seconds),
          cpuSeconds: {
            source: cpu.source ?? 0,
            target: cpu.target ?? 0,
            tool:
              tool === 'otterflow' ? round((node.user + node.system) / 1e6, 2) : round(r.toolCpuSeconds, 2),
            ...(tool === 'otterflow' ? { temporal: cpu.temporal ?? 0 } : {}),
          },
          keysFound: r.keys.length,
          ...(r.extra
            ? { extra: r.extra }
            : tool === 'ptTableSyncPrint'
              ? { extra: { statements: r.lines } }
              : { extra: { diffLines: r.lines } }),
        };
        log(`${tool}: ${m.seconds} s, CPU-s ${JSON.stringify(m.cpuSeconds)}, ${m.keysFound} keys found`);
        return { m, keys: r.keys };
      };

      // Phase 1: identical tables, `rounds` times each, order rotating.
      const equal: Record<Tool, Measured[]> = { otterflow: [], ptTableSyncPrint: [], dumpAndDiff: [] };
      for (let i = 0; i < rounds; i++) {
        log(`round ${i + 1}/${rounds} on identical tables`);
        for (let j = 0; j < TOOLS.length; j++) {
          const tool = TOOLS[(i + j) % TOOLS.length] as Tool;
          const { m, keys } = await measure(tool);
          if (keys.length)
            throw new Error(
              `${tool} found differences between identical tables: ${keys.slice(0, 10).join(', ')}`,
            );
          equal[tool].push(m);
        }
      }
      out.equal = { rounds: equal, summary: summarise(equal) };

      // Phase 2: planted differences, found exactly by every tool.
      log(`planting ${changed + 1} differences on the target`);
      const planted = await plantDifferences(tgt, rows, changed);
      const expected = allPlanted(planted);
      const plantedRuns: Record<string, Measured & { foundExactly: boolean }> = {};
      for (const tool of TOOLS) {
        const { m, keys } = await measure(tool);
        plantedRuns[tool] = { ...m, foundExactly: JSON.stringify(keys) === JSON.stringify(expected) };
        if (!plantedRuns[tool].foundExactly)
          log(`${tool} found ${keys.join(',')} instead of ${expected.join(',')}`);
      }
      out.planted = { keys: planted, ...plantedRuns };
      out.allFoundExactly = Object.values(plantedRuns).every((r) => r.foundExactly);
    } finally {
      worker.shutdown();
      await running;
      await connection.close();
      await native.close();
    }
    (out.machine as Record<string, unknown>).loadAverageAtEnd = os.loadavg().map((l) => round(l, 1));
    process.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
  } finally {
    for (const c of conns) await c.end().catch(() => {});
    if (!process.argv.includes('--keep')) await stopStack(started);
  }
}

/** Medians per tool, and ours against each baseline: wall time and CPU-seconds (servers + tool). */
function summarise(runs: Record<Tool, Measured[]>): Record<string, unknown> {
  const med = (tool: Tool, f: (m: Measured) => number) => round(median(runs[tool].map(f)), 2);
  const total = (m: Measured) =>
    m.cpuSeconds.source + m.cpuSeconds.target + m.cpuSeconds.tool + (m.cpuSeconds.temporal ?? 0);
  const perTool = Object.fromEntries(
    TOOLS.map((t) => [
      t,
      {
        seconds: med(t, (m) => m.seconds),
        rowsPerSecond: Math.round(median(runs[t].map((m) => m.rowsPerSecond))),
        sourceCpuSeconds: med(t, (m) => m.cpuSeconds.source),
        totalCpuSeconds: med(t, total),
      },
    ]),
  );
  const ratios = (base: Tool) => ({
    // Per round: the baseline's wall seconds over ours (above 1: ours is faster).
    wallPerRound: runs[base].map((b, i) => round(b.seconds / (runs.otterflow[i]?.seconds ?? Number.NaN), 2)),
    wallOfMedians: round(
      median(runs[base].map((m) => m.seconds)) / median(runs.otterflow.map((m) => m.seconds)),
      2,
    ),
    sourceCpuOfMedians: round(
      median(runs[base].map((m) => m.cpuSeconds.source)) /
        median(runs.otterflow.map((m) => m.cpuSeconds.source)),
      2,
    ),
    totalCpuOfMedians: round(median(runs[base].map(total)) / median(runs.otterflow.map(total)), 2),
  });
  return {
    ...perTool,
    oursVsPtTableSyncPrint: ratios('ptTableSyncPrint'),
    oursVsDumpAndDiff: ratios('dumpAndDiff'),
  };
}

main().catch((err) => {
  process.stderr.write(`${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
