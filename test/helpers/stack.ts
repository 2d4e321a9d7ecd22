import { randomBytes } from 'node:crypto';
import type { TestContext } from 'node:test';
import { Client, Connection } from '@temporalio/client';
import { NativeConnection, type Worker } from '@temporalio/worker';
import mysql from 'mysql2/promise';
import { type StackSettings, stackSettingsFromEnv, temporalAddress } from '../../src/config/stack';
import { createWorker } from '../../src/worker/run';
import { installRuntime } from '../../src/worker/runtime';

/** The stack that scripts/run-tests.js brought up (its ports are in the environment). */
export function testStack(): StackSettings {
  return stackSettingsFromEnv();
}

export function uniqueName(prefix: string): string {
  return `${prefix}_${randomBytes(4).toString('hex')}`;
}

/** The test stack's servers: MariaDB "source"/"target" and MySQL 9 "mysql-source"/"mysql-target". */
export type StackServer = 'source' | 'target' | 'mysql-source' | 'mysql-target';

export function serverPort(which: StackServer): number {
  const s = testStack();
  return {
    source: s.sourcePort,
    target: s.targetPort,
    'mysql-source': s.mysqlSourcePort,
    'mysql-target': s.mysqlTargetPort,
  }[which];
}

/** A root URL of one of the test stack's servers. */
export function serverUrl(which: StackServer): string {
  return `mysql://root@${testStack().host}:${serverPort(which)}`;
}

/**
 * Why the MySQL tests cannot run, or undefined when they can: the test runner starts MySQL 9 unless
 * OTTERFLOW_TEST_MYSQL=off (a machine where it was never built and no root to build it).
 */
export function mysqlSkipReason(): string | undefined {
  return process.env.OTTERFLOW_TEST_MYSQL === 'off'
    ? 'MySQL 9 is off in this test run (OTTERFLOW_TEST_MYSQL=off)'
    : undefined;
}

/** A root connection to one of the test stack's servers, returning exact values. */
export async function connectTo(which: StackServer, database?: string): Promise<mysql.Connection> {
  const s = testStack();
  const isMysql = which.startsWith('mysql');
  const conn = await mysql.createConnection({
    host: s.host,
    port: serverPort(which),
    user: 'root',
    database,
    supportBigNumbers: true,
    bigNumberStrings: true,
    dateStrings: true,
    timezone: 'Z',
    // MySQL 9's default collation; MariaDB 10.11 has no utf8mb4_0900_ai_ci.
    charset: isMysql ? 'utf8mb4_0900_ai_ci' : 'utf8mb4_general_ci',
    multipleStatements: true,
  });
  // MySQL sorts a row's selected values with it: row dumps of tables holding MBs per row need room.
  if (isMysql) await conn.query('SET SESSION sort_buffer_size = 67108864');
  return conn;
}

export interface FreshDatabases {
  /** The same database name exists on the source and on the target. */
  name: string;
  source: mysql.Connection;
  target: mysql.Connection;
}

/**
 * Creates a database of its own for one test on both servers (by default the MariaDB pair); dropped
 * when the test ends.
 */
export async function freshDatabases(
  t: TestContext,
  prefix = 't',
  servers: { source: StackServer; target: StackServer } = { source: 'source', target: 'target' },
): Promise<FreshDatabases> {
  const name = uniqueName(prefix);
  const source = await connectTo(servers.source);
  const target = await connectTo(servers.target);
  await source.query(`CREATE DATABASE \`${name}\``);
  await target.query(`CREATE DATABASE \`${name}\``);
  await source.query(`USE \`${name}\``);
  await target.query(`USE \`${name}\``);
  t.after(async () => {
    await source.query(`DROP DATABASE IF EXISTS \`${name}\``).catch(() => {});
    await target.query(`DROP DATABASE IF EXISTS \`${name}\``).catch(() => {});
    await source.end();
    await target.end();
  });
  return { name, source, target };
}

export interface TemporalHarness {
  client: Client;
  taskQueue: string;
  worker: Worker;
}

/**
 * Runs `fn` while a worker of our own polls a task queue unique to this test, on the running dev
 * server (no ephemeral server download).
 */
export async function withWorker<T>(
  fn: (h: TemporalHarness) => Promise<T>,
  opts: { home?: string } = {},
): Promise<T> {
  const s = testStack();
  const taskQueue = uniqueName('tq');
  installRuntime();
  const nativeConnection = await NativeConnection.connect({ address: temporalAddress(s) });
  const connection = await Connection.connect({ address: temporalAddress(s) });
  const client = new Client({ connection, namespace: s.namespace });
  try {
    // `home` selects the datasource catalog the worker resolves names from (default: the test stack's).
    const worker = await createWorker(nativeConnection, {
      namespace: s.namespace,
      taskQueue,
      home: opts.home ?? s.home,
    });
    return await worker.runUntil(fn({ client, taskQueue, worker }));
  } finally {
    await connection.close();
    await nativeConnection.close();
  }
}
