// Local UI authentication: the first run sets the admin password (argon2id), sessions live in HttpOnly SameSite
// cookies with a CSRF token for state-changing requests, logins are rate limited, scripts use API tokens.
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

import { hash, verify } from '@node-rs/argon2';
import { parse as parseCookie } from 'cookie';
import type { NextFunction, Request, Response } from 'express';

import type { Db } from '../../shared/db.ts';
import { GuardianError } from '../../shared/errors.ts';

export const SESSION_COOKIE = 'guardian_session';
export const CSRF_COOKIE = 'guardian_csrf';
const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');
const token = () => randomBytes(32).toString('base64url');

export type TokenScope = 'admin' | 'read';

export interface ApiToken {
  id: string;
  name: string;
  scope: TokenScope;
  createdMs: number;
  expiresMs: number | null;
  lastUsedMs: number | null;
}

export interface Principal {
  user: string;
  via: 'session' | 'token';
  csrf?: string;
  /** Tokens only: what the token may do. */
  scope?: TokenScope;
}

/** Crockford's base32: no I, L, O or U to misread. */
const SETUP_ALPHABET = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';
const normaliseCode = (s: string) => s.toUpperCase().replace(/[\s-]/g, '').replace(/[IL]/g, '1').replace(/O/g, '0');
/** Passed to setup() by code running on the appliance itself (the demo, the CLI), which needs no setup code. */
export const CONSOLE = Symbol('console');

export class Auth {
  private readonly attempts = new Map<string, number[]>();
  private code: string | null = null;

  constructor(
    private readonly db: Db,
    private readonly options: { sessionHours: number; loginAttemptsPerMinute: number },
  ) {}

  hasAdmin(): boolean {
    return (this.db.prepare('SELECT count(*) FROM users').pluck().get() as number) > 0;
  }

  /**
   * The one-time code first-run setup asks for while no admin exists: printed on the appliance's console and log,
   * never sent over the network, so only someone who can see the box (not a web page that found it) can claim it.
   * A new code each start; null once the admin password is set.
   */
  setupCode(): string | null {
    if (this.hasAdmin()) return null;
    this.code ??= Array.from(randomBytes(10), (b) => SETUP_ALPHABET[b % 32])
      .join('')
      .replace(/^(.{5})/, '$1-');
    return this.code;
  }

  /** Sets the admin password (first run); `code` is the setup code unless the caller is the console itself. */
  async setup(password: string, code: string | typeof CONSOLE, ip = '?'): Promise<void> {
    if (this.hasAdmin()) throw new GuardianError('CONFLICT', 'the admin password is already set');
    if (code !== CONSOLE) {
      if (this.rateLimited(ip)) throw new GuardianError('RATE_LIMITED', 'too many attempts; wait a minute');
      const want = Buffer.from(normaliseCode(this.setupCode() ?? ''));
      const got = Buffer.from(normaliseCode(String(code)));
      if (got.length !== want.length || !timingSafeEqual(got, want))
        throw new GuardianError(
          'FORBIDDEN',
          "wrong setup code: use the one printed on the appliance's console or in its log at start",
        );
    }
    if (typeof password !== 'string' || password.length < 10 || password.length > 256)
      throw new GuardianError('INVALID_ARGUMENT', 'password: expected 10 to 256 characters');
    const h = await hash(password); // argon2id with the library's recommended cost
    this.db.prepare('INSERT INTO users (name, password_hash, created_ms) VALUES (?, ?, ?)').run('admin', h, Date.now());
    this.code = null;
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

  /** A token for scripts, shown once; only its sha256 is kept. `read` tokens may only GET. */
  createApiToken(
    name: string,
    options: { scope?: TokenScope; expiresDays?: number } = {},
  ): ApiToken & { token: string } {
    const t = `gdn_${token()}`;
    const id = randomBytes(8).toString('hex');
    const createdMs = Date.now();
    const expiresMs = options.expiresDays ? createdMs + options.expiresDays * 86_400_000 : null;
    const scope = options.scope ?? 'admin';
    this.db
      .prepare('INSERT INTO api_tokens (id, token_hash, name, scope, created_ms, expires_ms) VALUES (?, ?, ?, ?, ?, ?)')
      .run(id, sha256(t), name, scope, createdMs, expiresMs);
    return { id, name, scope, createdMs, expiresMs, lastUsedMs: null, token: t };
  }

  listApiTokens(): ApiToken[] {
    return (
      this.db
        .prepare('SELECT id, name, scope, created_ms, expires_ms, last_used_ms FROM api_tokens ORDER BY created_ms')
        .all() as {
        id: string;
        name: string;
        scope: TokenScope;
        created_ms: number;
        expires_ms: number | null;
        last_used_ms: number | null;
      }[]
    ).map((r) => ({
      id: r.id,
      name: r.name,
      scope: r.scope,
      createdMs: r.created_ms,
      expiresMs: r.expires_ms,
      lastUsedMs: r.last_used_ms,
    }));
  }

  revokeApiToken(id: string): boolean {
    return this.db.prepare('DELETE FROM api_tokens WHERE id = ?').run(id).changes > 0;
  }

  identify(req: Request): Principal | null {
    const bearer = /^Bearer\s+(\S+)$/i.exec(req.headers.authorization ?? '')?.[1];
    if (bearer) {
      const row = this.db
        .prepare('SELECT id, name, scope, expires_ms, last_used_ms FROM api_tokens WHERE token_hash = ?')
        .get(sha256(bearer)) as
        | { id: string; name: string; scope: TokenScope; expires_ms: number | null; last_used_ms: number | null }
        | undefined;
      const now = Date.now();
      if (!row || (row.expires_ms !== null && row.expires_ms < now)) return null;
      // Last use to the minute: enough to spot a forgotten token without a write per request.
      if (!row.last_used_ms || now - row.last_used_ms > 60_000)
        this.db.prepare('UPDATE api_tokens SET last_used_ms = ? WHERE id = ?').run(now, row.id);
      return { user: `token:${row.name}`, via: 'token', scope: row.scope };
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
      if (who.scope === 'read' && !['GET', 'HEAD'].includes(req.method))
        return res.status(403).json({ error: { code: 'FORBIDDEN', message: 'this API token may only read' } });
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

/**
 * The request's cookies. Other apps on the same host (another service on another port shares the cookie jar) may
 * set cookies this parser cannot decode: those are skipped rather than failing the request.
 */
export function parseCookies(header: string | undefined): Record<string, string> {
  if (!header) return {};
  const out: Record<string, string> = {};
  const raw = parseCookie(header, { decode: (v) => v });
  for (const [name, value] of Object.entries(raw)) {
    if (value === undefined) continue;
    try {
      out[name] = decodeURIComponent(value);
    } catch {
      // a malformed %-escape in someone else's cookie
    }
  }
  return out;
}
