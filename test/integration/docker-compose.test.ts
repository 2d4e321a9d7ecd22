import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import YAML from 'yaml';
import { projectRoot } from '../../src/config/stack';
import { ensureDockerCompose } from '../helpers/docker-compose';

/**
 * docker/docker-compose.yml, checked without a Docker engine: docker-compose validates it against
 * the compose schema and resolves anchors and defaults; the resolved file must describe the
 * deployment of docs/deploy.md (a catalog database, one worker per region, nothing shared on disk).
 */

const COMPOSE = path.join(projectRoot, 'docker', 'docker-compose.yml');

let bin: string | undefined;
let skipReason: string | undefined;
try {
  bin = ensureDockerCompose((line) => console.log(line));
} catch (err) {
  skipReason = (err as Error).message;
}

// biome-ignore lint/suspicious/noExplicitAny: the resolved compose document, checked by the assertions
function resolve(file: string): { status: number | null; stderr: string; doc: any } {
  // A clean environment: the file's defaults, not the shell's variables, are what is checked.
  const env = { PATH: process.env.PATH ?? '/usr/bin:/bin' };
  const r = spawnSync(bin as string, ['-f', file, 'config'], { encoding: 'utf8', env });
  return { status: r.status, stderr: r.stderr, doc: r.status === 0 ? YAML.parse(r.stdout) : undefined };
}

test('docker-compose.yml is valid and describes a catalog database and one worker per region', {
  skip: skipReason,
}, () => {
  const { status, stderr, doc } = resolve(COMPOSE);
  assert.equal(status, 0, `docker-compose config failed:\n${stderr}`);
  assert.doesNotMatch(stderr, /WARNING/, 'no warnings (unset variables, ignored keys)');
  const services = doc.services as Record<string, Record<string, unknown>>;

  const catalog = services.catalog as { image: string; environment: Record<string, string> };
  assert.match(catalog.image, /^mariadb:/);
  assert.equal(catalog.environment.MARIADB_DATABASE, 'otterflow_catalog');
  assert.ok(catalog.environment.MARIADB_PASSWORD_FILE, 'the catalog password comes from a secret file');

  const otterflow = Object.entries(services).filter(([, s]) => s.build !== undefined);
  const workers = otterflow.filter(([, s]) => (s.command as string[])[0] === 'worker');
  const regions = workers.map(([name, s]) => {
    const command = s.command as string[];
    const at = command.indexOf('--region');
    assert.ok(at > 0 && command[at + 1], `${name} names its region: ${command.join(' ')}`);
    return command[at + 1];
  });
  assert.ok(regions.length >= 2, `workers in two regions at least, got ${regions.join(', ')}`);
  assert.equal(new Set(regions).size, regions.length, 'one worker service per region');
  assert.ok(
    otterflow.some(([, s]) => (s.command as string[])[0] === 'api'),
    'an API service',
  );

  for (const [name, s] of otterflow) {
    const env = s.environment as Record<string, string | null>;
    const url = new URL(env.OTTERFLOW_CATALOG_URL ?? '');
    assert.equal(url.hostname, 'catalog', `${name}: the catalog service`);
    assert.equal(url.pathname, '/otterflow_catalog', name);
    assert.equal(url.password, '', `${name}: no password in the catalog URL`);
    assert.ok(env.OTTERFLOW_CATALOG_PASSWORD_FILE, `${name}: the catalog password from a secret file`);
    assert.deepEqual(
      (s.depends_on as Record<string, { condition: string }>).catalog,
      { condition: 'service_healthy' },
      `${name} waits for the catalog`,
    );
    // Nothing shared through the filesystem: a worker on another host must work the same.
    assert.equal(s.volumes, undefined, `${name} mounts no volume`);
    for (const [k, v] of Object.entries(env))
      assert.ok(
        !/PASSWORD$/.test(k) || v === null,
        `${name}: ${k} passes through from the shell, no value in the file`,
      );
  }
});

test('docker-compose rejects a compose file with a misspelt key (the check can fail)', {
  skip: skipReason,
}, () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'otterflow-compose-'));
  try {
    const broken = path.join(dir, 'docker-compose.yml');
    // Same folder as the real file, so relative paths (build context, secrets) resolve the same.
    const text = fs
      .readFileSync(COMPOSE, 'utf8')
      .replace(
        '    command: ["worker", "--region", "us-east"]',
        '    comand: ["worker", "--region", "us-east"]',
      );
    assert.notEqual(text, fs.readFileSync(COMPOSE, 'utf8'));
    fs.writeFileSync(broken, text);
    const { status, stderr } = resolve(broken);
    assert.notEqual(status, 0);
    assert.match(stderr, /comand/);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
