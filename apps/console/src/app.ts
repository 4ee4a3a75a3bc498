import { Hono, type MiddlewareHandler } from 'hono';
import type { Logger } from '@pitcrew/core';
import { answerJsonErrors, checkReadiness } from '@pitcrew/ingest';
import { API_PATH, OPENAPI_INFO, type AdminApi } from './admin-api.ts';
import { ApiDocsPage } from './api-docs.tsx';
import { BOARD_PATH } from './board.ts';
import { GITHUB_APP_PATH } from './github-app/page.tsx';
import { createLoginRoutes } from './login.tsx';
import { createSessions, type ConsoleEnv, type SessionOptions } from './session.ts';

/** Everything the console app needs; `main.ts` builds the real ones, tests build their own. */
export interface ConsoleDeps {
  /** The admin API (`createAdminApi`), mounted at `/api`. */
  api: AdminApi;
  /** Bull Board (`createBoard`), mounted at `/admin/queues`; unset = not mounted. */
  board?: Hono;
  /**
   * The server-rendered pages (`createPages` of `./pages/index.ts`), mounted at `/` behind the
   * session and the CSRF check; unset = `/` redirects to the board.
   */
  pages?: Hono<ConsoleEnv>;
  /**
   * The GitHub App page (`createGithubAppPage`), mounted at `/github-app`: its form behind the
   * session and the CSRF check, its `/callback` open (see there); unset = not mounted.
   */
  githubApp?: Hono<ConsoleEnv>;
  /** Sign-in and CSRF settings: the admin token, session key and lifetime, the public URL. */
  session: SessionOptions;
  /** Named readiness checks for `/readyz`; each resolves when its dependency answers. */
  readiness: Record<string, () => Promise<unknown>>;
  logger: Logger;
}

/** Paths the pages never see: the console's own routes. */
const OWN = [API_PATH, BOARD_PATH, GITHUB_APP_PATH, '/login', '/logout', '/healthz', '/readyz', '/favicon.ico'];
/** GitHub's redirect back from the App manifest flow: a cross-site navigation, so no session cookie. */
const GITHUB_APP_CALLBACK = `${GITHUB_APP_PATH}/callback`;
const isOwn = (path: string) => OWN.some((p) => path === p || path.startsWith(`${p}/`));

/**
 * The console HTTP app (its own process and port, off ingest's):
 * - `GET /healthz` → 200 `{ok: true}`; `GET /readyz` → 200 `{ready, checks}` or 503
 * - `GET /login`, `POST /login`, `POST /logout`: sign-in with the admin token into a session
 *   cookie (see `createSessions`)
 * - `GET /api/openapi.json` (the OpenAPI 3.1 document of the admin API, generated from its zod
 *   routes) and `GET /api/docs` (its reference page): open, they hold no data
 * - `/api/…` → the admin API behind `Authorization: Bearer <admin token>`, or a session (writes
 *   with the CSRF token in `X-CSRF-Token`)
 * - `/admin/queues` → Bull Board behind the bearer token or a session
 * - `/github-app` → the GitHub App page behind a session and the CSRF check, except GitHub's
 *   redirect to `/github-app/callback`: a cross-site top-level navigation, on which browsers do
 *   not send the SameSite=Strict cookie; the page's single-use `state` guards it instead
 * - `/…` → the pages, behind a session; every state-changing request passes the CSRF check
 *   (origin, and the `_csrf` field or header)
 *
 * Every error answer is JSON `{error, reason}`.
 */
export function createConsoleApp(deps: ConsoleDeps): Hono {
  const sessions = createSessions(deps.session);
  const app = new Hono<ConsoleEnv>();

  app.get('/healthz', (c) => c.json({ ok: true }));
  app.get('/readyz', async (c) => {
    const { ready, checks } = await checkReadiness(deps.readiness);
    return c.json({ ready, checks }, ready ? 200 : 503);
  });

  // Browsers ask every site for one; no icon, and no 404 in their console.
  app.get('/favicon.ico', (c) => c.body(null, 204, { 'cache-control': 'public, max-age=86400' }));
  app.route('/', createLoginRoutes(sessions, deps.logger));

  // The document is built once, on first request (the routes do not change).
  let document: ReturnType<AdminApi['getOpenAPI31Document']> | undefined;
  const openapi = () => (document ??= deps.api.getOpenAPI31Document(OPENAPI_INFO));
  app.get(`${API_PATH}/openapi.json`, (c) => c.json(openapi()));
  app.get(`${API_PATH}/docs`, (c) => c.html(ApiDocsPage({ doc: openapi() as Parameters<typeof ApiDocsPage>[0]['doc'] })));
  app.use(`${API_PATH}/*`, sessions.requireAdmin);
  app.route(API_PATH, deps.api);

  if (deps.board) {
    app.use(BOARD_PATH, sessions.requireBoard);
    app.use(`${BOARD_PATH}/*`, sessions.requireBoard);
    app.route(BOARD_PATH, deps.board);
  }

  if (deps.githubApp) {
    const guarded: MiddlewareHandler<ConsoleEnv> = async (c, next) =>
      c.req.path === GITHUB_APP_CALLBACK ? next() : sessions.requireSession(c, async () => {
            await sessions.verifyCsrf(c, next);
          });
    app.use(GITHUB_APP_PATH, guarded);
    app.use(`${GITHUB_APP_PATH}/*`, guarded);
    app.route(GITHUB_APP_PATH, deps.githubApp);
  }

  if (deps.pages) {
    const pages = deps.pages;
    app.use('*', async (c, next) => (isOwn(c.req.path) ? next() : sessions.requireSession(c, async () => {
          await sessions.verifyCsrf(c, next);
        })));
    app.route('/', pages);
  } else {
    app.get('/', sessions.requireSession, (c) => c.redirect(deps.board ? BOARD_PATH : `${API_PATH}/docs`, 302));
  }

  answerJsonErrors(app, deps.logger, 'the console logs');
  return app as unknown as Hono;
}
