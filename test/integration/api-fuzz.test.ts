import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { type ApiHarness, registerStackDatasources, withApi } from '../helpers/api-stack';
import { ensureSchemathesis, type Schemathesis } from '../helpers/schemathesis';
import { uniqueName } from '../helpers/stack';

/**
 * The API fuzzer: schemathesis reads /openapi.json and sends schema-valid and schema-invalid
 * requests. Every check is on: no 5xx, responses match their schemas, a valid request is never
 * rejected (positive_data_acceptance), an invalid one never accepted, and a method the document
 * does not declare gets 405 with `Allow`. Fuzzing is bounded (--max-examples); most of the time goes
 * to the coverage phase's boundary cases (~2,800 requests): about a minute on 2 quiet cores, up to
 * four on a machine loaded by other work.
 *
 * Operations that make the server connect to a datasource's host (test, check, start, resume,
 * conflicts, backfills) only run in the second pass, where datasources cannot be registered or
 * changed and every name is one registered pipeline's (and datasource's), so the only host there
 * is the test stack's on loopback.
 */

const CONNECTING =
  '^/v1/(datasources/\\{name\\}/(test|check)|pipelines/\\{name\\}/(start|resume|conflicts|backfills))$';

/**
 * Statuses the checks accept besides their defaults. A schema-valid request may still get 422: its
 * rules across fields (a mapping onto itself: source = target datasource and the same table) or
 * against stored state (a datasource that is not registered) are beyond JSON Schema, and the document
 * says so. Any body may get 413 when it is over the size limit the document names (a byte size is
 * beyond JSON Schema too).
 */
const CONFIG = `
[checks.positive_data_acceptance]
expected-statuses = ["2xx", "401", "403", "404", "409", "413", "422"]

[checks.negative_data_rejection]
expected-statuses = ["400", "401", "403", "404", "405", "413", "422"]
`;

let tool: Schemathesis | undefined;
let skipReason: string | undefined;
try {
  tool = ensureSchemathesis((line) => console.log(line));
} catch (err) {
  skipReason = `schemathesis cannot be installed: ${(err as Error).message}`;
}

async function fuzz(h: ApiHarness, filter: string[], maxExamples: number, extraConfig = ''): Promise<void> {
  if (!tool) throw new Error('unreachable');
  const reportDir = fs.mkdtempSync(path.join(os.tmpdir(), 'otterflow-fuzz-'));
  const config = path.join(reportDir, 'schemathesis.toml');
  fs.writeFileSync(config, CONFIG + extraConfig);
  const args = [
    tool.bin,
    '--config-file',
    config,
    'run',
    `${h.url}/openapi.json`,
    '--url',
    h.url,
    '--checks',
    'all',
    '--header',
    `Authorization: Bearer ${h.adminToken}`,
    '--max-examples',
    String(maxExamples),
    '--phases',
    'examples,coverage,fuzzing',
    '--seed',
    '1',
    // One worker: Python 3.11's ast.parse is not thread-safe (hypothesis calls it while describing
    // strategies), and the API shares two cores with the test stack anyway.
    '--workers',
    '1',
    '--no-color',
    '--report-dir',
    reportDir,
    ...filter,
  ];
  const out = await new Promise<{ code: number | null; text: string }>((resolve) => {
    const child = spawn(tool!.python, args, {
      env: tool!.env,
      cwd: reportDir, // its cache folder (.schemathesis/) goes there too
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let text = '';
    child.stdout.on('data', (d) => {
      text += d;
    });
    child.stderr.on('data', (d) => {
      text += d;
    });
    child.on('close', (code) => resolve({ code, text }));
  });
  fs.rmSync(reportDir, { recursive: true, force: true });
  if (process.env.OTTERFLOW_FUZZ_LOG) fs.appendFileSync(process.env.OTTERFLOW_FUZZ_LOG, out.text);
  assert.equal(out.code, 0, `schemathesis found failures:\n${out.text.slice(-20_000)}`);
}

test('API fuzz: operations that do not connect to a datasource', { skip: skipReason }, async () => {
  await withApi(async (h) => {
    await fuzz(h, ['--exclude-path-regex', CONNECTING], 40);
  });
});

test('API fuzz: operations that connect, on a real pipeline over loopback datasources', {
  skip: skipReason,
}, async () => {
  await withApi(async (h) => {
    const { source, target } = await registerStackDatasources(h);
    // Every {name} in this pass is one name that is both a datasource (the test stack's source) and
    // a pipeline reading from it, so test/check/start/pause/stop/conflicts/backfills reach real
    // objects, and whatever the fuzzer sends can only reach the loopback test stack.
    const name = uniqueName('fuzz');
    const ds = await h.call('GET', `/v1/datasources/${source}`);
    const { passwordSource: _, version: _version, ...sourceDef } = ds.body;
    assert.equal((await h.call('POST', '/v1/datasources', { ...sourceDef, name })).status, 201);
    const created = await h.call('POST', '/v1/pipelines', {
      name,
      source: name,
      target,
      mappings: [{ source: { schema: name, table: 'items' } }],
    });
    assert.equal(created.status, 201, created.text);
    try {
      await fuzz(
        h,
        ['--include-path-regex', `${CONNECTING}|^/v1/pipelines/\\{name\\}/(pause|stop|status)$`],
        20,
        `\n[parameters]\n"path.name" = "${name}"\n`,
      );
    } finally {
      // Whatever the fuzzer started ends with the test.
      const backfills = await h.call('GET', `/v1/pipelines/${name}/backfills`);
      const ids = [
        `pipeline:${name}`,
        ...(Array.isArray(backfills.body)
          ? backfills.body.map((b: { workflowId: string }) => b.workflowId)
          : []),
      ];
      for (const id of ids)
        await h.client.workflow
          .getHandle(id)
          .terminate('fuzz test over')
          .catch(() => {});
    }
  });
});
