import type { RequestHandler } from 'express';
import { type ApiPrincipal, type ApiRole, type ApiToken, authenticateToken } from '../service/api-tokens';
import { ServiceError } from '../service/problems';
import { sendProblem } from './problem';

declare global {
  namespace Express {
    interface Request {
      principal?: ApiPrincipal;
    }
  }
}

/**
 * Requires a bearer token with at least `role` (admin > readonly). No or an unknown token → 401;
 * a readonly token on a route that changes something → 403.
 */
export function requireRole(tokens: ApiToken[], role: ApiRole): RequestHandler {
  return (req, res, next) => {
    const header = req.get('authorization') ?? '';
    const m = /^Bearer\s+(\S+)\s*$/i.exec(header);
    const principal = m?.[1] ? authenticateToken(tokens, m[1]) : undefined;
    if (!principal) {
      res.set('WWW-Authenticate', 'Bearer realm="otterflow"');
      sendProblem(
        res,
        new ServiceError(
          'unauthorized',
          m ? 'the bearer token is not valid' : 'send a bearer token: Authorization: Bearer <token>',
        ),
      );
      return;
    }
    if (role === 'admin' && principal.role !== 'admin') {
      sendProblem(
        res,
        new ServiceError(
          'forbidden',
          `token "${principal.name}" is read-only; this route needs an admin token`,
        ),
      );
      return;
    }
    req.principal = principal;
    next();
  };
}
