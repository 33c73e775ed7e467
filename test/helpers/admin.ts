/**
 * The admin API under test: a real Express app with the tracker at /tracker and trackerAdmin at
 * /admin/tracker on an ephemeral port, and a client whose every answer is checked against the
 * OpenAPI document (the operation's response for that status, its content type and its schema).
 */
import express from 'express';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';
import { trackerMiddleware, type TrackerRouter } from '../../src/middleware.js';
import type { TrackerOptions } from '../../src/tracker.js';
import { trackerAdmin } from '../../src/admin/router.js';
import { adminOpenApiDocument, withBearerAuth } from '../../src/admin/openapi.js';
import type { TrackerAdminOptions } from '../../src/admin/types.js';

// ajv-formats is CommonJS: its default export arrives wrapped under ESM.
const addFormats = ((addFormatsModule as unknown as { default?: unknown }).default ?? addFormatsModule) as unknown as (ajv: Ajv2020) => Ajv2020;

type Json = Record<string, any>;
const document = adminOpenApiDocument('/admin/tracker') as Json;
/** As `serve --admin-token-file` serves it. */
const bearerDocument = withBearerAuth(adminOpenApiDocument('/admin')) as Json;

/** An Ajv (JSON Schema 2020-12, strict) holding the document's schemas under `https://admin.invalid/openapi.json`. */
export function documentAjv(): Ajv2020 {
  const ajv = new Ajv2020({ strict: true, strictRequired: false, allowUnionTypes: true, allErrors: true });
  addFormats(ajv);
  ajv.addKeyword({ keyword: 'components' });
  ajv.addSchema({ $id: 'https://admin.invalid/openapi.json', components: document.components });
  return ajv;
}

const ajv = documentAjv();
const compiled = new Map<string, ValidateFunction>();
/** The validator of a schema of the document (`{ $ref: '#/components/schemas/Torrent' }` or inline). */
export function validatorFor(schema: Json): ValidateFunction {
  const key = JSON.stringify(schema);
  let v = compiled.get(key);
  if (!v) {
    const rewritten = JSON.parse(key.replace(/"#\/components\//g, '"https://admin.invalid/openapi.json#/components/')) as Json;
    v = ajv.compile(rewritten);
    compiled.set(key, v);
  }
  return v;
}

/** The named component schema's validator. */
export const schemaValidator = (name: string): ValidateFunction => validatorFor({ $ref: `#/components/schemas/${name}` });

const templates = Object.keys(document.paths).map((template) => ({
  template,
  pattern: new RegExp(`^${template.replace(/\{[^}]+\}/g, '[^/]+').replace(/\./g, '\\.')}$`),
}));

export interface AdminAnswer {
  status: number;
  headers: Headers;
  /** The parsed JSON body (undefined when empty). */
  body: any;
  text: string;
}

/** How many answers were checked against the document (the tests assert it is every one). */
export const checked = { answers: 0 };

/**
 * Check one answer against the document: the path's operation for the method must list the status;
 * a body must have that response's content type and match its schema; a response without content
 * must have no body. Answers for paths or methods the document lacks must be 404/405 problems.
 */
export function checkAnswer(method: string, path: string, answer: AdminAnswer, mount = '/admin/tracker'): void {
  const doc = mount === '/admin' ? bearerDocument : document;
  if (!path.startsWith(mount)) throw new Error(`${path} is not under ${mount}`);
  const relative = path.slice(mount.length).split('?')[0]!;
  const match = templates.find((t) => t.pattern.test(relative));
  let response: Json | undefined;
  const operation = match ? doc.paths[match.template][method.toLowerCase()] : undefined;
  if (operation) {
    response = operation.responses[String(answer.status)];
    if (!response) throw new Error(`${method} ${path}: status ${answer.status} is not in the document (${answer.text})`);
    if (response.$ref) response = doc.components.responses[String(response.$ref).split('/').pop()!];
  } else {
    const name = answer.status === 401 && mount === '/admin' ? 'Unauthorized' : answer.status === 404 && !match ? 'NotFound' : answer.status === 405 && match ? 'MethodNotAllowed' : undefined;
    if (name === undefined) throw new Error(`${method} ${path}: ${answer.status} for a route the document lacks`);
    response = doc.components.responses[name];
  }
  const content = response!.content as Json | undefined;
  if (!content) {
    if (answer.text !== '') throw new Error(`${method} ${path}: ${answer.status} should have no body`);
  } else {
    const type = (answer.headers.get('content-type') ?? '').split(';')[0]!.trim();
    if (!content[type]) throw new Error(`${method} ${path}: content type ${type} not in the document for ${answer.status}`);
    const validate = validatorFor(content[type].schema);
    if (!validate(answer.body)) throw new Error(`${method} ${path}: ${answer.status} body does not match the document: ${ajv.errorsText(validate.errors)}\n${answer.text}`);
  }
  checked.answers++;
}

/** Send a request and check its answer against the document. */
export async function adminRequest(
  base: string,
  method: string,
  path: string,
  options: { body?: unknown; raw?: string; headers?: Record<string, string> } = {},
  mount = '/admin/tracker',
): Promise<AdminAnswer> {
  const headers: Record<string, string> = { ...options.headers };
  let payload: string | undefined = options.raw;
  if (options.body !== undefined) {
    payload = JSON.stringify(options.body);
    headers['content-type'] ??= 'application/json';
  }
  const res = await fetch(base + path, { method, headers, body: payload });
  const text = await res.text();
  let body: unknown;
  if (text !== '') body = JSON.parse(text);
  const answer = { status: res.status, headers: res.headers, body, text };
  if (method !== 'HEAD') checkAnswer(method, path, answer, mount);
  return answer;
}

export interface AdminApp {
  router: TrackerRouter;
  base: string;
  port: number;
  /** A request to `/admin/tracker` + path, checked against the document. */
  api(method: string, path: string, options?: { body?: unknown; raw?: string; headers?: Record<string, string> }): Promise<AdminAnswer>;
  close(): Promise<void>;
}

/** `app.use('/tracker', trackerMiddleware(options))` and `app.use('/admin/tracker', trackerAdmin(router, adminOptions))`. */
export async function startAdmin(options: TrackerOptions = {}, adminOptions: TrackerAdminOptions = {}): Promise<AdminApp> {
  const app = express();
  const router = trackerMiddleware(options);
  app.use('/tracker', router);
  app.use('/admin/tracker', trackerAdmin(router, adminOptions));
  const server = http.createServer(app);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  const base = `http://127.0.0.1:${port}`;
  return {
    router,
    base,
    port,
    api: (method, path, o) => adminRequest(base, method, `/admin/tracker${path}`, o),
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await router.close();
    },
  };
}
