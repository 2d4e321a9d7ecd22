import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { Client, Connection } from '@temporalio/client';
import { openMysqlCatalog } from '../../src/catalog/mysql-catalog';
import { temporalAddress } from '../../src/config/stack';
import { sha256 } from '../../src/service/api-tokens';
import { pipelineWorkflowId } from '../../src/workflows/pipeline-contract';
import { eventually } from '../helpers/api-stack';
import {
  type ApiProcess,
  filesUnder,
  type MultiProcessStack,
  PLANTED_FILES,
  PLANTED_TEXT,
  startMultiProcessStack,
} from '../helpers/multi-process';
import { samePipelineConfig } from '../helpers/pipeline';
import type { WorkerProcess } from '../helpers/processes';
import { connectTo, freshDatabases, testStack, uniqueName } from '../helpers/stack';

// Two API processes and workers in two regions, each with an OTTERFLOW_HOME of its own, sharing
// one catalog database and one Temporal: what a deployment over several hosts looks like.
describe('several API and worker processes, one catalog, one Temporal', () => {
  let stack: MultiProcessStack;
  let apiA: ApiProcess;
  let apiB: ApiProcess;
  let workerEast: WorkerProcess;
  let workerWest: WorkerProcess;
  const s = testStack();

  before(async () => {
    stack = await startMultiProcessStack();
    [apiA, apiB] = await Promise.all([stack.startApi('api-a'), stack.startApi('api-b')]);
    workerEast = await stack.startWorker('worker-east', 'east');
    workerWest = await stack.startWorker('worker-west', 'west');
    for (const [name, port] of [
      ['source', s.sourcePort],
      ['target', s.targetPort],
    ] as const) {
      const r = await apiA.call('POST', '/v1/datasources', {
        name,
        kind: 'mariadb',
        host: s.host,
        port,
        user: 'root',
      });
      assert.equal(r.status, 201, r.text);
    }
  });

  after(async () => {
    await stack?.close();
  });

  test('concurrent creates, updates and deletes through both APIs lose nothing; a stale update is a 409', async () => {
    const apis = [apiA, apiB];
    const names = Array.from({ length: 16 }, (_, i) => `mp_${i}`);
    const config = (name: string, batchSize = 1000) => ({
      name,
      source: 'source',
      target: 'target',
      mappings: [{ source: { schema: 'nothing_here', table: 't' } }],
      options: { batchSize },
    });
    // Creates, alternating between the APIs, all at once; and each name a second time through the other API.
    const creates = await Promise.all(
      names.flatMap((n, i) => [
        apis[i % 2]!.call('POST', '/v1/pipelines', config(n)),
        apis[(i + 1) % 2]!.call('POST', '/v1/pipelines', config(n)),
      ]),
    );
    for (let i = 0; i < names.length; i++) {
      const pair = [creates[2 * i]!.status, creates[2 * i + 1]!.status].sort();
      assert.deepEqual(pair, [201, 409], `${names[i]}: exactly one create wins`);
    }
    const listed = await apiB.call('GET', '/v1/pipelines');
    assert.deepEqual(
      listed.body.map((p: { name: string }) => p.name).filter((n: string) => n.startsWith('mp_')),
      [...names].sort(),
    );

    // Unconditional updates race: every one is counted (version = 1 + updates).
    const updated = names.slice(0, 4);
    const results = await Promise.all(
      updated.flatMap((n) =>
        Array.from({ length: 6 }, (_, k) =>
          apis[k % 2]!.call('PUT', `/v1/pipelines/${n}`, config(n, 2000 + k)),
        ),
      ),
    );
    assert.ok(
      results.every((r) => r.status === 200),
      results.map((r) => r.text).join('\n'),
    );
    for (const n of updated) {
      const got = await apiA.call('GET', `/v1/pipelines/${n}`);
      assert.equal(got.body.definition.version, 7, `${n}: six updates on version 1`);
    }

    // Conditional updates race on the same version: one wins, the others get a 409 naming the current version.
    const target = names[4]!;
    const conditional = await Promise.all(
      Array.from({ length: 6 }, (_, k) =>
        apis[k % 2]!.call('PUT', `/v1/pipelines/${target}`, config(target, 3000 + k), { 'if-match': '1' }),
      ),
    );
    assert.equal(conditional.filter((r) => r.status === 200).length, 1);
    for (const r of conditional.filter((x) => x.status !== 200)) {
      assert.equal(r.status, 409, r.text);
      assert.equal(r.body.currentVersion, 2);
      assert.match(r.body.detail, /is at version 2, not 1/);
    }
    // A stale update after a read: B changes it, A's update based on what it read is refused.
    const read = await apiA.call('GET', `/v1/pipelines/${target}`);
    assert.equal((await apiB.call('PUT', `/v1/pipelines/${target}`, config(target, 4000))).status, 200);
    const stale = await apiA.call('PUT', `/v1/pipelines/${target}`, config(target, 5000), {
      'if-match': `"${read.body.definition.version}"`,
    });
    assert.equal(stale.status, 409, stale.text);
    assert.equal(stale.body.currentVersion, read.body.definition.version + 1);

    // Deletes: each name through both APIs at once; one succeeds, the other finds nothing.
    const deleted = names.slice(8);
    const deletes = await Promise.all(
      deleted.flatMap((n) => [
        apiA.call('DELETE', `/v1/pipelines/${n}`),
        apiB.call('DELETE', `/v1/pipelines/${n}`),
      ]),
    );
    for (let i = 0; i < deleted.length; i++)
      assert.deepEqual([deletes[2 * i]!.status, deletes[2 * i + 1]!.status].sort(), [200, 404]);
    const after = await apiA.call('GET', '/v1/pipelines');
    assert.deepEqual(
      after.body.map((p: { name: string }) => p.name).filter((n: string) => n.startsWith('mp_')),
      names.slice(0, 8).sort(),
    );
    // A datasource in use cannot go, whichever API is asked.
    const inUse = await apiB.call('DELETE', '/v1/datasources/source');
    assert.equal(inUse.status, 409, inUse.text);
    for (const n of names.slice(0, 8))
      assert.equal((await apiA.call('DELETE', `/v1/pipelines/${n}`)).status, 200);

    // A token added to the catalog while the APIs run is accepted by both without a restart.
    const token = `otf_${randomBytes(12).toString('hex')}`;
    const catalog = await openMysqlCatalog(stack.catalogUrl);
    try {
      await catalog.tokens.put({ name: 'added-later', role: 'readonly', sha256: sha256(token) });
    } finally {
      await catalog.close();
    }
    for (const api of apis)
      await eventually(
        'the new token to be accepted',
        async () => {
          const r = await api.call('GET', '/v1/datasources', undefined, { authorization: `Bearer ${token}` });
          return r.status === 200 ? true : undefined;
        },
        30_000,
      );

    // Every OTTERFLOW_HOME holds only the unreadable catalog files planted there, unchanged:
    // nothing was written (and had anything been read, the requests above would have failed).
    const planted = Object.fromEntries(PLANTED_FILES.map((f) => [f, PLANTED_TEXT]));
    for (const home of stack.homes) assert.deepEqual(filesUnder(home), planted, `files under ${home}`);
  });

  test('regions: a pipeline runs only on its region’s worker; losing that worker stalls only that region', async (t) => {
    const east = await freshDatabases(t, 'east');
    const west = await freshDatabases(t, 'west');
    for (const db of [east, west]) {
      const ddl = 'CREATE TABLE items (id INT PRIMARY KEY, v VARCHAR(20))';
      await db.source.query(ddl);
      await db.target.query(ddl);
    }
    const eastConfig = { ...(await samePipelineConfig(east.source, east.name)), region: 'east' };
    const westConfig = { ...(await samePipelineConfig(west.source, west.name)), region: 'west' };
    for (const c of [eastConfig, westConfig]) {
      assert.equal((await apiA.call('POST', '/v1/pipelines', c)).status, 201);
      const started = await apiB.call('POST', `/v1/pipelines/${c.name}/start`);
      assert.equal(started.status, 202, started.text);
      assert.equal(started.body.taskQueue, `${stack.taskQueue}-${c.region}`);
    }
    const count = async (conn: typeof east.target, db: string) => {
      const [rows] = await conn.query(`SELECT COUNT(*) AS n FROM \`${db}\`.items`);
      return Number((rows as Array<{ n: number }>)[0]?.n);
    };
    const insert = async (db: typeof east, from: number, to: number) => {
      for (let i = from; i < to; i++) await db.source.query('INSERT INTO items VALUES (?, ?)', [i, `v${i}`]);
    };
    const caughtUp = (db: typeof east, n: number) =>
      eventually(
        `${db.name} has ${n} rows`,
        async () => ((await count(db.target, db.name)) === n ? true : undefined),
        90_000,
      );

    await insert(east, 0, 50);
    await insert(west, 0, 50);
    await Promise.all([caughtUp(east, 50), caughtUp(west, 50)]);

    // Status (through either API) shows the region and the worker running it.
    const westStatus = await apiA.call('GET', `/v1/pipelines/${westConfig.name}/status`);
    assert.equal(westStatus.body.region, 'west');
    assert.match(westStatus.body.worker, new RegExp(`^${workerWest.pid}@`));
    assert.ok(
      westStatus.body.pollers.some((p: { identity: string }) => p.identity.startsWith(`${workerWest.pid}@`)),
    );
    assert.ok(
      !westStatus.body.pollers.some((p: { identity: string }) => p.identity.startsWith(`${workerEast.pid}@`)),
    );

    // A region without any worker says so instead of looking idle.
    const north = {
      ...(await samePipelineConfig(east.source, east.name)),
      name: uniqueName('north'),
      region: 'north',
    };
    assert.equal((await apiB.call('POST', '/v1/pipelines', north)).status, 201);
    assert.equal((await apiB.call('POST', `/v1/pipelines/${north.name}/start`)).status, 202);
    const northStatus = await apiA.call('GET', `/v1/pipelines/${north.name}/status`);
    assert.deepEqual(northStatus.body.pollers, []);
    assert.equal(northStatus.body.state, 'running');
    assert.equal(northStatus.body.region, 'north');
    assert.ok(
      northStatus.body.warnings.some((w: string) =>
        w.includes(`no worker polls task queue "${stack.taskQueue}-north" (region "north")`),
      ),
      JSON.stringify(northStatus.body),
    );
    assert.equal((await apiB.call('DELETE', `/v1/pipelines/${north.name}?force=false`)).status, 409);

    // Kill region west's only worker: east keeps going, west stalls.
    workerWest.kill9();
    await workerWest.exited;
    await insert(east, 50, 100);
    await insert(west, 50, 100);
    await caughtUp(east, 100);
    assert.equal(await count(west.target, west.name), 50, 'no east worker picked up the west pipeline');

    // A new west worker: the pipeline resumes from its checkpoint, nothing lost or doubled.
    const workerWest2 = await stack.startWorker('worker-west-2', 'west');
    await caughtUp(west, 100);
    const [rows] = await west.target.query('SELECT id, v FROM items ORDER BY id');
    assert.deepEqual(
      rows,
      Array.from({ length: 100 }, (_, i) => ({ id: i, v: `v${i}` })),
    );

    // A backfill of the west pipeline runs in the west too (a resync of its table while it streams).
    const backfill = await apiA.call('POST', `/v1/pipelines/${westConfig.name}/backfills`, {
      kind: 'resync',
      tables: [`${west.name}.items`],
    });
    assert.equal(backfill.status, 202, backfill.text);
    await eventually(
      'the west backfill to complete',
      async () => {
        const r = await apiB.call('GET', `/v1/backfills/${backfill.body.id}`);
        assert.notEqual(r.body.workflowStatus, 'FAILED', r.text);
        return r.body.workflowStatus === 'COMPLETED' ? true : undefined;
      },
      90_000,
    );

    // The whole history of the west pipeline and its backfill: every task ran on a west worker.
    const connection = await Connection.connect({ address: temporalAddress(s) });
    try {
      const client = new Client({ connection, namespace: s.namespace });
      const westIds = [`${workerWest.pid}@`, `${workerWest2.pid}@`];
      const backfillDescribed = await client.workflow.getHandle(backfill.body.workflowId).describe();
      assert.equal(backfillDescribed.taskQueue, `${stack.taskQueue}-west`);
      for (const [config, allowed, workflowId] of [
        [westConfig, westIds, pipelineWorkflowId(westConfig.name)],
        [westConfig, westIds, String(backfill.body.workflowId)],
        [eastConfig, [`${workerEast.pid}@`], pipelineWorkflowId(eastConfig.name)],
      ] as const) {
        const history = await client.workflow.getHandle(workflowId).fetchHistory();
        const identities = new Set<string>();
        for (const e of history.events ?? []) {
          const id =
            e.activityTaskStartedEventAttributes?.identity ?? e.workflowTaskStartedEventAttributes?.identity;
          if (id) identities.add(id);
        }
        assert.ok(identities.size > 0);
        for (const id of identities)
          assert.ok(
            allowed.some((a) => id.startsWith(a)),
            `${config.name} (${config.region}) ran on ${id}, not a worker of its region`,
          );
      }
    } finally {
      await connection.close();
    }
    for (const c of [eastConfig, westConfig, north])
      await apiA.call('DELETE', `/v1/pipelines/${c.name}?force=true`);
  });

  test('a secret missing on the worker is an error naming the datasource, the variable and the worker', async (t) => {
    const user = uniqueName('mr');
    const password = `Pw-${uniqueName('x')}`;
    const conns = [await connectTo('source'), await connectTo('target')];
    for (const c of conns) {
      await c.query(`CREATE USER '${user}'@'%' IDENTIFIED BY '${password}'`);
      await c.query(`GRANT ALL PRIVILEGES ON *.* TO '${user}'@'%'`);
    }
    t.after(async () => {
      for (const c of conns) {
        await c.query(`DROP USER IF EXISTS '${user}'@'%'`).catch(() => {});
        await c.end();
      }
    });
    // An API that has the variable (its checks before a start pass); the east worker does not.
    const apiC = await stack.startApi('api-c', { OTF_MR_PASSWORD: password });
    const db = await freshDatabases(t, 'sec');
    await db.source.query('CREATE TABLE items (id INT PRIMARY KEY)');
    await db.target.query('CREATE TABLE items (id INT PRIMARY KEY)');
    for (const [name, port] of [
      ['sec-src', s.sourcePort],
      ['sec-dst', s.targetPort],
    ] as const) {
      const r = await apiC.call('POST', '/v1/datasources', {
        name,
        kind: 'mariadb',
        host: s.host,
        port,
        user,
        passwordEnv: 'OTF_MR_PASSWORD',
      });
      assert.equal(r.status, 201, r.text);
    }
    const config = {
      ...(await samePipelineConfig(db.source, db.name)),
      source: 'sec-src',
      target: 'sec-dst',
      region: 'east',
    };
    assert.equal((await apiC.call('POST', '/v1/pipelines', config)).status, 201);
    const started = await apiC.call('POST', `/v1/pipelines/${config.name}/start`);
    assert.equal(started.status, 202, started.text);
    const status = await eventually('the error in status', async () => {
      const r = await apiA.call('GET', `/v1/pipelines/${config.name}/status`);
      return r.body.lastError ? r.body : undefined;
    });
    assert.match(
      status.lastError.message,
      new RegExp(
        `datasource "sec-src": environment variable OTF_MR_PASSWORD is not set on .* \\(pid ${workerEast.pid}\\)`,
      ),
    );
    assert.ok(!JSON.stringify(status).includes(password));
    await apiA.call('DELETE', `/v1/pipelines/${config.name}?force=true`);
  });
});
