import { type ChildProcess, spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { Client, Connection, type WorkflowHandle } from '@temporalio/client';
import type mysql from 'mysql2/promise';
import { projectRoot, temporalAddress } from '../../src/config/stack';
import { waitForPort } from '../../src/devstack/processes';
import { stackEnv } from '../../src/devstack/stack';
import { testStack } from './stack';

/**
 * Helpers for tests that kill things: worker processes of their own (separate OS processes, so that
 * `kill -9` is real), RSS sampling from /proc, and the scratch folder for private servers.
 * Private servers and worker metrics use ports base+700–799 only (test/helpers/ports.ts).
 */

/** Folder for this area's private servers and logs (under .otterflow/scratch/failover). */
export function scratchDir(...parts: string[]): string {
  const dir = path.join(projectRoot, '.otterflow', 'scratch', 'failover', ...parts);
  fs.mkdirSync(dir, { recursive: true });
  return dir;
}

export interface WorkerProcess {
  pid: number;
  child: ChildProcess;
  logFile: string;
  /** Resolves with the exit code (or signal name) when the process has exited. */
  exited: Promise<number | string | null>;
  /** SIGKILL: no shutdown, no goodbye to Temporal or the databases. */
  kill9(): void;
  /** SIGTERM and wait (the SDK shuts the worker down); SIGKILL after `graceMs`. */
  stop(graceMs?: number): Promise<void>;
}

export interface WorkerProcessOptions {
  taskQueue: string;
  /** Metrics port of the worker: its readiness signal. In base+700–799 (test/helpers/ports.ts). */
  metricsPort: number;
  /** OTTERFLOW_* overrides (e.g. OTTERFLOW_HOME for a private catalog, OTTERFLOW_TEMPORAL_PORT). */
  env?: NodeJS.ProcessEnv;
  logName: string;
}

/**
 * Starts `node bin/otterflow.js worker` against the test stack (environment as `dev up` gives it),
 * on a task queue of the test's own, and waits until its metrics port listens (the worker is polling).
 */
export async function spawnWorkerProcess(opts: WorkerProcessOptions): Promise<WorkerProcess> {
  const logFile = path.join(scratchDir('logs'), `${opts.logName}.log`);
  const out = fs.openSync(logFile, 'w');
  const child = spawn(process.execPath, [path.join(projectRoot, 'bin', 'otterflow.js'), 'worker'], {
    cwd: projectRoot,
    env: {
      ...stackEnv(testStack()),
      OTTERFLOW_TASK_QUEUE: opts.taskQueue,
      OTTERFLOW_METRICS_PORT: String(opts.metricsPort),
      OTTERFLOW_LOG_LEVEL: 'info',
      ...opts.env,
    },
    stdio: ['ignore', out, out],
  });
  fs.closeSync(out);
  if (child.pid === undefined) throw new Error('could not start a worker process');
  const pid = child.pid;
  const exited = new Promise<number | string | null>((resolve) =>
    child.once('exit', (code, signal) => resolve(code ?? signal)),
  );
  let alive = true;
  void exited.then(() => {
    alive = false;
  });
  const proc: WorkerProcess = {
    pid,
    child,
    logFile,
    exited,
    kill9: () => {
      if (alive) process.kill(pid, 'SIGKILL');
    },
    stop: async (graceMs = 15_000) => {
      if (!alive) return;
      process.kill(pid, 'SIGTERM');
      const timer = setTimeout(() => proc.kill9(), graceMs);
      await exited;
      clearTimeout(timer);
    },
  };
  try {
    await waitForPort('127.0.0.1', opts.metricsPort, 120_000, () => alive);
  } catch (err) {
    proc.kill9();
    throw new Error(`worker ${opts.logName} did not start: ${(err as Error).message}\n${tailOf(logFile)}`);
  }
  return proc;
}

export function tailOf(file: string, lines = 30): string {
  try {
    return fs.readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

/** Resident set size of a process in bytes (VmRSS), or undefined once it is gone. */
export function readRssBytes(pid: number): number | undefined {
  try {
    const m = /^VmRSS:\s+(\d+)\s+kB/m.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : undefined;
  } catch {
    return undefined;
  }
}

/** Samples a process's RSS every `everyMs` until stopped; reports the peak. */
export function sampleRss(pid: number, everyMs = 250): { stop(): { peakBytes: number; samples: number } } {
  let peakBytes = 0;
  let samples = 0;
  const timer = setInterval(() => {
    const rss = readRssBytes(pid);
    if (rss === undefined) return;
    samples++;
    if (rss > peakBytes) peakBytes = rss;
  }, everyMs);
  return {
    stop: () => {
      clearInterval(timer);
      return { peakBytes, samples };
    },
  };
}

/**
 * The pid of the worker running the pipeline's replicate activity right now, from the activity's
 * last worker identity (the SDK's default identity is `pid@host`).
 */
export async function activityWorkerPid(handle: WorkflowHandle): Promise<number | undefined> {
  const d = await handle.describe();
  const identity = d.raw.pendingActivities?.[0]?.lastWorkerIdentity;
  const m = identity ? /^(\d+)@/.exec(identity) : null;
  return m ? Number(m[1]) : undefined;
}

/** The pipeline's activity attempt number (1 for the first try, 2+ after a retry). */
export async function activityAttempt(handle: WorkflowHandle): Promise<number | undefined> {
  const d = await handle.describe();
  return d.raw.pendingActivities?.[0]?.attempt ?? undefined;
}

/**
 * Rows the pipeline has written so far in its open (uncommitted) target transaction: the largest
 * `trx_rows_modified` among the target's transactions touching more than `min` rows. Lets a test
 * kill something "in the middle of a batch" without guessing at timings.
 */
export async function openTransactionRows(target: mysql.Connection, min = 0): Promise<number> {
  const [rows] = await target.query<mysql.RowDataPacket[]>(
    'SELECT MAX(trx_rows_modified) AS n FROM information_schema.INNODB_TRX WHERE trx_rows_modified > ?',
    [min],
  );
  return Number(rows[0]?.n ?? 0);
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Runs `fn` with a Temporal client on the test stack's server (or `address`), closing it after. */
export async function withClient<T>(fn: (client: Client) => Promise<T>, address?: string): Promise<T> {
  const s = testStack();
  const connection = await Connection.connect({ address: address ?? temporalAddress(s) });
  try {
    return await fn(new Client({ connection, namespace: s.namespace }));
  } finally {
    await connection.close();
  }
}
