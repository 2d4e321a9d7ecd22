import type http from 'node:http';
import { Client, Connection } from '@temporalio/client';
import { catalogFile, DatasourceCatalog } from '../config/datasources';
import { type StackSettings, temporalAddress } from '../config/stack';
import { type ApiToken, loadApiTokens } from '../service/api-tokens';
import { BackfillService } from '../service/backfills';
import { DatasourceService } from '../service/datasources';
import { PipelineStore, pipelineStoreFile } from '../service/pipeline-store';
import { PipelineService } from '../service/pipelines';
import { SecretStore, secretsDir } from '../service/secrets';
import { VerificationService } from '../service/verifications';
import { logger as defaultLogger, type Logger } from '../util/logger';
import { createApp } from './app';

export interface ApiServerOptions {
  /** OTTERFLOW_HOME: the datasource catalog, pipeline definitions and stored secrets live here. */
  home: string;
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

/** Wires the services to the stores under `home` and the Temporal client, and listens. */
export async function startApiServer(o: ApiServerOptions): Promise<RunningApi> {
  const store = new PipelineStore(pipelineStoreFile(o.home));
  // The datasource service asks which pipelines use a datasource; the pipeline service needs the
  // datasources: the store is the shared truth for both, so no cycle between the services.
  const datasources = new DatasourceService(
    new DatasourceCatalog(catalogFile(o.home)),
    new SecretStore(secretsDir(o.home)),
    (name) =>
      store
        .list()
        .filter((d) => d.config.source === name || d.config.target === name)
        .map((d) => d.config.name),
  );
  const pipelines = new PipelineService({ store, datasources, client: o.client, taskQueue: o.taskQueue });
  const app = createApp({
    datasources,
    pipelines,
    backfills: new BackfillService({ store, datasources, client: o.client, taskQueue: o.taskQueue }),
    verifications: new VerificationService({ store, datasources, client: o.client, taskQueue: o.taskQueue }),
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
  const { tokens, source } = loadApiTokens(s.home);
  if (tokens.length === 0)
    throw new Error(
      'no API tokens configured: set OTTERFLOW_API_TOKENS_FILE (a JSON file [{ "name", "role": "admin"|"readonly", ' +
        '"token"|"sha256" }]) or OTTERFLOW_API_TOKENS (the same JSON), or run `otterflow dev up`, which creates ' +
        `${s.home}/api-tokens.json`,
    );
  const connection = Connection.lazy({ address: temporalAddress(s) });
  const client = new Client({ connection, namespace: s.namespace });
  const api = await startApiServer({
    home: s.home,
    host: s.host,
    port: s.apiPort,
    taskQueue: s.taskQueue,
    client,
    tokens,
  });
  log.info(
    { url: api.url, tokens: tokens.length, tokenSource: source, taskQueue: s.taskQueue },
    'api started',
  );
  await new Promise<void>((resolve) => {
    const stop = () => resolve();
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
  await api.close();
  await connection.close();
  log.info('api stopped');
}
