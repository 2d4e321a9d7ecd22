import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';
import type mysql from 'mysql2/promise';
import { projectRoot } from '../../src/config/stack';
import { type ApiHarness, eventually, registerStackDatasources, withApi } from '../helpers/api-stack';
import { freshDatabases, uniqueName } from '../helpers/stack';

const run = promisify(execFile);

async function count(conn: mysql.Connection, db: string): Promise<number> {
  const [rows] = await conn.query(`SELECT COUNT(*) AS n FROM \`${db}\`.items`);
  return Number((rows as Array<{ n: unknown }>)[0]?.n);
}

async function insertRows(
  conn: mysql.Connection,
  db: string,
  from: number,
  n: number,
  perTxn = 10,
): Promise<void> {
  for (let i = 0; i < n; i += perTxn) {
    const values = Array.from(
      { length: Math.min(perTxn, n - i) },
      (_, k) => `(${from + i + k}, 'row ${from + i + k}')`,
    );
    await conn.query(`INSERT INTO \`${db}\`.items (id, name) VALUES ${values.join(', ')}`);
  }
}

/** Waits until the target holds `n` rows and the status API reports at least that many applied. */
async function waitForRows(h: ApiHarness, target: mysql.Connection, db: string, name: string, n: number) {
  return eventually(`${n} rows on the target and in the status`, async () => {
    const s = await h.call('GET', `/v1/pipelines/${name}/status`);
    if ((await count(target, db)) !== n) return undefined;
    return s.body.rowsApplied >= n && s.body.position ? s.body : undefined;
  });
}

/** Runs the CLI against this API; resolves with its exit code and output. */
async function cli(
  h: ApiHarness,
  ...args: string[]
): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const r = await run(process.execPath, [path.join(projectRoot, 'bin', 'otterflow.js'), ...args], {
      env: { ...process.env, OTTERFLOW_API_URL: h.url, OTTERFLOW_TOKEN: h.adminToken },
    });
    return { code: 0, stdout: r.stdout, stderr: r.stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

test('pipeline lifecycle over HTTP: create → start → rows flow → update → pause → resume → stop → restart → delete', async (t) => {
  const db = await freshDatabases(t, 'api');
  const ddl = 'CREATE TABLE items (id INT PRIMARY KEY, name VARCHAR(100))';
  await db.source.query(ddl);
  await db.target.query(ddl);
  const [master] = await db.source.query('SHOW MASTER STATUS');
  const start = (master as Array<{ File: string; Position: number }>)[0];
  assert.ok(start);

  await withApi(async (h) => {
    await registerStackDatasources(h);
    const name = uniqueName('life');
    const config = {
      name,
      source: 'src',
      target: 'dst',
      mappings: [{ source: { schema: db.name, table: 'items' } }],
      start: { file: start.File, pos: Number(start.Position) },
    };
    const definitionFile = path.join(h.home, 'pipeline.yaml');
    fs.writeFileSync(
      definitionFile,
      `name: ${name}\nsource: src\ntarget: dst\nstart: { file: ${start.File}, pos: ${start.Position} }\n` +
        `mappings:\n  - source: { schema: ${db.name}, table: items }\n`,
    );

    // Create through the CLI from YAML; the API stores it.
    const created = await cli(h, 'pipeline', 'create', '-f', definitionFile);
    assert.equal(created.code, 0, created.stderr);
    const got = await h.call('GET', `/v1/pipelines/${name}`);
    assert.equal(got.status, 200);
    assert.equal(got.body.definition.version, 1);
    assert.equal(got.body.workflow, null);

    const started = await h.call('POST', `/v1/pipelines/${name}/start`);
    assert.equal(started.status, 202, started.text);
    assert.equal(started.body.workflowId, `pipeline:${name}`);
    assert.equal(started.body.status, 'RUNNING');
    const again = await h.call('POST', `/v1/pipelines/${name}/start`);
    assert.equal(again.status, 409);
    assert.match(again.body.detail, /already running/);
    const cliAgain = await cli(h, 'pipeline', 'start', name);
    assert.equal(cliAgain.code, 1);
    assert.match(cliAgain.stderr, /Conflict \(409\): pipeline .* is already running/);

    // Rows flow, and the status says so.
    await insertRows(db.source, db.name, 1, 100);
    const flowing = await waitForRows(h, db.target, db.name, name, 100);
    assert.equal(flowing.state, 'running');
    assert.equal(flowing.workflow.status, 'RUNNING');
    assert.equal(flowing.position.file, start.File);
    assert.ok(flowing.position.pos > Number(start.Position));
    assert.ok(typeof flowing.worker === 'string' && flowing.worker.length > 0, JSON.stringify(flowing));
    assert.equal(typeof flowing.rowsPerSecond, 'number');
    const cliStatus = await cli(h, 'pipeline', 'status', name, '--json');
    assert.equal(cliStatus.code, 0, cliStatus.stderr);
    assert.ok(JSON.parse(cliStatus.stdout).rowsApplied >= 100);
    const human = await cli(h, 'pipeline', 'status', name);
    assert.match(human.stdout, /state\s+running/);
    assert.match(human.stdout, new RegExp(`position\\s+${start.File.replace('.', '\\.')}:\\d+`));

    // Listing comes from Temporal visibility (eventually consistent).
    await eventually('the pipeline in the list', async () => {
      const list = await h.call('GET', '/v1/pipelines');
      const mine = list.body.find((p: { name: string }) => p.name === name);
      return mine?.workflow?.status === 'RUNNING' ? mine : undefined;
    });

    // A running pipeline cannot be deleted without force; nothing changes.
    const del = await h.call('DELETE', `/v1/pipelines/${name}`);
    assert.equal(del.status, 409);
    assert.equal((await h.call('GET', `/v1/pipelines/${name}`)).status, 200);

    // Update while running: the workflow takes the new config without losing its position.
    const updated = await h.call('PUT', `/v1/pipelines/${name}`, { ...config, options: { batchSize: 50 } });
    assert.equal(updated.status, 200, updated.text);
    assert.equal(updated.body.appliedToRunning, true);
    assert.equal(updated.body.definition.version, 2);
    assert.equal(updated.body.definition.config.options.batchSize, 50);
    await insertRows(db.source, db.name, 101, 50);
    const afterUpdate = await waitForRows(h, db.target, db.name, name, 150);
    assert.equal(afterUpdate.configVersion, 2);

    // Pause: nothing moves; resume: the rows written meanwhile arrive.
    const paused = await h.call('POST', `/v1/pipelines/${name}/pause`);
    assert.equal(paused.status, 200, paused.text);
    assert.equal(paused.body.state, 'paused');
    await insertRows(db.source, db.name, 151, 20);
    assert.equal((await h.call('GET', `/v1/pipelines/${name}/status`)).body.state, 'paused');
    const resumed = await h.call('POST', `/v1/pipelines/${name}/resume`);
    assert.equal(resumed.status, 200, resumed.text);
    assert.equal(resumed.body.state, 'running');
    await waitForRows(h, db.target, db.name, name, 170);

    // Stop: the workflow completes; control actions on it are conflicts.
    const stopped = await h.call('POST', `/v1/pipelines/${name}/stop`);
    assert.equal(stopped.status, 200, stopped.text);
    assert.equal(stopped.body.state, 'stopped');
    await eventually('the workflow to complete', async () => {
      const s = await h.call('GET', `/v1/pipelines/${name}/status`);
      return s.body.workflow?.status === 'COMPLETED' ? s.body : undefined;
    });
    assert.equal((await h.call('POST', `/v1/pipelines/${name}/pause`)).status, 409);

    // Rows written while stopped arrive after a restart (the position is kept on the target).
    await insertRows(db.source, db.name, 171, 30);
    const restarted = await h.call('POST', `/v1/pipelines/${name}/start`);
    assert.equal(restarted.status, 202, restarted.text);
    await eventually('200 rows on the target', async () =>
      (await count(db.target, db.name)) === 200 ? true : undefined,
    );
    const [diff] = await db.target.query(
      `SELECT COUNT(DISTINCT id) AS n, MIN(id) AS lo, MAX(id) AS hi FROM \`${db.name}\`.items`,
    );
    assert.deepEqual(diff, [{ n: '200', lo: 1, hi: 200 }]);

    // Delete with force stops it first; then the pipeline is gone, and with dropCheckpoint its checkpoint too.
    const forced = await h.call('DELETE', `/v1/pipelines/${name}?force=true&dropCheckpoint=true`);
    assert.equal(forced.status, 200, forced.text);
    assert.deepEqual(forced.body, { deleted: name, stopped: true, checkpoint: 'dropped' });
    const [left] = await db.target.query(
      'SELECT COUNT(*) AS n FROM otterflow.checkpoints WHERE pipeline = ?',
      [name],
    );
    assert.deepEqual(left, [{ n: '0' }]);
    assert.equal((await h.call('GET', `/v1/pipelines/${name}`)).status, 404);
    assert.equal((await h.call('GET', `/v1/pipelines/${name}/status`)).status, 404);
    const d = await h.client.workflow.getHandle(`pipeline:${name}`).describe();
    assert.equal(d.status.name, 'COMPLETED');
    // Its datasources are free again.
    assert.equal((await h.call('DELETE', '/v1/datasources/src')).status, 204);
  });
});
