// Local UI authentication: the first run sets the admin password (argon2id), sessions live in HttpOnly SameSite
// cookies with a CSRF token for state-changing requests, logins are rate limited, scripts use API tokens.
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

import { hash, verify } from '@node-rs/argon2';
import type { NextFunction, Request, Response } from 'express';

import type { Db } from '../../shared/db.ts';
import { GuardianError } from '../../shared/errors.ts';

export const SESSION_COOKIE = 'guardian_session';
export const CSRF_COOKIE = 'guardian_csrf';
const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');
const token = () => randomBytes(32).toString('base64url');

export interface Principal {
  user: string;
  via: 'session' | 'token';
  csrf?: string;
}

export class Auth {
  private readonly attempts = new Map<string, number[]>();

  constructor(
    private readonly db: Db,
    private readonly options: { sessionHours: number; loginAttemptsPerMinute: number },
  ) {}

  hasAdmin(): boolean {
    return (this.db.prepare('SELECT count(*) FROM users').pluck().get() as number) > 0;
  }

  async setup(password: string): Promise<void> {
    if (this.hasAdmin()) throw new GuardianError('CONFLICT', 'the admin password is already set');
    if (typeof password !== 'string' || password.length < 10 || password.length > 256)
      throw new GuardianError('INVALID_ARGUMENT', 'password: expected 10 to 256 characters');
    const h = await hash(password); // argon2id with the library's recommended cost
    this.db.prepare('INSERT INTO users (name, password_hash, created_ms) VALUES (?, ?, ?)').run('admin', h, Date.now());
  }

  private rateLimited(ip: string): boolean {
    const now = Date.now();
    const recent = (this.attempts.get(ip) ?? []).filter((t) => now - t < 60_000);
    recent.push(now);
    this.attempts.set(ip, recent);
    return recent.length > this.options.loginAttemptsPerMinute;
  }

  async login(
    user: string,
    password: string,
    ip: string,
  ): Promise<{ session: string; csrf: string; expiresMs: number }> {
    if (this.rateLimited(ip)) throw new GuardianError('RATE_LIMITED', 'too many login attempts; wait a minute');
    const row = this.db.prepare('SELECT password_hash FROM users WHERE name = ?').get(user) as
      | { password_hash: string }
      | undefined;
    const ok = row ? await verify(row.password_hash, String(password)) : false;
    if (!ok) throw new GuardianError('UNAUTHORIZED', 'wrong user name or password');
    const session = token();
    const csrf = token();
    const expiresMs = Date.now() + this.options.sessionHours * 3_600_000;
    this.db.prepare('DELETE FROM sessions WHERE expires_ms < ?').run(Date.now());
    this.db
      .prepare('INSERT INTO sessions (token_hash, user, csrf, expires_ms) VALUES (?, ?, ?, ?)')
      .run(sha256(session), user, csrf, expiresMs);
    return { session, csrf, expiresMs };
  }

  logout(session: string): void {
    this.db.prepare('DELETE FROM sessions WHERE token_hash = ?').run(sha256(session));
  }

  createApiToken(name: string): string {
    const t = `gdn_${token()}`;
    this.db
      .prepare('INSERT INTO api_tokens (token_hash, name, created_ms) VALUES (?, ?, ?)')
      .run(sha256(t), name, Date.now());
    return t;
  }

  identify(req: Request): Principal | null {
    const bearer = /^Bearer\s+(\S+)$/i.exec(req.headers.authorization ?? '')?.[1];
    if (bearer) {
      const row = this.db.prepare('SELECT name FROM api_tokens WHERE token_hash = ?').get(sha256(bearer)) as
        | { name: string }
        | undefined;
      return row ? { user: `token:${row.name}`, via: 'token' } : null;
    }
    const cookie = parseCookies(req.headers.cookie)[SESSION_COOKIE];
    if (!cookie) return null;
    const row = this.db
      .prepare('SELECT user, csrf, expires_ms FROM sessions WHERE token_hash = ?')
      .get(sha256(cookie)) as { user: string; csrf: string; expires_ms: number } | undefined;
    if (!row || row.expires_ms < Date.now()) return null;
    return { user: row.user, via: 'session', csrf: row.csrf };
  }

  /** Every route but health and login: a session or an API token; sessions also need the CSRF token to change things. */
  middleware() {
    return (req: Request, res: Response, next: NextFunction) => {
      const who = this.identify(req);
      if (!who) return res.status(401).json({ error: { code: 'UNAUTHORIZED', message: 'log in first' } });
      if (who.via === 'session' && !['GET', 'HEAD', 'OPTIONS'].includes(req.method)) {
        const sent = String(req.headers['x-csrf-token'] ?? '');
        const origin = req.headers.origin;
        const sameOrigin = !origin || origin === `${req.protocol}://${req.headers.host}`;
        if (
          !sameOrigin ||
          !who.csrf ||
          sent.length !== who.csrf.length ||
          !timingSafeEqual(Buffer.from(sent), Buffer.from(who.csrf))
        )
          return res
            .status(403)
            .json({ error: { code: 'CSRF', message: 'missing or wrong CSRF token (X-CSRF-Token header)' } });
      }
      res.locals.principal = who;
      next();
    };
  }
}

export function parseCookies(header: string | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const part of (header ?? '').split(';')) {
    const i = part.indexOf('=');
    if (i > 0) out[part.slice(0, i).trim()] = decodeURIComponent(part.slice(i + 1).trim());
  }
  return out;
}
