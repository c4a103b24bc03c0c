// First run, login, logout and API tokens.
import type express from 'express';
import { z } from 'zod';
import { GuardianError, NotFoundError } from '../../../shared/errors.ts';
import type { Api } from '../../../shared/http/api.ts';
import { CSRF_COOKIE, type Principal, parseCookies, SESSION_COOKIE } from '../auth.ts';
import type { EdgeContext } from '../context.ts';

/** Cookies over HTTPS are Secure (never sent back over plain HTTP). */
const cookieFlags = (req: express.Request) => (req.secure ? { secure: true } : {});

export function registerAuthRoutes(api: Api, ctx: EdgeContext): void {
  api.route(
    'get',
    '/auth/state',
    { summary: 'Whether the admin password is set and this client is logged in', tag: 'auth', auth: false },
    ({ req }) => ({
      setupRequired: !ctx.auth.hasAdmin(),
      tlsFingerprint: ctx.tlsFingerprint ?? null,
      loggedIn: ctx.auth.identify(req) !== null,
    }),
  );
  const setCookies = (res: express.Response, session: string, csrf: string, expiresMs: number) => {
    const expires = new Date(expiresMs);
    res.cookie(SESSION_COOKIE, session, {
      httpOnly: true,
      sameSite: 'strict',
      path: '/',
      expires,
      ...cookieFlags(res.req),
    });
    res.cookie(CSRF_COOKIE, csrf, { httpOnly: false, sameSite: 'strict', path: '/', expires, ...cookieFlags(res.req) });
  };
  api.route(
    'post',
    '/auth/setup',
    {
      summary: 'First run: set the admin password',
      tag: 'auth',
      auth: false,
      body: z.object({
        password: z.string(),
        setupCode: z.string().max(64).describe("the code printed on the appliance's console and log at start"),
      }),
    },
    async ({ req, res, body }) => {
      await ctx.auth.setup(body.password, body.setupCode, req.socket.remoteAddress ?? '?');
      const s = await ctx.auth.login('admin', body.password, req.socket.remoteAddress ?? '?');
      setCookies(res, s.session, s.csrf, s.expiresMs);
      return { user: 'admin', csrf: s.csrf };
    },
  );
  api.route(
    'post',
    '/auth/login',
    {
      summary: 'Log in; sets the session cookie',
      tag: 'auth',
      auth: false,
      body: z.object({ user: z.string().default('admin'), password: z.string() }),
    },
    async ({ req, res, body }) => {
      const s = await ctx.auth.login(body.user, body.password, req.socket.remoteAddress ?? '?');
      setCookies(res, s.session, s.csrf, s.expiresMs);
      return { user: body.user, csrf: s.csrf };
    },
  );
  api.route('post', '/auth/logout', { summary: 'Log out', tag: 'auth' }, ({ req, res }) => {
    const cookie = parseCookies(req.headers.cookie)[SESSION_COOKIE];
    if (cookie) ctx.auth.logout(cookie);
    res.clearCookie(SESSION_COOKIE, { path: '/', ...cookieFlags(req) });
    res.clearCookie(CSRF_COOKIE, { path: '/', ...cookieFlags(req) });
    return { ok: true };
  });
  // Tokens are managed from a login only: a leaked token must not mint or hide others.
  const sessionOnly = (res: express.Response) => {
    if ((res.locals.principal as Principal | undefined)?.via !== 'session')
      throw new GuardianError('FORBIDDEN', 'API tokens are managed from a logged-in session, not with a token');
  };
  api.route('get', '/auth/tokens', { summary: 'API tokens (never their values)', tag: 'auth' }, ({ res }) => {
    sessionOnly(res);
    return { tokens: ctx.auth.listApiTokens() };
  });
  api.route(
    'post',
    '/auth/tokens',
    {
      summary: 'Create an API token for scripts (shown once)',
      tag: 'auth',
      body: z.strictObject({
        name: z.string().regex(/^[\w .-]{1,40}$/),
        scope: z.enum(['admin', 'read']).default('admin').describe('read: GET requests only'),
        expiresDays: z.number().int().min(1).max(3650).optional().describe('unset: until revoked'),
      }),
    },
    ({ res, body }) => {
      sessionOnly(res);
      return ctx.auth.createApiToken(body.name, {
        scope: body.scope,
        ...(body.expiresDays ? { expiresDays: body.expiresDays } : {}),
      });
    },
  );
  api.route('delete', '/auth/tokens/:id', { summary: 'Revoke an API token', tag: 'auth' }, ({ req, res }) => {
    sessionOnly(res);
    if (!ctx.auth.revokeApiToken(String(req.params.id))) throw new NotFoundError('no such API token');
    return { ok: true };
  });
}
