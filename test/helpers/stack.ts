import { randomBytes } from 'node:crypto';
import type { TestContext } from 'node:test';
import { Client, Connection } from '@temporalio/client';
import { NativeConnection, type Worker } from '@temporalio/worker';
import mysql from 'mysql2/promise';
import { type StackSettings, stackSettingsFromEnv, temporalAddress } from '../../src/config/stack';
import type { TargetConnector } from '../../src/connectors/target';
import { createWorker } from '../../src/worker/run';
import { installRuntime } from '../../src/worker/runtime';

/** The stack that scripts/run-tests.js brought up (its ports are in the environment). */
export function testStack(): StackSettings {
  return stackSettingsFromEnv();
}

export function uniqueName(prefix: string): string {
  return `${prefix}_${randomBytes(4).toString('hex')}`;
}

/** A root connection to the local source or target MariaDB, returning exact values. */
export async function connectTo(which: 'source' | 'target', database?: string): Promise<mysql.Connection> {
  const s = testStack();
  return mysql.createConnection({
    host: s.host,
    port: which === 'source' ? s.sourcePort : s.targetPort,
    user: 'root',
    database,
    supportBigNumbers: true,
    bigNumberStrings: true,
    dateStrings: true,
    timezone: 'Z',
    charset: 'utf8mb4_general_ci',
    multipleStatements: true,
  });
}

export interface FreshDatabases {
  /** The same database name exists on the source and on the target. */
  name: string;
  source: mysql.Connection;
  target: mysql.Connection;
}

/** Creates a database of its own for one test on both servers; dropped when the test ends. */
export async function freshDatabases(t: TestContext, prefix = 't'): Promise<FreshDatabases> {
  const name = uniqueName(prefix);
  const source = await connectTo('source');
  const target = await connectTo('target');
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
  opts: { home?: string; targetConnector?: TargetConnector } = {},
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
      ...(opts.targetConnector ? { targetConnector: opts.targetConnector } : {}),
    });
    return await worker.runUntil(fn({ client, taskQueue, worker }));
  } finally {
    await connection.close();
    await nativeConnection.close();
  }
}
