// A small route registry over express, shared by the edge's and the VM's HTTP APIs: validates params, query and
// body with zod, turns errors into JSON with the right status (one list of codes), and writes the OpenAPI document
// from the same schemas.
import type { Express, NextFunction, Request, RequestHandler, Response } from 'express';
import { z } from 'zod';

import { GuardianError, ValidationError } from '../errors.ts';
import type { Logger } from '../log.ts';

export interface RouteSpec<Q extends z.ZodType, B extends z.ZodType> {
  summary: string;
  tag: string;
  auth?: boolean;
  query?: Q;
  body?: B;
  /** Response content type, when not JSON. */
  produces?: string;
}

type Handler<Q, B> = (ctx: { req: Request; res: Response; query: Q; body: B }) => Promise<unknown> | unknown;

/** HTTP status of each error code; codes not listed are an upstream failure (502), unknown errors 500. */
export const HTTP_STATUS: Record<string, number> = {
  INVALID_ARGUMENT: 400,
  UNAUTHORIZED: 401,
  FORBIDDEN: 403,
  CSRF: 403,
  NOT_FOUND: 404,
  MISDIRECTED: 421,
  CONFLICT: 409,
  EXPIRED: 410,
  TOO_LARGE: 413,
  RANGE_NOT_SATISFIABLE: 416,
  RATE_LIMITED: 429,
  UNAVAILABLE: 503,
  MEDIA_UNAVAILABLE: 503,
  MEDIA_RESTARTING: 503,
  TIMEOUT: 504,
  RESOURCE_EXHAUSTED: 507,
  DISK_FULL: 507,
  IO_ERROR: 503,
};

/** No request body of ours nests deeper; a deeper one is an attack on recursive code (merges, validators). */
export const MAX_BODY_DEPTH = 32;

/** Whether a parsed JSON value nests deeper than `max` (iteratively: the value may be deep enough to overflow). */
export function nestedDeeperThan(value: unknown, max: number): boolean {
  const stack: [unknown, number][] = [[value, 0]];
  while (stack.length) {
    const [v, depth] = stack.pop() as [unknown, number];
    if (v === null || typeof v !== 'object') continue;
    if (depth >= max) return true;
    for (const child of Object.values(v)) stack.push([child, depth + 1]);
  }
  return false;
}

/**
 * An error's message as a client may see it: absolute file paths (the data dir's layout, the install's) shortened
 * to their last part (API routes and devices stay). Messages that name a path on purpose (validation of a path the client sent) are not errors
 * of this kind and are not touched.
 */
export function withoutPaths(message: string): string {
  return message.replace(
    /(^|[\s'"(=:,])\/(?!api\/|dev\/)(?:[^\s'"/:,)]+\/)+([^\s'"/:,)]*)/g,
    (_m, before: string, last: string) => `${before}…/${last}`,
  );
}

/** SQLite's own failures as the errors they are for a client: a full disk, a busy or failing database. */
function sqliteAsGuardian(err: unknown): unknown {
  const code = String((err as { code?: string })?.code ?? '');
  if (!code.startsWith('SQLITE_')) return err;
  if (code === 'SQLITE_FULL') return new GuardianError('DISK_FULL', 'the disk is full: nothing new can be saved');
  if (code === 'SQLITE_BUSY' || code === 'SQLITE_LOCKED')
    return new GuardianError('UNAVAILABLE', 'the database is busy; try again');
  if (code.startsWith('SQLITE_IOERR') || code.startsWith('SQLITE_CORRUPT'))
    return new GuardianError('IO_ERROR', 'the database could not be read or written (a disk error)');
  return new GuardianError('INTERNAL', 'internal error');
}

export function sendError(res: Response, err: unknown): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  if (err instanceof ValidationError) {
    res.status(400).json({ error: { code: err.code, message: err.message, issues: err.issues } });
    return;
  }
  const e = sqliteAsGuardian(err) as { code?: string; message?: string };
  const code = e instanceof GuardianError || e?.code ? String(e.code) : 'INTERNAL';
  const status = HTTP_STATUS[code] ?? (code === 'INTERNAL' ? 500 : 502);
  res
    .status(status)
    .json({ error: { code, message: status === 500 ? 'internal error' : withoutPaths(e?.message ?? String(err)) } });
}

export interface ApiDocument {
  title: string;
  securitySchemes: Record<string, unknown>;
  security: Record<string, string[]>[];
}

export class Api {
  readonly paths: Record<string, Record<string, unknown>> = {};

  constructor(
    private readonly app: Express,
    private readonly requireAuth: RequestHandler,
    private readonly doc: ApiDocument,
  ) {}

  route<Q extends z.ZodType = z.ZodType, B extends z.ZodType = z.ZodType>(
    method: 'get' | 'post' | 'put' | 'patch' | 'delete',
    path: string,
    spec: RouteSpec<Q, B>,
    handler: Handler<z.infer<Q>, z.infer<B>>,
  ): void {
    const run = async (req: Request, res: Response, _next: NextFunction) => {
      try {
        const issues: { field: string; message: string }[] = [];
        let query: unknown = req.query;
        let body: unknown = req.body;
        if (spec.query) {
          const r = spec.query.safeParse(req.query);
          if (r.success) query = r.data;
          else issues.push(...r.error.issues.map((i) => ({ field: `query.${i.path.join('.')}`, message: i.message })));
        }
        if (spec.body) {
          if (nestedDeeperThan(req.body, MAX_BODY_DEPTH))
            throw new ValidationError([{ field: '(body)', message: `nested deeper than ${MAX_BODY_DEPTH} levels` }]);
          const r = spec.body.safeParse(req.body ?? {});
          if (r.success) body = r.data;
          else issues.push(...r.error.issues.map((i) => ({ field: i.path.join('.') || '(body)', message: i.message })));
        }
        if (issues.length) throw new ValidationError(issues);
        const out = await handler({ req, res, query: query as z.infer<Q>, body: body as z.infer<B> });
        if (!res.headersSent && out !== undefined) res.json(out);
      } catch (err) {
        sendError(res, err);
      }
    };
    const handlers: RequestHandler[] = spec.auth === false ? [run] : [this.requireAuth, run];
    this.app[method](`/api${path}`, ...handlers);
    const openapiPath = `/api${path}`.replace(/:(\w+)/g, '{$1}');
    const params = [...path.matchAll(/:(\w+)/g)].map((m) => ({
      name: m[1],
      in: 'path',
      required: true,
      schema: { type: 'string' },
    }));
    const querySchema = spec.query
      ? (z.toJSONSchema(spec.query, { io: 'input', unrepresentable: 'any' }) as {
          properties?: Record<string, unknown>;
        })
      : undefined;
    for (const [name, schema] of Object.entries(querySchema?.properties ?? {}))
      params.push({ name, in: 'query', required: false, schema: schema as never });
    this.paths[openapiPath] ??= {};
    (this.paths[openapiPath] as Record<string, unknown>)[method] = {
      summary: spec.summary,
      tags: [spec.tag],
      ...(spec.auth === false ? { security: [] } : {}),
      parameters: params,
      ...(spec.body
        ? {
            requestBody: {
              required: true,
              content: {
                'application/json': { schema: z.toJSONSchema(spec.body, { io: 'input', unrepresentable: 'any' }) },
              },
            },
          }
        : {}),
      responses: {
        200: { description: 'OK', content: { [spec.produces ?? 'application/json']: {} } },
        400: { description: 'Invalid input: error.issues lists every field' },
        ...(spec.auth === false
          ? {}
          : { 401: { description: 'Not logged in' }, 403: { description: 'Missing CSRF token' } }),
      },
    };
  }

  openapi(version: string) {
    return {
      openapi: '3.1.0',
      info: { title: this.doc.title, version },
      components: { securitySchemes: this.doc.securitySchemes },
      security: this.doc.security,
      paths: this.paths,
    };
  }
}

/** The last handler: body-parser errors (malformed JSON, a body too large) and anything thrown outside a route. */
export function finalErrorHandler(log: Logger) {
  return (err: unknown, _req: Request, res: Response, _next: NextFunction) => {
    const status = (err as { status?: number })?.status;
    if (status && status < 500) {
      const code = status === 404 ? 'NOT_FOUND' : status === 413 ? 'TOO_LARGE' : 'INVALID_ARGUMENT';
      const message = (err as { type?: string }).type === 'entity.parse.failed' ? 'the body is not valid JSON' : null;
      res.status(status).json({ error: { code, message: message ?? withoutPaths((err as Error).message) } });
      return;
    }
    log.error({ err }, 'request failed');
    sendError(res, err);
  };
}
