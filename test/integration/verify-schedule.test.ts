import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import path from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { ScheduleNotFoundError } from '@temporalio/client';
import { projectRoot } from '../../src/config/stack';
import { verificationScheduleId } from '../../src/verification/schedule-contract';
import { eventually, expectStatus, registerStackDatasources, verifyCli, withApi } from '../helpers/api-stack';
import { connectTo, freshDatabases, uniqueName } from '../helpers/stack';

const run = promisify(execFile);

interface Run {
  verificationId?: string;
  state?: string;
}

test('verification schedule: bad input is refused naming the field; a triggered run verifies the pipeline as defined then and shows in its status; region queue follows the pipeline; update, pause with the pipeline, skip a run while one compares, delete, deleted with the pipeline', async (t) => {
  const db = await freshDatabases(t, 'vsch');
  const both = async (sql: string) => {
    await db.source.query(sql);
    await db.target.query(sql);
  };
  await both('CREATE TABLE a (id INT PRIMARY KEY, v VARCHAR(40))');
  await both("INSERT INTO a SELECT seq, CONCAT('v', seq) FROM seq_1_to_1000");
  await both('CREATE TABLE b (id INT PRIMARY KEY, v VARCHAR(40))');
  await both("INSERT INTO b SELECT seq, CONCAT('b', seq) FROM seq_1_to_300");

  await withApi(async (h) => {
    const ok = expectStatus(h);
    const ds = await registerStackDatasources(h);
    const name = uniqueName('p');
    const definition = (tables: string[]) => ({
      name,
      source: ds.source,
      target: ds.target,
      mappings: tables.map((table) => ({ source: { schema: db.name, table } })),
    });
    await ok('POST', '/v1/pipelines', definition(['a']), 201);
    await ok('POST', `/v1/pipelines/${name}/start`, undefined, 202);
    const url = `/v1/pipelines/${name}/verification-schedule`;

    // Bad input: nothing is scheduled.
    const expectRefused = async (body: unknown, status: number, field: string, p = url) => {
      const r = await h.call('PUT', p, body);
      assert.equal(r.status, status, r.text);
      if (field) assert.equal(r.body.errors?.[0]?.path, field, r.text);
    };
    await expectRefused({ every: '6h' }, 404, '', '/v1/pipelines/nosuch/verification-schedule');
    await expectRefused({ every: 'six hours' }, 400, 'every');
    await expectRefused({}, 400, 'every');
    await expectRefused({ every: '6h', chunkSize: 0 }, 400, 'chunkSize');
    await expectRefused({ every: '6h', surprise: 1 }, 400, '');
    await expectRefused({ every: '1m' }, 422, 'every');
    await expectRefused({ every: '6h', tables: [`${db.name}.nope`] }, 422, 'tables');
    await expectRefused({ every: '6h', where: 'nope > 1' }, 422, 'where');
    await expectRefused({ every: '6h', where: 'id = 1; DROP TABLE a' }, 422, 'where');
    assert.equal((await h.call('GET', url)).status, 404);
    assert.equal((await h.call('DELETE', url)).status, 404);
    assert.equal((await h.call('POST', `${url}/trigger`)).status, 404);
    assert.equal((await h.call('PUT', url, { every: '6h' }, h.readonlyToken)).status, 403);
    await assert.rejects(
      h.client.schedule.getHandle(verificationScheduleId(name)).describe(),
      ScheduleNotFoundError,
    );

    // Differences made behind the pipeline's back.
    const tgt = await connectTo('target', db.name);
    t.after(() => tgt.end());
    await tgt.query('SET SESSION sql_log_bin = 0');
    await tgt.query("UPDATE a SET v = 'changed' WHERE id = 10");
    await tgt.query('DELETE FROM a WHERE id = 20');
    await tgt.query("INSERT INTO a VALUES (5000, 'only here')");
    await tgt.query("UPDATE b SET v = 'changed' WHERE id = 7");

    const cli = verifyCli(h);
    const created = JSON.parse(await cli('schedule', name, '--every', '6h', '--json'));
    assert.equal(created.every, '6h');
    assert.equal(created.paused, false, JSON.stringify(created));
    assert.equal(created.running, false);
    assert.ok(created.nextRuns.length > 0);
    assert.ok(Date.parse(created.nextRuns[0]) > Date.now(), 'the first run is due later, not now');
    let status = await ok('GET', `/v1/pipelines/${name}/status`);
    assert.equal(status.verification.schedule.every, '6h');
    assert.equal(status.verification.last, null);

    /** Runs the schedule now and waits for its verification to end. */
    const triggerAndWait = async (): Promise<Run> => {
      const before = (await ok('GET', url)).recentRuns.length;
      await ok('POST', `${url}/trigger`, undefined, 202);
      return eventually(
        'the scheduled verification to end',
        async () => {
          const s = await ok('GET', url);
          const r: Run | undefined = s.recentRuns[s.recentRuns.length - 1];
          return s.recentRuns.length > before && ['done', 'failed', 'cancelled'].includes(r?.state ?? '')
            ? r
            : undefined;
        },
        120_000,
      );
    };
    const differences = async (id: string) =>
      (await ok('GET', `/v1/verifications/${id}/differences`)).differences
        .map((d: { table: string; key: { id: number }; kind: string }) => `${d.kind} ${d.table} ${d.key.id}`)
        .sort();

    const first = await triggerAndWait();
    assert.equal(first.state, 'done');
    assert.match(first.verificationId ?? '', new RegExp(`^${name}\\.verify-[0-9a-f]+$`));
    assert.deepEqual(await differences(first.verificationId ?? ''), [
      `different ${db.name}.a 10`,
      `extra ${db.name}.a 5000`,
      `missing ${db.name}.a 20`,
    ]);
    status = await ok('GET', `/v1/pipelines/${name}/status`);
    assert.equal(status.verification.last.id, first.verificationId);
    assert.equal(status.verification.last.state, 'done');
    assert.equal(status.verification.last.scheduled, true);
    assert.equal(status.verification.last.differences, 3);
    assert.equal(status.verification.last.rowsCompared, 1000);
    assert.ok(status.verification.last.finishedAt);
    const viaGet = await ok('GET', `/v1/pipelines/${name}`);
    assert.equal(viaGet.verification.last.id, first.verificationId);

    // The pipeline now maps b too: the next run verifies the definition as it is then.
    const current = await ok('GET', `/v1/pipelines/${name}`);
    await h.call('PUT', `/v1/pipelines/${name}`, definition(['a', 'b']));
    assert.equal(
      (await ok('GET', `/v1/pipelines/${name}`)).definition.version,
      current.definition.version + 1,
    );
    const second = await triggerAndWait();
    assert.equal(second.state, 'done');
    assert.deepEqual(await differences(second.verificationId ?? ''), [
      `different ${db.name}.a 10`,
      `different ${db.name}.b 7`,
      `extra ${db.name}.a 5000`,
      `missing ${db.name}.a 20`,
    ]);

    // Update: other tables and interval; the CLI shows it.
    const updated = await ok('PUT', url, { every: '30m', tables: [`${db.name}.b`] });
    assert.equal(updated.every, '30m');
    assert.deepEqual(updated.tables, [`${db.name}.b`]);
    assert.equal(updated.recentRuns.length, 2, 'the schedule keeps its runs');
    const shown = await cli('schedule', name, '--show');
    assert.match(shown, /every 30m/);
    assert.match(shown, new RegExp(`${db.name}\\.b`));
    assert.match(shown, new RegExp(`${second.verificationId}\\s+done`));

    // Stopping the pipeline pauses the schedule; starting it resumes it.
    await ok('POST', `/v1/pipelines/${name}/stop`);
    const stopped = await ok('GET', url);
    assert.equal(stopped.paused, true);
    assert.match(stopped.note, /not running/);
    assert.deepEqual(stopped.nextRuns, []);
    status = await ok('GET', `/v1/pipelines/${name}/status`);
    assert.equal(status.verification.schedule.paused, true);
    // Runs go to the pipeline's region task queue, also after the region changed (while stopped).
    const scheduleHandle = h.client.schedule.getHandle(verificationScheduleId(name));
    assert.equal((await scheduleHandle.describe()).action.taskQueue, h.taskQueue);
    await ok('PUT', `/v1/pipelines/${name}`, { ...definition(['a', 'b']), region: 'eu-west' });
    assert.equal((await scheduleHandle.describe()).action.taskQueue, `${h.taskQueue}-eu-west`);
    await ok('PUT', `/v1/pipelines/${name}`, definition(['a', 'b']));
    assert.equal((await scheduleHandle.describe()).action.taskQueue, h.taskQueue);
    await ok('POST', `/v1/pipelines/${name}/start`, undefined, 202);
    assert.equal((await ok('GET', url)).paused, false);

    // A pause by request stays through stop and start.
    assert.equal((await ok('PUT', url, { every: '30m', paused: true })).paused, true);
    await ok('POST', `/v1/pipelines/${name}/stop`);
    await ok('POST', `/v1/pipelines/${name}/start`, undefined, 202);
    const kept = await ok('GET', url);
    assert.equal(kept.paused, true);
    assert.equal(kept.note, 'paused by request');

    // A verification started by hand is the last result too.
    const manual = await ok('POST', `/v1/pipelines/${name}/verifications`, { tables: [`${db.name}.b`] }, 202);
    await eventually('the verification by hand to end', async () => {
      const v = await ok('GET', `/v1/verifications/${manual.id}`);
      return v.state === 'done' ? v : undefined;
    });
    status = await ok('GET', `/v1/pipelines/${name}/status`);
    assert.equal(status.verification.last.id, manual.id);
    assert.equal(status.verification.last.scheduled, false);
    assert.equal(status.verification.last.differences, 1);
    assert.match(
      await run(
        process.execPath,
        [path.join(projectRoot, 'bin', 'otterflow.js'), 'pipeline', 'status', name],
        {
          env: { ...process.env, OTTERFLOW_API_URL: h.url, OTTERFLOW_TOKEN: h.adminToken },
        },
      ).then((r) => r.stdout),
      new RegExp(`last verify\\s+${manual.id} done: 1 differences`),
    );

    // A run due while the previous one still compares is skipped (throttled: about 5 s for 1,000 rows).
    await ok('PUT', url, {
      every: '30m',
      tables: [`${db.name}.a`],
      maxRowsPerSecond: 200,
      chunkSize: 100,
      paused: true,
    });
    const runsBefore = (await ok('GET', url)).recentRuns.length;
    const skippedBefore = (await scheduleHandle.describe()).info.numActionsSkippedOverlap;
    await ok('POST', `${url}/trigger`, undefined, 202);
    await eventually('the throttled run to be running', async () =>
      (await ok('GET', url)).running ? true : undefined,
    );
    await ok('POST', `${url}/trigger`, undefined, 202);
    await eventually('the second trigger to be skipped', async () =>
      (await scheduleHandle.describe()).info.numActionsSkippedOverlap === skippedBefore + 1
        ? true
        : undefined,
    );
    const throttled = await eventually(
      'the throttled run to end',
      async () => {
        const s = await ok('GET', url);
        return s.running ? undefined : s;
      },
      120_000,
    );
    assert.equal(throttled.recentRuns.length, runsBefore + 1, 'one run, the other skipped');
    const throttledRun = throttled.recentRuns[throttled.recentRuns.length - 1];
    assert.equal(
      (
        await eventually('its state', async () => {
          const r = (await ok('GET', url)).recentRuns.at(-1);
          return ['done', 'failed'].includes(r?.state) ? r : undefined;
        })
      ).state,
      'done',
    );
    assert.equal((await ok('GET', `/v1/verifications/${throttledRun.verificationId}`)).differences, 3);

    // Delete: by the CLI, then with the pipeline.
    assert.match(await cli('schedule', name, '--delete'), /deleted/);
    assert.equal((await h.call('GET', url)).status, 404);
    status = await ok('GET', `/v1/pipelines/${name}/status`);
    assert.equal(status.verification.schedule, null);
    await ok('PUT', url, { every: '1d' });
    await ok('DELETE', `/v1/pipelines/${name}?force=true`);
    await assert.rejects(
      h.client.schedule.getHandle(verificationScheduleId(name)).describe(),
      ScheduleNotFoundError,
    );
  });
});
