import type { MiddlewareHandler } from 'hono';
import { basicAuth } from 'hono/basic-auth';
import { bearerAuth } from 'hono/bearer-auth';
import { tokenMatcher } from '@pitcrew/core';

/**
 * Guards admin routes with one token, given either as `Authorization: Bearer <token>` (scripts)
 * or as the password of HTTP basic auth with any user name (browsers, which then prompt).
 *
 * @throws {Error} at construction when the token is shorter than 16 characters
 */
export function adminAuth(token: string): MiddlewareHandler {
  if (token.length < 16) throw new Error('admin token must have at least 16 characters');
  const matches = tokenMatcher(token);
  const bearer = bearerAuth({ verifyToken: (given) => matches(given) });
  const basic = basicAuth({
    realm: 'pitcrew admin',
    verifyUser: (_user, password) => matches(password),
  });
  return async function requireAdmin(c, next) {
    const header = c.req.header('authorization') ?? '';
    return /^bearer /i.test(header) ? bearer(c, next) : basic(c, next);
  };
}
