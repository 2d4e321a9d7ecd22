import express from 'express';
import type { ApiToken } from '../service/api-tokens';
import type { BackfillService } from '../service/backfills';
import type { DatasourceService } from '../service/datasources';
import type { PipelineService } from '../service/pipelines';
import { invalidInput, ServiceError } from '../service/problems';
import type { VerificationScheduleService } from '../service/verification-schedules';
import type { VerificationService } from '../service/verifications';
import { logger as defaultLogger, type Logger } from '../util/logger';
import { requireRole } from './auth';
import { backfillRoutes } from './backfills';
import { renderApiPage } from './docs-page';
import { BODY_LIMIT, buildOpenApiDocument } from './openapi';

export { BODY_LIMIT };

import { methodNotAllowed, notFoundRoute, problemHandler, sendProblem } from './problem';
import { apiRoutes } from './routes';
import { renderStatusPage } from './status-page';
import { verificationScheduleRoutes } from './verification-schedules';
import { verificationRoutes } from './verifications';

export interface ApiDeps {
  datasources: DatasourceService;
  pipelines: PipelineService;
  /** Backfill routes (src/api/backfills.ts); omitted: not served. */
  backfills?: BackfillService;
  /** Read on every request: the server may refresh the array in place (tokens in the catalog). */
  /** Verification routes (src/api/verifications.ts); omitted: not served. */
  verifications?: VerificationService;
  /** Verification schedule routes (src/api/verification-schedules.ts); omitted: not served. */
  verificationSchedules?: VerificationScheduleService;
  tokens: ApiToken[];
  /** Throws when the API cannot serve (Temporal unreachable). */
  ready: () => Promise<void>;
  logger?: Logger;
  version?: string;
}

/**
 * The express application: health endpoints and the API document without auth, everything under
 * /v1 behind bearer tokens. Errors are problem details.
 */
export function createApp(deps: ApiDeps): express.Express {
  const log = deps.logger ?? defaultLogger;
  if (deps.tokens.length === 0) throw new Error('refusing to serve the API without any token configured');
  const app = express();
  app.disable('x-powered-by');
  app.set('query parser', 'simple');
  app.use((req, res, next) => {
    const started = process.hrtime.bigint();
    res.on('finish', () => {
      const ms = Number(process.hrtime.bigint() - started) / 1e6;
      // Method, path and outcome only: bodies (which may hold a password) are never logged.
      log.info(
        {
          method: req.method,
          path: req.path,
          status: res.statusCode,
          ms: Math.round(ms),
          by: req.principal?.name,
        },
        'request',
      );
    });
    next();
  });
  app.use(express.json({ limit: BODY_LIMIT, strict: true }));

  app.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });
  app.get('/readyz', async (_req, res) => {
    try {
      await deps.ready();
      res.json({ status: 'ready' });
    } catch (err) {
      sendProblem(res, new ServiceError('unavailable', `not ready: ${(err as Error).message}`));
    }
  });

  const routes = [
    ...apiRoutes(deps.datasources, deps.pipelines),
    ...(deps.backfills ? backfillRoutes(deps.backfills) : []),
    ...(deps.verifications ? verificationRoutes(deps.verifications) : []),
    ...(deps.verificationSchedules ? verificationScheduleRoutes(deps.verificationSchedules) : []),
  ];
  const document = buildOpenApiDocument(routes, deps.version ?? '0.1.0');
  const page = renderApiPage(document as unknown as Record<string, unknown>);
  app.get('/openapi.json', (_req, res) => {
    res.json(document);
  });
  app.get(['/docs', '/'], (_req, res) => {
    res.type('html').send(page);
  });
  const statusPage = renderStatusPage();
  app.get('/status', (_req, res) => {
    res.type('html').send(statusPage);
  });

  for (const r of routes) {
    app[r.method](r.path, requireRole(deps.tokens, r.role), async (req, res) => {
      if (r.body && (req.body === undefined || !req.is('application/json')))
        throw new ServiceError(
          'invalid-request',
          'send the body as JSON with Content-Type: application/json',
          [{ path: '', message: 'a JSON object is required' }],
        );
      // The query is checked against the schema the document shows, so both say the same.
      const query = r.query ? r.query.safeParse(req.query) : undefined;
      if (query && !query.success) throw invalidInput('query', query.error.issues);
      const result = await r.handle({
        name: String(req.params.name ?? ''),
        query: (query?.data ?? req.query) as Record<string, unknown>,
        body: req.body,
        ifMatch: req.get('if-match'),
      });
      if (result.body === undefined) res.status(result.status).end();
      else res.status(result.status).json(result.body);
    });
  }
  // A known path with a method the document does not declare: 405 with the methods it has.
  const allowed = new Map<string, string[]>([
    ['/healthz', ['GET']],
    ['/readyz', ['GET']],
    ['/openapi.json', ['GET']],
    ['/docs', ['GET']],
    ['/', ['GET']],
    ['/status', ['GET']],
  ]);
  for (const r of routes) allowed.set(r.path, [...(allowed.get(r.path) ?? []), r.method.toUpperCase()]);
  for (const [p, methods] of allowed) app.all(p, methodNotAllowed(methods));
  app.use(notFoundRoute);
  app.use(problemHandler(log));
  return app;
}
