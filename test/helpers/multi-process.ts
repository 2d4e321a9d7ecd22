import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { openMysqlCatalog } from '../../src/catalog/mysql-catalog';
import { localCatalogUrl } from '../../src/catalog/url';
import { projectRoot } from '../../src/config/stack';
import { waitForPort } from '../../src/devstack/processes';
import { stackEnv } from '../../src/devstack/stack';
import { sha256 } from '../../src/service/api-tokens';
import { dropCatalogDatabase } from './api-stack';
import { scratchDir, spawnWorkerProcess, tailOf, type WorkerProcess } from './processes';
import { testStack, uniqueName } from './stack';

/**
 * Several API and worker processes sharing one catalog database and one Temporal, each with an
 * OTTERFLOW_HOME of its own (nothing shared on disk). Ports: the free ones from
 * OTTERFLOW_TEST_MULTI_PORT (default 36500) upwards, away from the private servers (test/helpers/ports.ts).
 */
export interface MultiProcessStack {
  catalogUrl: string;
  /** Base task queue of the deployment; region R polls `<base>-R`. */
  taskQueue: string;
  adminToken: string;
  homes: string[];
  startApi(name: string, env?: NodeJS.ProcessEnv): Promise<ApiProcess>;
  startWorker(name: string, region: string, env?: NodeJS.ProcessEnv): Promise<WorkerProcess>;
  close(): Promise<void>;
}

export interface ApiProcess {
  url: string;
  pid: number;
  call(method: string, p: string, body?: unknown, headers?: Record<string, string>): Promise<ApiAnswer>;
  stop(): Promise<void>;
}

export interface ApiAnswer {
  status: number;
  // biome-ignore lint/suspicious/noExplicitAny: JSON bodies of many shapes, checked by the assertions
  body: any;
  text: string;
}

/** Planted in every process's OTTERFLOW_HOME; with a catalog URL none is read, changed or joined by others. */
export const PLANTED_FILES = ['datasources.json', 'pipelines.json', 'api-tokens.json'];
export const PLANTED_TEXT = 'not JSON: with OTTERFLOW_CATALOG_URL set, no process reads its catalog files';

export function multiProcessPortBase(): number {
  return Number(process.env.OTTERFLOW_TEST_MULTI_PORT ?? 36500);
}

export async function startMultiProcessStack(): Promise<MultiProcessStack> {
  const s = testStack();
  const catalogUrl = localCatalogUrl(s.host, s.targetPort).replace(
    /otterflow_catalog$/,
    uniqueName('otf_cat'),
  );
  const adminToken = `otf_${randomBytes(16).toString('hex')}`;
  // The API token lives only in the catalog (hashed): both APIs read it from there.
  const catalog = await openMysqlCatalog(catalogUrl, { createDatabase: true });
  await catalog.tokens.put({ name: 'multi-admin', role: 'admin', sha256: sha256(adminToken) });
  await catalog.close();
  const taskQueue = uniqueName('tq_multi');
  const homes: string[] = [];
  const children: Array<{ stop(): Promise<void> }> = [];
  let nextPort = multiProcessPortBase();
  // The next port of the range that nothing listens on (other programs may hold some of them).
  const takePort = async (): Promise<number> => {
    for (let tries = 0; tries < 100; tries++) {
      const port = nextPort++;
      if (await isFree(port)) return port;
    }
    throw new Error(`no free port from ${multiProcessPortBase()} (OTTERFLOW_TEST_MULTI_PORT)`);
  };
  const baseEnv = (home: string): NodeJS.ProcessEnv => ({
    ...stackEnv(s),
    OTTERFLOW_HOME: home,
    OTTERFLOW_CATALOG_URL: catalogUrl,
    OTTERFLOW_TASK_QUEUE: taskQueue,
    OTTERFLOW_LOG_LEVEL: 'info',
  });
  const newHome = (name: string) => {
    const home = fs.mkdtempSync(path.join(os.tmpdir(), `otterflow-${name}-`));
    // Catalog files that no process may read: reading any of them would fail (not JSON).
    for (const f of PLANTED_FILES) fs.writeFileSync(path.join(home, f), PLANTED_TEXT);
    homes.push(home);
    return home;
  };

  return {
    catalogUrl,
    taskQueue,
    adminToken,
    homes,
    async startApi(name, env = {}) {
      const port = await takePort();
      const logFile = path.join(scratchDir('logs'), `multi-${name}.log`);
      const out = fs.openSync(logFile, 'w');
      const child: ChildProcess = spawn(
        process.execPath,
        [path.join(projectRoot, 'bin', 'otterflow.js'), 'api'],
        {
          cwd: projectRoot,
          env: { ...baseEnv(newHome(name)), OTTERFLOW_API_PORT: String(port), ...env },
          stdio: ['ignore', out, out],
        },
      );
      fs.closeSync(out);
      let alive = true;
      const exited = new Promise<void>((r) =>
        child.once('exit', () => {
          alive = false;
          r();
        }),
      );
      const stop = async () => {
        if (!alive) return;
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
        await exited;
        clearTimeout(timer);
      };
      children.push({ stop });
      try {
        await waitForPort('127.0.0.1', port, 60_000, () => alive);
      } catch (err) {
        throw new Error(`API ${name} did not start: ${(err as Error).message}\n${tailOf(logFile)}`);
      }
      const url = `http://127.0.0.1:${port}`;
      return {
        url,
        pid: child.pid ?? 0,
        stop,
        async call(method, p, body, headers = {}) {
          const res = await fetch(`${url}${p}`, {
            method,
            headers: {
              authorization: `Bearer ${adminToken}`,
              ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
              ...headers,
            },
            ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
          });
          const text = await res.text();
          let parsed: unknown;
          try {
            parsed = text ? JSON.parse(text) : undefined;
          } catch {
            parsed = undefined;
          }
          return { status: res.status, body: parsed, text };
        },
      };
    },
    async startWorker(name, region, env = {}) {
      const home = newHome(name);
      const metricsPort = await takePort();
      const w = await spawnWorkerProcess({
        taskQueue,
        metricsPort,
        logName: `multi-${name}`,
        env: {
          ...baseEnv(home),
          OTTERFLOW_METRICS_PORT: String(metricsPort),
          OTTERFLOW_REGION: region,
          ...env,
        },
      });
      children.push({ stop: () => w.stop() });
      return w;
    },
    async close() {
      for (const c of children.reverse()) await c.stop().catch(() => undefined);
      await dropCatalogDatabase(catalogUrl);
      for (const h of homes) fs.rmSync(h, { recursive: true, force: true });
    },
  };
}

/** Every file under a folder with its content: what a process left in its OTTERFLOW_HOME. */
export function filesUnder(dir: string): Record<string, string> {
  if (!fs.existsSync(dir)) return {};
  const out: Record<string, string> = {};
  for (const e of fs.readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (!e.isFile()) continue;
    const file = path.join(e.parentPath, e.name);
    out[path.relative(dir, file)] = fs.readFileSync(file, 'utf8');
  }
  return out;
}

function isFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}
