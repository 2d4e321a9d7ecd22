/**
 * Errors the service layer raises on purpose. Each carries the HTTP status and the RFC 9457
 * problem fields, so the API turns it into a response as is and the CLI prints the same words.
 */

/** One field that failed validation: `path` is dotted (`mappings.0.source`), empty for the whole body. */
export interface FieldError {
  path: string;
  message: string;
}

export type ProblemKind =
  | 'invalid-request'
  | 'unprocessable'
  | 'not-found'
  | 'method-not-allowed'
  | 'conflict'
  | 'unauthorized'
  | 'forbidden'
  | 'payload-too-large'
  | 'unavailable'
  | 'internal';

const TITLES: Record<ProblemKind, [number, string]> = {
  'invalid-request': [400, 'Invalid request'],
  unauthorized: [401, 'Authentication required'],
  forbidden: [403, 'Forbidden'],
  'not-found': [404, 'Not found'],
  'method-not-allowed': [405, 'Method not allowed'],
  conflict: [409, 'Conflict'],
  'payload-too-large': [413, 'Payload too large'],
  unprocessable: [422, 'Request cannot be carried out'],
  internal: [500, 'Internal error'],
  unavailable: [503, 'Service unavailable'],
};

/** The problem-details body (RFC 9457) every error response carries. */
export interface ProblemDetails {
  type: string;
  title: string;
  status: number;
  detail: string;
  errors?: FieldError[];
  /** Extra machine-readable data (e.g. the failed prerequisite checks). */
  [extension: string]: unknown;
}

/** Thrown by service functions for any outcome the caller must be told about. */
export class ServiceError extends Error {
  readonly status: number;
  readonly title: string;

  constructor(
    readonly kind: ProblemKind,
    readonly detail: string,
    readonly errors: FieldError[] = [],
    readonly extensions: Record<string, unknown> = {},
  ) {
    super(detail);
    this.name = 'ServiceError';
    const [status, title] = TITLES[kind];
    this.status = status;
    this.title = title;
  }

  toProblem(): ProblemDetails {
    return {
      type: `urn:otterflow:problem:${this.kind}`,
      title: this.title,
      status: this.status,
      detail: this.detail,
      ...(this.errors.length ? { errors: this.errors } : {}),
      ...this.extensions,
    };
  }
}

interface IssueLike {
  path: ReadonlyArray<PropertyKey>;
  message: string;
  code?: string;
  keys?: string[];
}

/**
 * Converts zod issues to field errors. An unknown field is reported at its own path (zod puts it
 * on the parent object), so a client sees exactly which key to remove.
 */
export function issuesToFieldErrors(issues: ReadonlyArray<IssueLike>): FieldError[] {
  return issues.flatMap((i) => {
    const at = i.path.map(String);
    if (i.code === 'unrecognized_keys' && i.keys?.length)
      return i.keys.map((k) => ({ path: [...at, k].join('.'), message: 'unknown field' }));
    return [{ path: at.join('.'), message: i.message }];
  });
}

/** A 400 for a body or parameter that failed its schema. */
export function invalidInput(what: string, issues: ReadonlyArray<IssueLike>): ServiceError {
  const errors = issuesToFieldErrors(issues);
  const list = errors.map((e) => (e.path ? `${e.path}: ${e.message}` : e.message)).join('; ');
  return new ServiceError('invalid-request', `${what} is not valid: ${list}`, errors);
}

export const notFound = (what: string, name: string) =>
  new ServiceError('not-found', `${what} "${name}" does not exist`);
