import fs from 'node:fs';
import path from 'node:path';
import { catalogFile, DatasourceCatalog } from '../config/datasources';
import { projectRoot, type StackSettings } from '../config/stack';
import { describeDevTokens, ensureDevApiTokens } from '../service/api-tokens';
import { assertDataDirIsOurs, isRunning, type MariaDbInstanceSpec, startMariaDb } from './mariadb';
import { assertMysqlDataDirIsOurs, isMysqlRunning, type MysqlInstanceSpec, startMysql } from './mysql';
import { ensureMysql } from './mysql-root';
import {
  assertPortFree,
  isOurProcessAlive,
  isRecordedAlive,
  launchRecorded,
  readPidRecord,
  removePidRecord,
  stopProcess,
  waitForPort,
} from './processes';
import { isTemporalRunning, startTemporal, type TemporalDevSpec } from './temporal';
import { ensureMariaDb, ensureTemporal, type Log } from './tools';

/** The pieces of the embedded stack, in start order (stop order is the reverse). */
export const COMPONENTS = [
  'temporal',
  'mariadb-source',
  'mariadb-target',
  'mysql-source',
  'mysql-target',
  'worker',
  'api',
] as const;
export type Component = (typeof COMPONENTS)[number];

export function runDir(s: StackSettings): string {
  return path.join(s.home, 'run');
}

export function mariaDbSpec(s: StackSettings, which: 'source' | 'target'): MariaDbInstanceSpec {
  return {
    name: which,
    host: s.host,
    port: which === 'source' ? s.sourcePort : s.targetPort,
    serverId: which === 'source' ? s.sourceServerId : s.targetServerId,
    dir: path.join(s.home, 'mariadb', which),
    runDir: runDir(s),
  };
}

export function mysqlSpec(s: StackSettings, which: 'source' | 'target'): MysqlInstanceSpec {
  return {
    name: which,
    host: s.host,
    port: which === 'source' ? s.mysqlSourcePort : s.mysqlTargetPort,
    serverId: which === 'source' ? s.mysqlSourceServerId : s.mysqlTargetServerId,
    dir: path.join(s.home, 'mysql', which),
    runDir: runDir(s),
  };
}

export function temporalSpec(s: StackSettings): TemporalDevSpec {
  return {
    host: s.host,
    port: s.temporalPort,
    uiPort: s.temporalUiPort,
    dir: path.join(s.home, 'temporal'),
    runDir: runDir(s),
    namespace: s.namespace,
  };
}

/** Environment handed to the worker and API processes so they find this stack. */
export function stackEnv(s: StackSettings): NodeJS.ProcessEnv {
  return {
    ...process.env,
    OTTERFLOW_HOME: s.home,
    OTTERFLOW_HOST: s.host,
    OTTERFLOW_SOURCE_PORT: String(s.sourcePort),
    OTTERFLOW_TARGET_PORT: String(s.targetPort),
    OTTERFLOW_MYSQL_SOURCE_PORT: String(s.mysqlSourcePort),
    OTTERFLOW_MYSQL_TARGET_PORT: String(s.mysqlTargetPort),
    OTTERFLOW_TEMPORAL_PORT: String(s.temporalPort),
    OTTERFLOW_TEMPORAL_UI_PORT: String(s.temporalUiPort),
    OTTERFLOW_API_PORT: String(s.apiPort),
    OTTERFLOW_METRICS_PORT: String(s.metricsPort),
    OTTERFLOW_NAMESPACE: s.namespace,
    OTTERFLOW_TASK_QUEUE: s.taskQueue,
  };
}

export interface UpOptions {
  /** Start only the databases and Temporal (the test harness runs its own workers). */
  infraOnly?: boolean;
  /** Also start a MySQL 9 source and target (the MySQL folder is built once when missing). */
  withMysql?: boolean;
}

export interface UpReport {
  components: Record<string, 'started' | 'already running' | 'skipped'>;
}

/** Brings the stack up; idempotent: running parts are left alone and reported as such. */
export async function up(s: StackSettings, log: Log, opts: UpOptions = {}): Promise<UpReport> {
  fs.mkdirSync(s.home, { recursive: true });
  const report: UpReport = { components: {} };
  const temporalBin = ensureTemporal(log);
  const mariadb = ensureMariaDb(log);
  const mysqlTools = opts.withMysql ? ensureMysql(log) : undefined;
  await preflight(s, opts);

  report.components.temporal = await startTemporal(temporalSpec(s), temporalBin);
  for (const which of ['source', 'target'] as const) {
    report.components[`mariadb-${which}`] = await startMariaDb(mariaDbSpec(s, which), mariadb);
  }
  for (const which of ['source', 'target'] as const) {
    report.components[`mysql-${which}`] = mysqlTools
      ? await startMysql(mysqlSpec(s, which), mysqlTools)
      : 'skipped';
  }
  registerLocalDatasources(s, opts.withMysql === true);
  if (!opts.infraOnly) log(describeDevTokens(ensureDevApiTokens(s.home)));

  for (const [name, port] of [
    ['worker', s.metricsPort],
    ['api', s.apiPort],
  ] as const) {
    if (opts.infraOnly) {
      report.components[name] = 'skipped';
      continue;
    }
    report.components[name] = await startNodeProcess(s, name, port);
  }
  return report;
}

/**
 * Checks everything that can be checked before starting anything, so that a bad environment
 * (a port taken by another program, a foreign data directory) fails fast and leaves nothing half-started.
 */
async function preflight(s: StackSettings, opts: UpOptions): Promise<void> {
  const problems: string[] = [];
  const check = async (running: boolean, port: number, what: string) => {
    if (running) return;
    await assertPortFree(s.host, port, what).catch((e: Error) => problems.push(e.message));
  };
  const t = temporalSpec(s);
  await check(isTemporalRunning(t), s.temporalPort, 'the Temporal dev server');
  await check(isTemporalRunning(t), s.temporalUiPort, 'the Temporal Web UI');
  for (const which of ['source', 'target'] as const) {
    const spec = mariaDbSpec(s, which);
    await check(isRunning(spec), spec.port, `MariaDB "${which}"`);
    try {
      assertDataDirIsOurs(spec);
    } catch (e) {
      problems.push((e as Error).message);
    }
  }
  for (const which of opts.withMysql ? (['source', 'target'] as const) : []) {
    const spec = mysqlSpec(s, which);
    await check(isMysqlRunning(spec), spec.port, `MySQL "${which}"`);
    try {
      assertMysqlDataDirIsOurs(spec);
    } catch (e) {
      problems.push((e as Error).message);
    }
  }
  if (!opts.infraOnly) {
    await check(isRecordedAlive(runDir(s), 'worker'), s.metricsPort, 'the worker metrics endpoint');
    await check(isRecordedAlive(runDir(s), 'api'), s.apiPort, 'the API server');
  }
  if (problems.length) throw new Error(problems.join('\n'));
}

/**
 * The local databases as datasources (root, no password): "source" and "target" (MariaDB), and with
 * MySQL "mysql-source" and "mysql-target".
 */
function registerLocalDatasources(s: StackSettings, withMysql: boolean): void {
  const catalog = new DatasourceCatalog(catalogFile(s.home));
  const entries: Array<{ name: string; kind: 'mariadb' | 'mysql'; port: number }> = [
    { name: 'source', kind: 'mariadb', port: s.sourcePort },
    { name: 'target', kind: 'mariadb', port: s.targetPort },
    ...(withMysql
      ? [
          { name: 'mysql-source', kind: 'mysql' as const, port: s.mysqlSourcePort },
          { name: 'mysql-target', kind: 'mysql' as const, port: s.mysqlTargetPort },
        ]
      : []),
  ];
  for (const e of entries) {
    if (catalog.get(e.name)) continue;
    catalog.put({ name: e.name, kind: e.kind, host: s.host, port: e.port, user: 'root' });
  }
}

async function startNodeProcess(
  s: StackSettings,
  name: 'worker' | 'api',
  port: number,
): Promise<'started' | 'already running'> {
  const dir = runDir(s);
  if (isRecordedAlive(dir, name)) return 'already running';
  await assertPortFree(s.host, port, name === 'api' ? 'the API server' : 'the worker metrics endpoint');
  const logFile = path.join(s.home, 'logs', `${name}.log`);
  const rec = launchRecorded({
    runDir: dir,
    name,
    marker: 'otterflow.js',
    command: process.execPath,
    args: [path.join(projectRoot, 'bin', 'otterflow.js'), name],
    logFile,
    env: stackEnv(s),
    cwd: projectRoot,
  });
  try {
    await waitForPort(s.host, port, 120000, () => isOurProcessAlive(rec));
  } catch (err) {
    throw new Error(`${name} did not start: ${(err as Error).message}; see ${logFile}`);
  }
  return 'started';
}

export interface ComponentStatus {
  component: Component;
  running: boolean;
  pid?: number;
  detail: string;
}

export function status(s: StackSettings): ComponentStatus[] {
  const dir = runDir(s);
  const detail: Record<Component, string> = {
    temporal: `grpc ${s.host}:${s.temporalPort}, Web UI http://${s.host}:${s.temporalUiPort}`,
    'mariadb-source': `mysql://root@${s.host}:${s.sourcePort} (server id ${s.sourceServerId})`,
    'mariadb-target': `mysql://root@${s.host}:${s.targetPort} (server id ${s.targetServerId})`,
    'mysql-source': `mysql://root@${s.host}:${s.mysqlSourcePort} (MySQL 9, server id ${s.mysqlSourceServerId}; dev up --with-mysql)`,
    'mysql-target': `mysql://root@${s.host}:${s.mysqlTargetPort} (MySQL 9, server id ${s.mysqlTargetServerId}; dev up --with-mysql)`,
    worker: `task queue "${s.taskQueue}", metrics http://${s.host}:${s.metricsPort}/metrics`,
    api: `http://${s.host}:${s.apiPort}`,
  };
  return COMPONENTS.map((component) => {
    // Every component is recorded under its own name (mariadb-source, temporal, …).
    const rec = readPidRecord(dir, component);
    const running = isRecordedAlive(dir, component);
    return { component, running, pid: running ? rec?.pid : undefined, detail: detail[component] };
  });
}

export interface DownOptions {
  /** Also delete the data (databases, Temporal history, logs). */
  wipe?: boolean;
}

/** Stops only the processes recorded in our pid files, in reverse start order. */
export async function down(s: StackSettings, log: Log, opts: DownOptions = {}): Promise<string[]> {
  const dir = runDir(s);
  const stopped: string[] = [];
  for (const component of [...COMPONENTS].reverse()) {
    const rec = readPidRecord(dir, component);
    if (!rec) continue;
    if (isOurProcessAlive(rec)) {
      log(`stopping ${component} (pid ${rec.pid})…`);
      await stopProcess(
        rec,
        component.startsWith('mariadb') || component.startsWith('mysql') ? 60000 : 15000,
      );
      stopped.push(component);
    }
    removePidRecord(dir, component);
  }
  if (opts.wipe) {
    for (const sub of [
      'mariadb',
      'mysql',
      'temporal',
      'logs',
      'run',
      'datasources.json',
      'pipelines.json',
      'secrets',
      'api-tokens.json',
    ]) {
      fs.rmSync(path.join(s.home, sub), { recursive: true, force: true });
    }
    log(`wiped the data under ${s.home}`);
  }
  return stopped;
}
