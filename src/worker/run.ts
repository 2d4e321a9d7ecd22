import http from 'node:http';
import { NativeConnection, Worker } from '@temporalio/worker';
import client from 'prom-client';
import { createActivities } from '../activities';
import { openFileCatalog } from '../catalog/file-catalog';
import { openCatalog } from '../catalog/open';
import { catalogResolver } from '../catalog/resolver';
import type { DatasourceRepository } from '../catalog/types';
import { taskQueueFor } from '../config/regions';
import { type StackSettings, temporalAddress } from '../config/stack';
import type { TargetConnector } from '../connectors/target';
import { secretsDir } from '../service/secrets';
import { logger } from '../util/logger';
import { installRuntime } from './runtime';

export const workflowsPath = require.resolve('../workflows');

/** Creates a worker for the given task queue on an existing connection (tests use this too). */
export async function createWorker(
  connection: NativeConnection,
  opts: {
    namespace: string;
    taskQueue: string;
    home: string;
    identity?: string;
    targetConnector?: TargetConnector;
    /** Where datasource definitions come from; default: the JSON files under `home`. */
    datasources?: DatasourceRepository;
  },
): Promise<Worker> {
  const catalog = catalogResolver(
    opts.datasources ?? openFileCatalog(opts.home).datasources,
    secretsDir(opts.home),
  );
  return Worker.create({
    connection,
    namespace: opts.namespace,
    taskQueue: opts.taskQueue,
    workflowsPath,
    // Cancellation (pause, stop, config update) reaches a running activity with its next heartbeat
    // that goes to the server; the SDK throttles those to 80% of the heartbeat timeout unless capped.
    maxHeartbeatThrottleInterval: '1 second',
    activities: createActivities({
      catalog,
      ...(opts.targetConnector ? { targetConnector: opts.targetConnector } : {}),
    }),
    ...(opts.identity ? { identity: opts.identity } : {}),
  });
}

/**
 * `otterflow worker [--region R]`: polls the region's task queue (`<taskQueue>-<region>`, or the
 * base queue without a region) until SIGINT/SIGTERM; serves Prometheus metrics.
 */
export async function runWorker(s: StackSettings): Promise<void> {
  installRuntime();
  const catalog = await openCatalog(s);
  if (!s.catalogUrl)
    logger.warn(
      { home: s.home },
      'OTTERFLOW_CATALOG_URL is not set: datasources come from JSON files under OTTERFLOW_HOME (this host only)',
    );
  const taskQueue = taskQueueFor(s.taskQueue, s.region);
  const connection = await NativeConnection.connect({ address: temporalAddress(s) });
  const worker = await createWorker(connection, {
    namespace: s.namespace,
    taskQueue,
    home: s.home,
    datasources: catalog.datasources,
  });
  client.collectDefaultMetrics({ prefix: 'otterflow_worker_' });
  const metrics = http.createServer(async (req, res) => {
    if (req.url === '/metrics') {
      res.setHeader('content-type', client.register.contentType);
      res.end(await client.register.metrics());
    } else {
      res.statusCode = 404;
      res.end();
    }
  });
  await new Promise<void>((resolve) => metrics.listen(s.metricsPort, s.host, resolve));
  logger.info(
    {
      taskQueue,
      region: s.region ?? null,
      temporal: temporalAddress(s),
      metricsPort: s.metricsPort,
      catalog: catalog.describe(),
    },
    'worker started',
  );
  try {
    await worker.run(); // the SDK installs SIGINT/SIGTERM handlers that shut the worker down
  } finally {
    metrics.close();
    await catalog.close();
    await connection.close();
    logger.info('worker stopped');
  }
}
