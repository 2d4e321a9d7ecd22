import type { ErrorRequestHandler, RequestHandler } from 'express';
import { z } from 'zod';
import { ServiceError } from '../service/problems';
import type { Logger } from '../util/logger';

/** RFC 9457 problem details, as every error response of the API carries them. */
export const problemSchema = z
  .object({
    type: z.string(),
    title: z.string(),
    status: z.number().int(),
    detail: z.string(),
    errors: z
      .array(z.object({ path: z.string(), message: z.string() }))
      .optional()
      .meta({ description: 'one entry per field that failed, with a dotted path' }),
  })
  .catchall(z.unknown())
  .meta({ id: 'Problem' });

export function sendProblem(res: Parameters<RequestHandler>[1], err: ServiceError): void {
  res.status(err.status).type('application/problem+json').json(err.toProblem());
}

/** Turns anything thrown by a route (or by the body parser) into problem details. */
export function problemHandler(log: Logger): ErrorRequestHandler {
  return (err, req, res, _next) => {
    if (res.headersSent) return;
    sendProblem(res, toServiceError(err, log, `${req.method} ${req.path}`));
  };
}

function toServiceError(err: unknown, log: Logger, where: string): ServiceError {
  if (err instanceof ServiceError) return err;
  const e = err as { type?: string; status?: number; limit?: number };
  // Errors of express.json(): their messages are safe and say what is wrong with the body.
  if (e.type === 'entity.too.large')
    return new ServiceError('payload-too-large', `request body is larger than the limit of ${e.limit} bytes`);
  if (e.type === 'entity.parse.failed')
    return new ServiceError('invalid-request', 'request body is not valid JSON');
  if (e.type === 'encoding.unsupported' || e.type === 'charset.unsupported')
    return new ServiceError('invalid-request', 'request body must be UTF-8 JSON');
  const grpc = (err as { code?: number }).code;
  if (grpc === 14 /* UNAVAILABLE */)
    return new ServiceError('unavailable', 'Temporal is not reachable; try again when it is up');
  log.error({ err, where }, 'unexpected error');
  return new ServiceError('internal', 'unexpected error; see the API log');
}

export const notFoundRoute: RequestHandler = (req, res) => {
  sendProblem(res, new ServiceError('not-found', `no route for ${req.method} ${req.path}`));
};

/** For a path that exists: any other method gets 405 and `Allow` (GET implies HEAD, as express serves it). */
export function methodNotAllowed(methods: string[]): RequestHandler {
  const allow = [...methods, ...(methods.includes('GET') ? ['HEAD'] : [])].join(', ');
  return (req, res) => {
    res.set('Allow', allow);
    sendProblem(
      res,
      new ServiceError('method-not-allowed', `${req.method} is not allowed on ${req.path}; use ${allow}`),
    );
  };
}
