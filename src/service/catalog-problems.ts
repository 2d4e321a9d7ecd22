import { AlreadyExistsError, InUseError, MissingError, StaleVersionError } from '../catalog/types';
import { ServiceError } from './problems';

export function alreadyExists(what: 'datasource' | 'pipeline', name: string): ServiceError {
  return new ServiceError(
    'conflict',
    `${what} "${name}" already exists${what === 'pipeline' ? '; use update to change it' : ''}`,
  );
}

/** Turns the catalog's errors into the problems the API answers with; anything else passes through. */
export function catalogProblem(err: unknown): unknown {
  if (err instanceof StaleVersionError)
    return new ServiceError(
      'conflict',
      err.message,
      [{ path: 'If-Match', message: `current version is ${err.current}` }],
      {
        currentVersion: err.current,
      },
    );
  if (err instanceof AlreadyExistsError) return alreadyExists(err.what, err.entity);
  if (err instanceof InUseError)
    return new ServiceError('conflict', err.message, [], { pipelines: err.pipelines });
  if (err instanceof MissingError)
    return err.what === 'datasource'
      ? new ServiceError('unprocessable', `${err.message}; register it first`, [
          { path: 'datasource', message: err.message },
        ])
      : new ServiceError('not-found', err.message);
  return err;
}

/**
 * The expected version of an If-Match header: `3`, `"3"` or `W/"3"`. Absent → undefined
 * (unconditional); anything else is a 400 naming the header.
 */
export function parseIfMatch(header: string | undefined): number | undefined {
  if (header === undefined) return undefined;
  const m = /^\s*(?:W\/)?"?(\d{1,9})"?\s*$/.exec(header);
  if (!m)
    throw new ServiceError(
      'invalid-request',
      `If-Match must be a version number such as "3", not ${JSON.stringify(header)}`,
      [{ path: 'If-Match', message: 'expected a version number' }],
    );
  return Number(m[1]);
}
