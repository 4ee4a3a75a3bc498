import { html } from 'hono/html';
import type { PagesCsrf } from './pages.tsx';

/**
 * A fixed-token CSRF check for the pages' own tests, until the console's session (`session.ts`)
 * is mounted in front of them: the field carries `token`, and `verify` refuses (403) a form whose
 * `_csrf` is not `token`. Not for production: the console app passes the session's.
 */
export function fixedTokenCsrf(token: string): PagesCsrf {
  return {
    field: () => html`<input type="hidden" name="_csrf" value="${token}" />`,
    async verify(c, next) {
      const body = await c.req.parseBody();
      if (body._csrf !== token) return c.text('CSRF token missing or wrong', 403);
      await next();
    },
  };
}
