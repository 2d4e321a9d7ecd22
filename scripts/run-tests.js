#!/usr/bin/env node
// The test command: brings up the test stack (Temporal dev server, two MariaDB, two MySQL 9) on ports of its
// own, or reuses it when it already runs, then runs every test/**/*.test.ts with node's test runner.
//   node scripts/run-tests.js            all tests
//   node scripts/run-tests.js --unit     unit tests only (no stack)
//   node scripts/run-tests.js FILE...    the named test files (with the stack)
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const root = path.resolve(__dirname, '..');
const args = process.argv.slice(2);
const unitOnly = args.includes('--unit');
const named = args.filter((a) => !a.startsWith('--'));

// The test stack lives beside a developer's dev stack without touching it.
const env = {
  ...process.env,
  OTTERFLOW_HOME: process.env.OTTERFLOW_TEST_HOME || path.join(root, '.otterflow', 'test-stack'),
  OTTERFLOW_SOURCE_PORT: process.env.OTTERFLOW_TEST_SOURCE_PORT || '23306',
  OTTERFLOW_TARGET_PORT: process.env.OTTERFLOW_TEST_TARGET_PORT || '23307',
  OTTERFLOW_MYSQL_SOURCE_PORT: process.env.OTTERFLOW_TEST_MYSQL_SOURCE_PORT || '23316',
  OTTERFLOW_MYSQL_TARGET_PORT: process.env.OTTERFLOW_TEST_MYSQL_TARGET_PORT || '23317',
  OTTERFLOW_TEMPORAL_PORT: process.env.OTTERFLOW_TEST_TEMPORAL_PORT || '27233',
  OTTERFLOW_TEMPORAL_UI_PORT: process.env.OTTERFLOW_TEST_TEMPORAL_UI_PORT || '28233',
  OTTERFLOW_API_PORT: process.env.OTTERFLOW_TEST_API_PORT || '28080',
  OTTERFLOW_METRICS_PORT: process.env.OTTERFLOW_TEST_METRICS_PORT || '29464',
  OTTERFLOW_LOG_LEVEL: process.env.OTTERFLOW_LOG_LEVEL || 'warn',
};

function findTests(dir) {
  if (!fs.existsSync(dir)) return [];
  return fs
    .readdirSync(dir, { withFileTypes: true })
    .flatMap((e) => (e.isDirectory() ? findTests(path.join(dir, e.name)) : [path.join(dir, e.name)]))
    .filter((f) => f.endsWith('.test.ts'))
    .sort();
}

const files = named.length ? named : findTests(path.join(root, 'test', unitOnly ? 'unit' : ''));
if (files.length === 0) {
  console.error('no test files found');
  process.exit(1);
}

const otterflow = path.join(root, 'bin', 'otterflow.js');
let startedStack = false;
if (!unitOnly) {
  const before = spawnSync(process.execPath, [otterflow, 'dev', 'status', '--json'], {
    env,
    encoding: 'utf8',
  });
  const wasRunning = before.status === 0 && JSON.parse(before.stdout).some((c) => c.running);
  // MySQL 9 runs beside MariaDB unless OTTERFLOW_TEST_MYSQL=off (then the MySQL tests say they are skipped).
  const withMysql = process.env.OTTERFLOW_TEST_MYSQL === 'off' ? [] : ['--with-mysql'];
  const upRun = spawnSync(process.execPath, [otterflow, 'dev', 'up', '--infra-only', ...withMysql], {
    env,
    stdio: 'inherit',
  });
  if (upRun.status !== 0) process.exit(upRun.status || 1);
  startedStack = !wasRunning;
}

const concurrency = process.env.OTTERFLOW_TEST_CONCURRENCY || '2';
const run = spawnSync(
  process.execPath,
  ['--import', 'tsx', '--test', `--test-concurrency=${concurrency}`, '--test-reporter=spec', ...files],
  { env, stdio: 'inherit', cwd: root },
);

if (startedStack && process.env.OTTERFLOW_KEEP_TEST_STACK !== '1') {
  spawnSync(process.execPath, [otterflow, 'dev', 'down'], { env, stdio: 'inherit' });
}
process.exit(run.status === null ? 1 : run.status);
