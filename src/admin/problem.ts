/**
 * The admin API's errors as RFC 9457 problem details (`application/problem+json`): a `type` URI
 * per kind of problem, its `title`, the HTTP `status`, and a `detail` for people. Details never
 * carry a stack, a store's address or a secret: the cause goes to the site's `onError` instead.
 */
import type { Response } from 'express';
import type { AdminProblem } from './types.js';

/** Every kind of problem the admin API answers with: HTTP status and title. */
export const PROBLEMS = {
  'invalid-request': { status: 400, title: 'The request is not valid' },
  unauthorized: { status: 401, title: 'Authentication required' },
  'not-found': { status: 404, title: 'No such resource' },
  'method-not-allowed': { status: 405, title: 'Method not allowed on this resource' },
  conflict: { status: 409, title: 'The request conflicts with the current state' },
  'payload-too-large': { status: 413, title: 'The request body is too large' },
  'unsupported-media-type': { status: 415, title: 'The request body must be JSON' },
  'internal-error': { status: 500, title: 'Internal error' },
  'not-implemented': { status: 501, title: 'Not supported by this tracker' },
  'store-unavailable': { status: 503, title: 'The tracker store is unavailable' },
} as const;

/** A kind of problem (the last part of its `type` URI). */
export type ProblemKind = keyof typeof PROBLEMS;

/** The `type` URI of a kind of problem (a tag URI, RFC 4151: a name, not a link). */
export function problemType(kind: ProblemKind): string {
  return `tag:express-torrent-tracker,2026:problem:${kind}`;
}

/** One invalid part of a request: a JSON Pointer into the body, or a parameter's name. */
export interface InvalidPart {
  /** JSON Pointer (RFC 6901) into the body (`/rules/uploadFactor`), absent for a parameter. */
  pointer?: string;
  /** The query or path parameter, absent for the body. */
  parameter?: string;
  detail: string;
}

/** A problem to answer with; thrown by the admin routes and turned into a response by the router. */
export class AdminProblemError extends Error {
  override readonly name = 'AdminProblemError';

  constructor(
    readonly kind: ProblemKind,
    detail: string,
    readonly errors?: InvalidPart[],
  ) {
    super(detail);
  }

  /** The problem details document. */
  body(instance?: string): AdminProblem {
    const { status, title } = PROBLEMS[this.kind];
    const body: AdminProblem = { type: problemType(this.kind), title, status, detail: this.message };
    if (instance !== undefined) body.instance = instance;
    if (this.errors && this.errors.length > 0) body.errors = this.errors;
    return body;
  }
}

/** Bad input: 400, with the part that is wrong. */
export function invalid(detail: string, where: { pointer?: string; parameter?: string } = {}): AdminProblemError {
  return new AdminProblemError('invalid-request', detail, [{ ...where, detail }]);
}

/** Send a problem (`Cache-Control: no-store`, like every admin answer). */
export function sendProblem(res: Response, problem: AdminProblemError, instance?: string, headers: Record<string, string> = {}): void {
  const body = problem.body(instance);
  res.status(body.status).set({ ...headers, 'Cache-Control': 'no-store', 'Content-Type': 'application/problem+json; charset=utf-8' });
  res.end(`${JSON.stringify(body)}\n`);
}

/** A 503 for a store call that failed; the cause is kept for `onError`. */
export class StoreProblem extends AdminProblemError {
  constructor(readonly storeCause: unknown) {
    const e = storeCause as { name?: string; timedOut?: boolean; message?: string };
    super(
      'store-unavailable',
      e?.timedOut === true
        ? 'the tracker store did not answer in time; try again later'
        : e?.name === 'TrackerFailure' && e.message === 'tracker is shutting down'
          ? 'the tracker is shutting down'
          : 'the tracker store failed; try again later',
    );
  }
}

/** A store call: its failure becomes a 503 (problems of ours pass through). */
export function storeCall<T>(promise: Promise<T>): Promise<T> {
  return promise.catch((error: unknown) => {
    throw error instanceof AdminProblemError ? error : new StoreProblem(error);
  });
}

/** Any error a route or the body parser raised, as a problem. */
export function toProblem(error: unknown): AdminProblemError {
  if (error instanceof AdminProblemError) return error;
  const e = error as { type?: unknown; status?: unknown } | null;
  switch (e?.type) {
    case 'entity.too.large':
      return new AdminProblemError('payload-too-large', 'the request body is larger than the admin API accepts');
    case 'entity.parse.failed':
      return invalid('the body is not valid JSON (or not an object or array)', { pointer: '' });
    case 'charset.unsupported':
    case 'encoding.unsupported':
      return new AdminProblemError('unsupported-media-type', 'send the JSON body as UTF-8, without content encoding');
  }
  if (typeof e?.status === 'number' && e.status >= 400 && e.status < 500) return invalid('the request could not be read');
  return new AdminProblemError('internal-error', 'the admin API failed to answer this request');
}
