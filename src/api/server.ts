import type http from 'node:http';
import { Client, Connection } from '@temporalio/client';
import { openCatalog } from '../catalog/open';
import type { Catalog } from '../catalog/types';
import { type StackSettings, temporalAddress } from '../config/stack';
import { type ApiToken, loadApiTokens } from '../service/api-tokens';
import { BackfillService } from '../service/backfills';
import { DatasourceService } from '../service/datasources';
import { PipelineService } from '../service/pipelines';
import { SecretStore, secretsDir } from '../service/secrets';
import { VerificationScheduleService } from '../service/verification-schedules';
import { VerificationService } from '../service/verifications';
import { logger as defaultLogger, type Logger } from '../util/logger';
import { createApp } from './app';

export interface ApiServerOptions {
  /** Datasources, pipeline definitions (and API tokens: see runApi). */
  catalog: Catalog;
  /** This process's secrets folder: passwords given to the API are written here. */
  secretsDir: string;
  host: string;
  /** 0 picks a free port (tests). */
  port: number;
  taskQueue: string;
  client: Client;
  tokens: ApiToken[];
  logger?: Logger;
}

export interface RunningApi {
  url: string;
  server: http.Server;
  close: () => Promise<void>;
}

/** Wires the services to the catalog and the Temporal client, and listens. */
export async function startApiServer(o: ApiServerOptions): Promise<RunningApi> {
  const store = o.catalog.pipelines;
  const datasources = new DatasourceService(o.catalog.datasources, new SecretStore(o.secretsDir));
  const verifications = new VerificationService({
    store,
    datasources,
    client: o.client,
    taskQueue: o.taskQueue,
  });
  const verificationSchedules = new VerificationScheduleService({
    store,
    client: o.client,
    taskQueue: o.taskQueue,
    verifications,
  });
  const pipelines = new PipelineService({
    store,
    datasources,
    client: o.client,
    taskQueue: o.taskQueue,
    verification: verificationSchedules,
  });
  const app = createApp({
    datasources,
    pipelines,
    backfills: new BackfillService({ store, datasources, client: o.client, taskQueue: o.taskQueue }),
    verifications,
    verificationSchedules,
    tokens: o.tokens,
    ...(o.logger ? { logger: o.logger } : {}),
    ready: async () => {
      await o.client.withDeadline(Date.now() + 3000, () =>
        o.client.connection.workflowService.getSystemInfo({}),
      );
    },
  });
  const server = app.listen(o.port, o.host);
  await new Promise<void>((resolve, reject) => {
    server.once('listening', resolve);
    server.once('error', reject);
  });
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : o.port;
  return {
    url: `http://${o.host}:${port}`,
    server,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/**
 * `otterflow api`: serves the REST API until SIGINT/SIGTERM. Refuses to start without tokens
 * (secure by default); Temporal may come up later (the connection is lazy, /readyz tells).
 */
export async function runApi(s: StackSettings): Promise<void> {
  const log = defaultLogger;
  const catalog = await openCatalog(s);
  if (!s.catalogUrl)
    log.warn(
      { home: s.home },
      'OTTERFLOW_CATALOG_URL is not set: the catalog is JSON files under OTTERFLOW_HOME (one process on one host only)',
    );
  // With a catalog database, tokens are its api_tokens (hashes) plus any given by variable; the
  // dev tokens file under OTTERFLOW_HOME is not read (`dev up` copies its hashes into the catalog).
  const configured = loadApiTokens(s.home, process.env, { devFile: !s.catalogUrl });
  const tokens = [...configured.tokens, ...(await catalog.tokens.list())];
  const source = s.catalogUrl ? `${configured.source} + catalog` : configured.source;
  if (tokens.length === 0)
    throw new Error(
      'no API tokens configured: set OTTERFLOW_API_TOKENS_FILE (a JSON file [{ "name", "role": "admin"|"readonly", ' +
        '"token"|"sha256" }]) or OTTERFLOW_API_TOKENS (the same JSON), add tokens to the catalog ' +
        '(`otterflow catalog add-token`), or run `otterflow dev up`, which creates ' +
        `${s.home}/api-tokens.json`,
    );
  // Tokens added to the catalog by another process are picked up without a restart.
  const refresh = setInterval(() => {
    catalog.tokens
      .list()
      .then((fresh) => tokens.splice(0, tokens.length, ...configured.tokens, ...fresh))
      .catch((err: Error) => log.warn({ err: err.message }, 'cannot refresh API tokens from the catalog'));
  }, 10_000);
  refresh.unref();
  const connection = Connection.lazy({ address: temporalAddress(s) });
  const client = new Client({ connection, namespace: s.namespace });
  const api = await startApiServer({
    catalog,
    secretsDir: secretsDir(s.home),
    host: s.host,
    port: s.apiPort,
    taskQueue: s.taskQueue,
    client,
    tokens,
  });
  log.info(
    {
      url: api.url,
      tokens: tokens.length,
      tokenSource: source,
      taskQueue: s.taskQueue,
      catalog: catalog.describe(),
    },
    'api started',
  );
  await new Promise<void>((resolve) => {
    const stop = () => resolve();
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
  clearInterval(refresh);
  await api.close();
  await catalog.close();
  await connection.close();
  log.info('api stopped');
}
