import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';

/** What `dev up` writes for each process it started, so `down` stops only what is ours. */
export interface PidRecord {
  name: string;
  pid: number;
  /** A word that must appear in /proc/<pid>/cmdline: guards against a recycled pid. */
  marker: string;
  startedAt: string;
}

export function pidFile(runDir: string, name: string): string {
  return path.join(runDir, `${name}.pid.json`);
}

export function readPidRecord(runDir: string, name: string): PidRecord | undefined {
  try {
    return JSON.parse(fs.readFileSync(pidFile(runDir, name), 'utf8')) as PidRecord;
  } catch {
    return undefined;
  }
}

export function writePidRecord(runDir: string, rec: PidRecord): void {
  fs.mkdirSync(runDir, { recursive: true });
  fs.writeFileSync(pidFile(runDir, rec.name), JSON.stringify(rec, null, 2));
}

export function removePidRecord(runDir: string, name: string): void {
  fs.rmSync(pidFile(runDir, name), { force: true });
}

/** True when the pid is alive and still runs the command we started (not a recycled pid). */
export function isOurProcessAlive(rec: PidRecord): boolean {
  try {
    process.kill(rec.pid, 0);
  } catch {
    return false;
  }
  try {
    const cmdline = fs.readFileSync(`/proc/${rec.pid}/cmdline`, 'utf8');
    if (!cmdline.includes(rec.marker)) return false;
    const stat = fs.readFileSync(`/proc/${rec.pid}/stat`, 'utf8');
    // A zombie (state Z) has exited; it only waits for its parent to reap it.
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    return state !== 'Z';
  } catch {
    return true; // no /proc: trust kill(0)
  }
}

/** True when the process recorded under `name` is alive and still ours. */
export function isRecordedAlive(runDir: string, name: string): boolean {
  const rec = readPidRecord(runDir, name);
  return rec !== undefined && isOurProcessAlive(rec);
}

/**
 * Starts a detached process and records it under `name` (replacing a stale record), so that
 * `dev down` can stop it and nothing else. `marker` must appear in the process's command line.
 */
export function launchRecorded(opts: {
  runDir: string;
  name: string;
  marker: string;
  command: string;
  args: string[];
  logFile: string;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
}): PidRecord {
  removePidRecord(opts.runDir, opts.name);
  const pid = spawnDetached(opts.command, opts.args, { logFile: opts.logFile, env: opts.env, cwd: opts.cwd });
  const rec: PidRecord = { name: opts.name, pid, marker: opts.marker, startedAt: new Date().toISOString() };
  writePidRecord(opts.runDir, rec);
  return rec;
}

/** Starts a detached process whose output goes to a log file; returns its pid. */
export function spawnDetached(
  command: string,
  args: string[],
  opts: { logFile: string; env?: NodeJS.ProcessEnv; cwd?: string },
): number {
  fs.mkdirSync(path.dirname(opts.logFile), { recursive: true });
  const out = fs.openSync(opts.logFile, 'a');
  const child = spawn(command, args, {
    detached: true,
    stdio: ['ignore', out, out],
    env: opts.env ?? process.env,
    cwd: opts.cwd,
  });
  fs.closeSync(out);
  if (child.pid === undefined) throw new Error(`could not start ${command}`);
  child.unref();
  return child.pid;
}

/** Resolves when the port accepts TCP connections; rejects after the timeout. */
export async function waitForPort(
  host: string,
  port: number,
  timeoutMs: number,
  stillAlive: () => boolean = () => true,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (!stillAlive()) throw new Error('the process exited before it opened its port');
    if (await isPortOpen(host, port)) return;
    await sleep(200);
  }
  throw new Error(`nothing answered on ${host}:${port} within ${Math.round(timeoutMs / 1000)} s`);
}

export function isPortOpen(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = net.connect({ host, port });
    sock.setTimeout(1000);
    sock.once('connect', () => {
      sock.destroy();
      resolve(true);
    });
    sock.once('timeout', () => {
      sock.destroy();
      resolve(false);
    });
    sock.once('error', () => resolve(false));
  });
}

/** Throws a clear error when something that is not ours already listens on the port. */
export async function assertPortFree(host: string, port: number, what: string): Promise<void> {
  const free = await new Promise<boolean>((resolve) => {
    const srv = net.createServer();
    srv.once('error', () => resolve(false));
    srv.listen(port, host, () => srv.close(() => resolve(true)));
  });
  if (!free) {
    throw new Error(
      `port ${port} on ${host} is already taken by another program; ${what} cannot start there. ` +
        `Stop that program or choose another port (see the OTTERFLOW_*_PORT variables in README.md).`,
    );
  }
}

/** Sends SIGTERM, waits, then SIGKILL; resolves once the process is gone. */
export async function stopProcess(rec: PidRecord, graceMs = 15000): Promise<void> {
  if (!isOurProcessAlive(rec)) return;
  try {
    process.kill(rec.pid, 'SIGTERM');
  } catch {
    return;
  }
  const deadline = Date.now() + graceMs;
  while (Date.now() < deadline) {
    if (!isOurProcessAlive(rec)) return;
    await sleep(100);
  }
  try {
    process.kill(rec.pid, 'SIGKILL');
  } catch {
    /* already gone */
  }
  while (isOurProcessAlive(rec)) await sleep(50);
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
