// First run, login, logout and API tokens.
import type express from 'express';
import { z } from 'zod';

import type { Api } from '../../../shared/http/api.ts';
import { CSRF_COOKIE, SESSION_COOKIE } from '../auth.ts';
import type { EdgeContext } from '../context.ts';

export function registerAuthRoutes(api: Api, ctx: EdgeContext): void {
  api.route(
    'get',
    '/auth/state',
    { summary: 'Whether the admin password is set and this client is logged in', tag: 'auth', auth: false },
    ({ req }) => ({
      setupRequired: !ctx.auth.hasAdmin(),
      loggedIn: ctx.auth.identify(req) !== null,
    }),
  );
  const setCookies = (res: express.Response, session: string, csrf: string, expiresMs: number) => {
    const expires = new Date(expiresMs);
    res.cookie(SESSION_COOKIE, session, { httpOnly: true, sameSite: 'strict', path: '/', expires });
    res.cookie(CSRF_COOKIE, csrf, { httpOnly: false, sameSite: 'strict', path: '/', expires });
  };
  api.route(
    'post',
    '/auth/setup',
    {
      summary: 'First run: set the admin password',
      tag: 'auth',
      auth: false,
      body: z.object({ password: z.string() }),
    },
    async ({ req, res, body }) => {
      await ctx.auth.setup(body.password);
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
    const cookie = /guardian_session=([^;]+)/.exec(req.headers.cookie ?? '')?.[1];
    if (cookie) ctx.auth.logout(decodeURIComponent(cookie));
    res.clearCookie(SESSION_COOKIE, { path: '/' });
    res.clearCookie(CSRF_COOKIE, { path: '/' });
    return { ok: true };
  });
  api.route(
    'post',
    '/auth/tokens',
    {
      summary: 'Create an API token for scripts (shown once)',
      tag: 'auth',
      body: z.object({ name: z.string().regex(/^[\w .-]{1,40}$/) }),
    },
    ({ body }) => ({ token: ctx.auth.createApiToken(body.name) }),
  );
}
