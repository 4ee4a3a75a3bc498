import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Context, MiddlewareHandler } from 'hono';
import { bearerAuth } from 'hono/bearer-auth';
import { deleteCookie, getSignedCookie, setSignedCookie } from 'hono/cookie';
import { csrf } from 'hono/csrf';
import { html } from 'hono/html';
import { tokenMatcher } from '@pitcrew/core';
import { ConsoleError } from './errors.ts';

/** Name of the session cookie. */
export const SESSION_COOKIE = 'pitcrew_session';
/** Name of the hidden form field that carries the CSRF token ({@link csrfField}). */
export const CSRF_FIELD = '_csrf';
/** Header that carries the CSRF token for scripts of a signed-in page (`fetch` with a session). */
export const CSRF_HEADER = 'x-csrf-token';

/** A signed-in browser: the session id in its cookie, when it ends, and its CSRF token. */
export interface Session {
  /** 128 random bits, base64url. */
  id: string;
  expiresAt: Date;
  /** HMAC-SHA256 of the session id under the session key, base64url: what forms must post back. */
  csrfToken: string;
}

/**
 * The hono `Env` of every console route behind a session: `c.get('session')` is the signed-in
 * session (pages use it through {@link csrfField} and {@link csrfToken}). Build page apps as
 * `new Hono<ConsoleEnv>()`.
 */
export type ConsoleEnv = { Variables: { session: Session } };

/** Options of {@link createSessions}. */
export interface SessionOptions {
  /** `PITCREW_ADMIN_TOKEN`: the bearer token, and what `/login` accepts. At least 16 characters. */
  adminToken: string;
  /**
   * Key of the cookie signature and the CSRF tokens (`PITCREW_CONSOLE_SESSION_SECRET`); default
   * derived from the admin token (HMAC-SHA256 of a fixed label), so a new token ends every session.
   */
  secret?: string;
  /** Session lifetime, ms (`PITCREW_CONSOLE_SESSION_TTL_MS`); default 12 h. */
  ttlMs?: number;
  /**
   * The console's public URL (`PITCREW_CONSOLE_URL`): its origin is accepted by the CSRF origin
   * check besides the request's own, and an https one makes the cookie `Secure`.
   */
  publicUrl?: string;
  /** Where "sign out everywhere" is kept; unset = a cookie can only be ended in its own browser (or by a new key). */
  revocations?: SessionRevocations;
  now?: () => Date;
}

/**
 * Sign-out everywhere, for cookies that hold the whole session: a time before which every session
 * started is over. `createRedisRevocations` keeps it in Redis, shared by every console process.
 */
export interface SessionRevocations {
  /** ms since the epoch; sessions started before it are over. `null` when nothing was revoked. */
  notBefore(): Promise<number | null>;
  /** Ends every session started before `at`. */
  revokeAll(at: Date): Promise<void>;
}

/**
 * {@link SessionRevocations} in one Redis key, `<prefix>:console:sessions-not-before` (in the
 * prefix's hash slot on a cluster), kept as long as the longest session (`ttlMs`) could still
 * outlive it.
 */
export function createRedisRevocations(redis: { get(key: string): Promise<string | null>; set(key: string, value: string, px: 'PX', ms: number): Promise<unknown> }, prefix: string, ttlMs: number = DEFAULT_TTL_MS): SessionRevocations {
  const key = `${prefix}:console:sessions-not-before`;
  return {
    async notBefore() {
      const value = await redis.get(key);
      return value === null ? null : Number(value);
    },
    async revokeAll(at) {
      await redis.set(key, String(at.getTime()), 'PX', ttlMs);
    },
  };
}

/** What {@link createSessions} returns: middleware for the console's routes. */
export interface Sessions {
  /**
   * Sets `c.var.session` from a valid session cookie; without one, a GET or HEAD is redirected
   * (302) to `/login?next=<path>`, anything else answered 401 `{error: 'unauthorized'}`.
   */
  requireSession: MiddlewareHandler<ConsoleEnv>;
  /**
   * For routes that change state (any method but GET, HEAD, OPTIONS) behind {@link requireSession}:
   * the request's `Origin` (or `Sec-Fetch-Site: same-origin`) must be the console's (hono/csrf,
   * for form content types), and the session's CSRF token must come back in the form field
   * {@link CSRF_FIELD} or the header {@link CSRF_HEADER}; else 403 `{error: 'csrf'}`.
   */
  verifyCsrf: MiddlewareHandler<ConsoleEnv>;
  /**
   * The API's guard: `Authorization: Bearer <admin token>` (scripts, the CLI); else a session
   * cookie, for reads, and for writes with the CSRF token in {@link CSRF_HEADER}; else 401.
   */
  requireAdmin: MiddlewareHandler<ConsoleEnv>;
  /**
   * hono/csrf's origin check alone (a form of another origin is refused 403 `{error: 'csrf'}`),
   * for forms without a session yet (`POST /login`).
   */
  checkOrigin: MiddlewareHandler;
  /** Bull Board's guard: the bearer token, or a session (browsers are sent to `/login`). */
  requireBoard: MiddlewareHandler<ConsoleEnv>;
  /**
   * The session of a request, or `null` when its cookie is missing, forged, expired or signed out.
   * @throws {ConsoleError} 503 `unavailable` when `revocations` cannot be read
   */
  readSession(c: Context): Promise<Session | null>;
  /** Signs the browser in: a new session and its cookie (HttpOnly, SameSite=Strict, Path=/, Max-Age). */
  startSession(c: Context): Promise<Session>;
  /** Signs the browser out: the cookie is deleted. */
  endSession(c: Context): void;
  /**
   * Signs every browser out: sessions started until now are over (`revocations`), and this
   * browser's cookie is deleted.
   * @throws {ConsoleError} 501 `not_supported` without `revocations`
   */
  endAllSessions(c: Context): Promise<void>;
  /** Whether `given` is the admin token (timing-safe). */
  isAdminToken(given: string): boolean;
}

const DEFAULT_TTL_MS = 12 * 3_600_000;
const SAFE_METHOD = /^(GET|HEAD|OPTIONS)$/;

/**
 * Sessions of the console: a browser signs in at `/login` with the admin token and gets a signed
 * session cookie (hono/cookie `setSignedCookie`, HMAC-SHA256): `<id>.<expiry ms>.<start ms>`,
 * HttpOnly, SameSite=Strict, `Secure` when the public URL is https, Max-Age the lifetime. The
 * cookie is the whole session (nothing is stored per session): signing out deletes it in that
 * browser; signing out everywhere (`revocations`) ends every session started before it, a copied
 * cookie among them; a new key (a new admin token, or a new `PITCREW_CONSOLE_SESSION_SECRET`)
 * also ends every session.
 *
 * CSRF: every state-changing form carries a per-session token, HMAC-SHA256(key, `csrf:<id>`)
 * (OWASP CSRF Prevention Cheat Sheet, "Signed Double-Submit Cookie" / HMAC-based token), compared
 * in constant time, on top of hono/csrf's origin check and the SameSite=Strict cookie.
 *
 * @throws {Error} at construction when the admin token is shorter than 16 characters or the
 *   secret shorter than 32
 */
export function createSessions(options: SessionOptions): Sessions {
  if (options.adminToken.length < 16) throw new Error('admin token must have at least 16 characters');
  if (options.secret !== undefined && options.secret.length < 32) throw new Error('session secret must have at least 32 characters');
  const key = options.secret ?? createHmac('sha256', options.adminToken).update('pitcrew console session key v1').digest('base64url');
  const ttlMs = options.ttlMs ?? DEFAULT_TTL_MS;
  const now = options.now ?? (() => new Date());
  const publicOrigin = options.publicUrl ? new URL(options.publicUrl).origin : undefined;
  const secure = publicOrigin?.startsWith('https:') ?? false;
  const isAdminToken = tokenMatcher(options.adminToken);
  const csrfOf = (id: string) => createHmac('sha256', key).update(`csrf:${id}`).digest('base64url');

  const originCheck = csrf({ origin: (origin, c) => origin === new URL(c.req.url).origin || origin === publicOrigin });
  // hono's bearer middleware is typed for the blank Env; it reads nothing of ours.
  const bearer = bearerAuth({ verifyToken: (given) => isAdminToken(given) }) as unknown as MiddlewareHandler<ConsoleEnv>;

  async function readSession(c: Context): Promise<Session | null> {
    const value = await getSignedCookie(c, key, SESSION_COOKIE);
    if (!value) return null;
    const match = /^([A-Za-z0-9_-]{22})\.(\d{1,15})(?:\.(\d{1,15}))?$/.exec(value);
    if (!match) return null;
    const expiresAt = new Date(Number(match[2]));
    if (expiresAt.getTime() <= now().getTime()) return null;
    // A cookie from before the start time was kept started one lifetime before its expiry.
    const startedAt = match[3] ? Number(match[3]) : expiresAt.getTime() - ttlMs;
    // Fails closed: a session whose sign-out cannot be checked is not taken (503, not a redirect loop).
    const notBefore = await options.revocations?.notBefore().catch((error: unknown) => {
      throw new ConsoleError(503, 'unavailable', 'cannot check whether this session was signed out (Redis unreachable); try again shortly', { cause: error, headers: { 'retry-after': '5' } });
    });
    if (notBefore != null && startedAt < notBefore) return null;
    return { id: match[1]!, expiresAt, csrfToken: csrfOf(match[1]!) };
  }

  async function startSession(c: Context): Promise<Session> {
    const id = randomBytes(16).toString('base64url');
    const startedAt = now().getTime();
    const expiresAt = new Date(startedAt + ttlMs);
    await setSignedCookie(c, SESSION_COOKIE, `${id}.${expiresAt.getTime()}.${startedAt}`, key, {
      httpOnly: true,
      sameSite: 'Strict',
      secure,
      path: '/',
      maxAge: Math.floor(ttlMs / 1_000),
    });
    return { id, expiresAt, csrfToken: csrfOf(id) };
  }

  function endSession(c: Context): void {
    deleteCookie(c, SESSION_COOKIE, { path: '/', secure, httpOnly: true, sameSite: 'Strict' });
  }

  const unauthorized = () => new ConsoleError(401, 'unauthorized', 'sign in at /login, or send Authorization: Bearer <PITCREW_ADMIN_TOKEN>', { headers: { 'www-authenticate': 'Bearer realm="pitcrew console"' } });

  /** The token a state-changing request carries: the header, else the form field. */
  async function givenCsrfToken(c: Context): Promise<string | undefined> {
    const header = c.req.header(CSRF_HEADER);
    if (header) return header;
    const type = c.req.header('content-type') ?? '';
    if (!/^(application\/x-www-form-urlencoded|multipart\/form-data)/i.test(type)) return undefined;
    // parseBody caches the body: the route's handler reads it again.
    const value = (await c.req.parseBody())[CSRF_FIELD];
    return typeof value === 'string' ? value : undefined;
  }

  function sameToken(given: string | undefined, expected: string): boolean {
    if (!given) return false;
    const a = Buffer.from(given);
    const b = Buffer.from(expected);
    return a.length === b.length && timingSafeEqual(a, b);
  }

  const requireSession: MiddlewareHandler<ConsoleEnv> = async function requireSession(c, next) {
    const session = await readSession(c);
    if (!session) {
      if (SAFE_METHOD.test(c.req.method)) {
        const url = new URL(c.req.url);
        return c.redirect(`/login?next=${encodeURIComponent(url.pathname + url.search)}`, 302);
      }
      throw unauthorized();
    }
    c.set('session', session);
    await next();
  };

  const verifyCsrf: MiddlewareHandler<ConsoleEnv> = async function verifyCsrf(c, next) {
    if (SAFE_METHOD.test(c.req.method)) return next();
    try {
      await originCheck(c, async () => {});
    } catch {
      throw new ConsoleError(403, 'csrf', `a form of another origin (${c.req.header('origin') ?? 'none'}) may not change state here`);
    }
    const session = c.get('session');
    if (!sameToken(await givenCsrfToken(c), session.csrfToken)) {
      throw new ConsoleError(403, 'csrf', `missing or wrong CSRF token (form field ${CSRF_FIELD} or header ${CSRF_HEADER}); reload the page and try again`);
    }
    await next();
  };

  const hasBearer = (c: Context) => /^bearer /i.test(c.req.header('authorization') ?? '');

  const requireAdmin: MiddlewareHandler<ConsoleEnv> = async function requireAdmin(c, next) {
    if (hasBearer(c)) return bearer(c, next);
    const session = await readSession(c);
    if (!session) throw unauthorized();
    c.set('session', session);
    return verifyCsrf(c, next);
  };

  const requireBoard: MiddlewareHandler<ConsoleEnv> = async function requireBoard(c, next) {
    if (hasBearer(c)) return bearer(c, next);
    // Bull Board's own requests carry no CSRF token: the SameSite=Strict cookie and the origin check guard them.
    return requireSession(c, async () => {
      try {
        await originCheck(c, async () => {});
      } catch {
        throw new ConsoleError(403, 'csrf', `a request of another origin (${c.req.header('origin') ?? 'none'}) may not change state here`);
      }
      await next();
    });
  };

  const checkOrigin: MiddlewareHandler = async function checkOrigin(c, next) {
    try {
      await originCheck(c, async () => {});
    } catch {
      throw new ConsoleError(403, 'csrf', `a form of another origin (${c.req.header('origin') ?? 'none'}) may not change state here`);
    }
    await next();
  };

  return {
    checkOrigin,
    requireSession,
    verifyCsrf,
    requireAdmin,
    requireBoard,
    readSession,
    startSession,
    endSession,
    async endAllSessions(c) {
      if (!options.revocations) throw new ConsoleError(501, 'not_supported', 'this console keeps no revocations; sign out in each browser, or change PITCREW_CONSOLE_SESSION_SECRET');
      await options.revocations.revokeAll(now());
      endSession(c);
    },
    isAdminToken,
  };
}

/**
 * The signed-in session's CSRF token, for a form field or a script's {@link CSRF_HEADER}.
 *
 * @throws {Error} on a route not behind `requireSession` (no session)
 */
export function csrfToken(c: Context<ConsoleEnv>): string {
  const session = c.get('session');
  if (!session) throw new Error('csrfToken: no session on this route; mount it behind requireSession (createConsoleApp does for pages)');
  return session.csrfToken;
}

/**
 * The hidden field every state-changing form of a page must hold:
 * `<input type="hidden" name="_csrf" value="…">` (escaped), for hono/jsx children or `html```.
 *
 * @throws {Error} on a route not behind `requireSession`
 */
export function csrfField(c: Context<ConsoleEnv>) {
  return html`<input type="hidden" name="${CSRF_FIELD}" value="${csrfToken(c)}" />`;
}

/**
 * A `next` path to return to after signing in: only a path on this site (`/…`, not `//host` or
 * `/\host`), else `/`.
 */
export function safeNextPath(next: string | undefined): string {
  if (!next || !next.startsWith('/') || next.startsWith('//') || next.startsWith('/\\')) return '/';
  return next;
}
