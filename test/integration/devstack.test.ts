import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import { privatePort } from '../helpers/ports';
import { mysqlSkipReason } from '../helpers/stack';

// These tests run a second, complete stack (Temporal, two MariaDB, two MySQL 9, worker, API) under a
// home and ports of their own, exactly as a user runs it: through the `otterflow` command.
const root = path.resolve(__dirname, '..', '..');
const bin = path.join(root, 'bin', 'otterflow.js');

// Ports: BASE .. BASE+7 for the full stack, BASE+100/+200/+300 for the failing ones. BASE can be moved
// (OTTERFLOW_TEST_DEVSTACK_PORT) so that two checkouts on one machine can run this file at once.
const BASE = Number(process.env.OTTERFLOW_TEST_DEVSTACK_PORT ?? privatePort(1306));

function stackEnv(home: string, base: number): NodeJS.ProcessEnv {
  return {
    ...process.env,
    OTTERFLOW_HOME: home,
    OTTERFLOW_SOURCE_PORT: String(base),
    OTTERFLOW_TARGET_PORT: String(base + 1),
    OTTERFLOW_TEMPORAL_PORT: String(base + 2),
    OTTERFLOW_TEMPORAL_UI_PORT: String(base + 3),
    OTTERFLOW_API_PORT: String(base + 4),
    OTTERFLOW_METRICS_PORT: String(base + 5),
    OTTERFLOW_MYSQL_SOURCE_PORT: String(base + 6),
    OTTERFLOW_MYSQL_TARGET_PORT: String(base + 7),
  };
}

function otterflow(env: NodeJS.ProcessEnv, ...args: string[]) {
  const r = spawnSync(process.execPath, [bin, ...args], { env, encoding: 'utf8', timeout: 240_000 });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

/** Every process whose command line or environment mentions the stack's home folder. */
function processesOf(home: string): number[] {
  const pids: number[] = [];
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    try {
      const cmdline = fs.readFileSync(`/proc/${entry}/cmdline`, 'utf8');
      const environ = fs.readFileSync(`/proc/${entry}/environ`, 'utf8');
      const stat = fs.readFileSync(`/proc/${entry}/stat`, 'utf8');
      if (stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z')) continue;
      if (cmdline.includes(home) || environ.includes(`OTTERFLOW_HOME=${home}\0`)) pids.push(Number(entry));
    } catch {
      /* process ended meanwhile */
    }
  }
  return pids;
}

function statusJson(env: NodeJS.ProcessEnv): {
  catalogUrl: string;
  components: Array<{ component: string; running: boolean; pid?: number }>;
} {
  const r = otterflow(env, 'dev', 'status', '--json');
  assert.equal(r.code, 0, r.err);
  return JSON.parse(r.out);
}

function statusOf(env: NodeJS.ProcessEnv) {
  return statusJson(env).components;
}

describe('otterflow dev up/down/status', () => {
  const home = fs.mkdtempSync(path.join(os.tmpdir(), 'otterflow-devstack-'));
  const env = stackEnv(home, BASE);
  after(() => {
    otterflow(env, 'dev', 'down', '--wipe');
    fs.rmSync(home, { recursive: true, force: true });
  });

  // With MySQL off in this run, the MySQL components are neither started nor expected.
  const withMysql = mysqlSkipReason() === undefined;
  const upArgs = withMysql ? ['dev', 'up', '--with-mysql'] : ['dev', 'up'];
  const expected = (c: { component: string }) => withMysql || !c.component.startsWith('mysql');

  test('up starts everything, a second up starts nothing new, down leaves no process of ours', async () => {
    // A JSON catalog left by an earlier version: imported into the catalog database once.
    fs.writeFileSync(
      path.join(home, 'datasources.json'),
      JSON.stringify([{ name: 'legacy', kind: 'mariadb', host: '127.0.0.1', port: BASE, user: 'root' }]),
    );
    const first = otterflow(env, ...upArgs);
    assert.equal(first.code, 0, first.err);
    assert.match(
      first.err,
      new RegExp(
        `imported 1 datasource\\(s\\) and 0 pipeline\\(s\\) into the catalog mysql://root@127\\.0\\.0\\.1:${BASE + 1}/otterflow_catalog`,
      ),
    );
    assert.ok(!fs.existsSync(path.join(home, 'datasources.json')));
    assert.ok(fs.existsSync(path.join(home, 'datasources.json.imported')));
    assert.equal(statusJson(env).catalogUrl, `mysql://root@127.0.0.1:${BASE + 1}/otterflow_catalog`);

    assert.match(first.out, new RegExp(`Temporal Web UI\\s+http://127\\.0\\.0\\.1:${BASE + 3}\\b`));
    assert.match(first.out, new RegExp(`API\\s+http://127\\.0\\.0\\.1:${BASE + 4}\\b`));
    assert.match(first.out, /dev down/);
    const running = statusOf(env).filter(expected);
    assert.deepEqual(
      running.filter((c) => !c.running).map((c) => c.component),
      [],
    );
    if (withMysql) {
      assert.match(first.out, new RegExp(`MySQL 9 source\\s+mysql -h 127\\.0\\.0\\.1 -P ${BASE + 6}\\b`));
      assert.match(first.out, new RegExp(`MySQL 9 target\\s+mysql -h 127\\.0\\.0\\.1 -P ${BASE + 7}\\b`));
    }
    const health = await fetch(`http://127.0.0.1:${BASE + 4}/healthz`);
    assert.equal(health.status, 200);
    // (after the health check: a keep-alive socket idle across the blocking spawnSync calls above
    // would be closed by the server under a reused fetch)
    // The API reads the catalog database and the dev tokens' hashes stored there; it writes no file.
    const tokens = JSON.parse(fs.readFileSync(path.join(home, 'api-tokens.json'), 'utf8')) as Array<{
      role: string;
      token: string;
    }>;
    const admin = tokens.find((t) => t.role === 'admin')?.token;
    const headers = { authorization: `Bearer ${admin}`, 'content-type': 'application/json' };
    const added = await fetch(`http://127.0.0.1:${BASE + 4}/v1/datasources`, {
      method: 'POST',
      headers,
      body: JSON.stringify({ name: 'extra', kind: 'mariadb', host: '127.0.0.1', port: BASE, user: 'root' }),
    });
    assert.equal(added.status, 201, await added.text());
    const listed = (await (
      await fetch(`http://127.0.0.1:${BASE + 4}/v1/datasources`, { headers })
    ).json()) as Array<{
      name: string;
    }>;
    assert.deepEqual(
      listed.map((d) => d.name),
      ['extra', 'legacy', ...(withMysql ? ['mysql-source', 'mysql-target'] : []), 'source', 'target'],
    );
    for (const f of ['datasources.json', 'pipelines.json'])
      assert.ok(!fs.existsSync(path.join(home, f)), `${f} was written`);

    const second = otterflow(env, ...upArgs);
    assert.equal(second.code, 0, second.err);
    for (const c of running.map((r) => r.component)) {
      assert.match(second.err, new RegExp(`${c}\\s+already running`));
    }
    assert.deepEqual(
      statusOf(env)
        .filter(expected)
        .map((c) => c.pid),
      running.map((c) => c.pid),
      'the second up keeps the same processes',
    );
    const before = processesOf(home);
    assert.ok(
      before.length >= running.length,
      `expected at least ${running.length} processes of ours, saw ${before.length}`,
    );

    const down = otterflow(env, 'dev', 'down');
    assert.equal(down.code, 0, down.err);
    assert.deepEqual(processesOf(home), [], 'no process of ours is left after dev down');
    assert.ok(fs.existsSync(path.join(home, 'mariadb', 'source', 'data')), 'down keeps the data');
    assert.ok(statusOf(env).every((c) => !c.running));
  });
});

describe('a bad environment gets a clear error', () => {
  test('a port already taken by another program', async () => {
    const home = fs.mkdtempSync(path.join(os.tmpdir(), 'otterflow-badport-'));
    const blocker = net.createServer();
    await new Promise<void>((r) => blocker.listen(BASE + 100, '127.0.0.1', r));
    try {
      const r = otterflow(stackEnv(home, BASE + 100), 'dev', 'up', '--infra-only');
      assert.notEqual(r.code, 0);
      assert.match(
        r.err,
        new RegExp(
          `port ${BASE + 100} on 127\\.0\\.0\\.1 is already taken by another program; MariaDB "source"`,
        ),
      );
      assert.deepEqual(processesOf(home), [], 'nothing was started');
    } finally {
      blocker.close();
      fs.rmSync(home, { recursive: true, force: true });
    }
  });

  test('a missing binary', () => {
    const home = fs.mkdtempSync(path.join(os.tmpdir(), 'otterflow-nobin-'));
    try {
      const env = { ...stackEnv(home, BASE + 200), TEMPORAL_CLI: '/nonexistent/temporal' };
      const r = otterflow(env, 'dev', 'up', '--infra-only');
      assert.notEqual(r.code, 0);
      assert.match(r.err, /TEMPORAL_CLI points to \/nonexistent\/temporal, which does not exist/);
      const r2 = otterflow(
        { ...stackEnv(home, BASE + 200), OTTERFLOW_MARIADBD: '/nonexistent/mariadbd' },
        'dev',
        'up',
      );
      assert.notEqual(r2.code, 0);
      assert.match(r2.err, /OTTERFLOW_MARIADBD points to \/nonexistent\/mariadbd, which does not exist/);
      assert.deepEqual(processesOf(home), []);
    } finally {
      fs.rmSync(home, { recursive: true, force: true });
    }
  });

  test('a data directory that is not ours', () => {
    const home = fs.mkdtempSync(path.join(os.tmpdir(), 'otterflow-foreign-'));
    try {
      const data = path.join(home, 'mariadb', 'source', 'data');
      fs.mkdirSync(data, { recursive: true });
      fs.writeFileSync(path.join(data, 'ibdata1'), 'someone else’s database');
      const r = otterflow(stackEnv(home, BASE + 300), 'dev', 'up', '--infra-only');
      assert.notEqual(r.code, 0);
      assert.match(r.err, /is not empty and was not created by Otterflow/);
      assert.equal(
        fs.readFileSync(path.join(data, 'ibdata1'), 'utf8'),
        'someone else’s database',
        'left untouched',
      );
      assert.deepEqual(processesOf(home), [], 'nothing was started');
    } finally {
      fs.rmSync(home, { recursive: true, force: true });
    }
  });
});
