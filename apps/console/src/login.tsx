import { Hono } from 'hono';
import type { Logger } from '@pitcrew/core';
import { safeNextPath, type ConsoleEnv, type Sessions } from './session.ts';

/** The sign-in form: one labelled password field, usable by keyboard alone. */
function LoginPage(props: { next: string; error?: string }) {
  return (
    <html lang="en">
      <head>
        <meta charset="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        <title>Sign in · pitcrew console</title>
        <style>{'body{font:16px/1.5 system-ui,sans-serif;max-width:26rem;margin:4rem auto;padding:0 1rem}label{display:block;font-weight:600;margin-bottom:.25rem}input[type=password]{width:100%;padding:.5rem;font:inherit;box-sizing:border-box}button{margin-top:1rem;padding:.5rem 1.25rem;font:inherit}.error{color:#a40000}'}</style>
      </head>
      <body>
        <main>
          <h1>pitcrew console</h1>
          {props.error ? (
            <p class="error" role="alert">
              {props.error}
            </p>
          ) : null}
          <form method="post" action="/login">
            <input type="hidden" name="next" value={props.next} />
            <label for="token">Admin token</label>
            <input id="token" name="token" type="password" autocomplete="current-password" required autofocus />
            <button type="submit">Sign in</button>
          </form>
          <p>The token is the console's <code>PITCREW_ADMIN_TOKEN</code>.</p>
        </main>
      </body>
    </html>
  );
}

/**
 * `GET /login` (the form; a signed-in browser goes straight to `next`), `POST /login` (form
 * fields `token`, `next`: the admin token starts a session and redirects 303 to `next`, a path on
 * this site; a wrong token answers 401 with the form again) and `POST /logout` (ends the session,
 * 303 to `/login`; with the form field `everywhere=1`, every session: `Sessions.endAllSessions`;
 * behind the CSRF check like every form).
 */
export function createLoginRoutes(sessions: Sessions, logger: Logger): Hono<ConsoleEnv> {
  const app = new Hono<ConsoleEnv>();
  app.get('/login', async (c) => {
    const next = safeNextPath(c.req.query('next'));
    if (await sessions.readSession(c)) return c.redirect(next, 303);
    return c.html(<LoginPage next={next} />);
  });
  app.post('/login', sessions.checkOrigin, async (c) => {
    const body = await c.req.parseBody();
    const next = safeNextPath(typeof body.next === 'string' ? body.next : undefined);
    const token = typeof body.token === 'string' ? body.token : '';
    if (!sessions.isAdminToken(token)) {
      logger.warn({ ip: c.req.header('x-forwarded-for') ?? null }, 'console sign-in with a wrong token');
      return c.html(<LoginPage next={next} error="That is not the admin token." />, 401);
    }
    await sessions.startSession(c);
    logger.info('console sign-in');
    return c.redirect(next, 303);
  });
  app.post('/logout', sessions.requireSession, sessions.verifyCsrf, async (c) => {
    const body = await c.req.parseBody();
    if (body.everywhere === '1') {
      await sessions.endAllSessions(c);
      logger.info('console: every session signed out');
    } else {
      sessions.endSession(c);
    }
    return c.redirect('/login', 303);
  });
  return app;
}
