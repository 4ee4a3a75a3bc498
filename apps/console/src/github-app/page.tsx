import { Hono, type Context } from 'hono';
import { z } from 'zod';
import type { Logger } from '@pitcrew/core';
import { Layout } from '../pages/layout.tsx';
import { csrfField, type ConsoleEnv } from '../session.ts';
import { createGithubAppSetup } from './setup-app.ts';

/** Where the console mounts the GitHub App page. */
export const GITHUB_APP_PATH = '/github-app';

/** Options of {@link createGithubAppPage}. */
export interface GithubAppPageOptions {
  /** GitHub's web base URL (`https://github.com`, GHES `https://HOST`): the manifest form is posted there. */
  githubUrl: string;
  /** GitHub's REST API base (`GITHUB_API_URL`): the code is exchanged there. */
  apiUrl: string;
  /** The dotenv file written (`PITCREW_CONSOLE_ENV_FILE`, an absolute path). */
  envFile: string;
  /** The webhook URL proposed in the form (`PITCREW_INGEST_PUBLIC_URL` + `/webhooks/github`); unset = an empty field. */
  webhookUrl?: string;
  /** GitHub's redirect back (`PITCREW_CONSOLE_URL` + `/github-app/callback`); unset = beside the page the browser loaded. */
  callbackUrl?: string;
  logger: Logger;
}

/**
 * The form's fields. GitHub's rules (docs, "Registering a GitHub App"): a name of at most 34
 * characters, unique on GitHub; an organisation login is 1–39 alphanumerics or single hyphens.
 */
const AppForm = z.object({
  name: z.string().trim().min(1, 'give the App a name').max(34, 'GitHub allows at most 34 characters'),
  org: z
    .string()
    .trim()
    .regex(/^$|^[A-Za-z0-9](?:[A-Za-z0-9]|-(?=[A-Za-z0-9])){0,38}$/, 'an organisation login: letters, digits and single hyphens, at most 39'),
  webhook_url: z.string().trim().pipe(z.url({ protocol: /^https?$/, error: 'the webhook URL must be an http(s) URL, e.g. https://pitcrew.example.com/webhooks/github' })),
});
type AppForm = z.input<typeof AppForm>;

/**
 * The console's GitHub App page: GitHub's App manifest flow ({@link createGithubAppSetup}) with
 * the console's layout, writing the App to the console process's own dotenv file; for a console
 * that `pitcrew start` runs (ingest and the workers read the same `./.env` at their next start).
 * - `GET /` the form: the App's name, the organisation (blank = the operator's account), the
 *   webhook URL (proposed from ingest's public URL)
 * - `POST /` (form fields and `_csrf`) → 400 with the form and the reason for a bad field; else the
 *   page that hands out a single-use `state` and auto-submits the manifest to GitHub
 * - `GET /callback?code=…&state=…` GitHub's redirect: exchanges the code, writes `envFile`, shows
 *   the App (never its key)
 *
 * `createConsoleApp` puts `GET /` and `POST /` behind the session and the CSRF check; the
 * callback is GitHub's cross-site redirect, which carries no SameSite=Strict cookie, so it is
 * guarded by the `state` alone, which only a signed-in operator's `POST /` hands out.
 */
export function createGithubAppPage(options: GithubAppPageOptions): Hono<ConsoleEnv> {
  const log = options.logger;
  const setup = createGithubAppSetup({
    githubUrl: options.githubUrl,
    apiUrl: options.apiUrl,
    envFile: options.envFile,
    writtenBy: 'pitcrew console',
    ...(options.callbackUrl ? { callbackUrl: options.callbackUrl } : {}),
    renderPage: (_c, title, body) => <Layout title={title} section={GITHUB_APP_PATH}>{body}</Layout>,
    onCreated: (created) => log.info({ appId: created.id, slug: created.slug, envFile: created.envFile.path, written: created.written }, 'GitHub App created'),
    onRefused: (reason) => log.warn({ reason }, 'GitHub App callback refused'),
    onUnwritten: (reason) => log.error({ reason }, 'GitHub App created but the env file was not written'),
  });

  const form = (c: Context<ConsoleEnv>, values: AppForm, error?: string) => (
    <Layout title="Create the GitHub App" section={GITHUB_APP_PATH} notice={error ? <p class="notice error" role="alert">{error}</p> : undefined}>
      <p>
        Registers pitcrew's GitHub App on {options.githubUrl} through GitHub's App manifest flow: you confirm the App there, GitHub sends you back here, and its id, private key and
        webhook secret are written to <code>{options.envFile}</code> (<code>GITHUB_APP_ID</code>, <code>GITHUB_APP_PRIVATE_KEY</code>, <code>GITHUB_WEBHOOK_SECRET</code>).
      </p>
      <p class="muted">
        For a console that <code>pitcrew start</code> runs: ingest and the workers read that file when they start. A deployment creates its App with{' '}
        <code>pitcrew github-app create</code> and puts the values into its Secret.
      </p>
      <form class="action" method="post" action={GITHUB_APP_PATH}>
        {csrfField(c)}
        <div>
          <label for="name">App name</label>
          <input id="name" name="name" value={values.name} maxlength={34} required />
        </div>
        <div>
          <label for="org">Organisation (blank: your account)</label>
          <input id="org" name="org" value={values.org} />
        </div>
        <div>
          <label for="webhook_url">Webhook URL (ingest's /webhooks/github)</label>
          <input id="webhook_url" name="webhook_url" type="url" size={48} value={values.webhook_url} placeholder="https://pitcrew.example.com/webhooks/github" required />
        </div>
        <button type="submit">Create on GitHub</button>
      </form>
    </Layout>
  );

  const app = new Hono<ConsoleEnv>();
  app.get('/', (c) => c.html(form(c, { name: 'pitcrew', org: '', webhook_url: options.webhookUrl ?? '' })));
  app.post('/', async (c) => {
    const body = await c.req.parseBody();
    const values = { name: String(body.name ?? ''), org: String(body.org ?? ''), webhook_url: String(body.webhook_url ?? '') };
    const parsed = AppForm.safeParse(values);
    if (!parsed.success) {
      const reason = parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ');
      return c.html(form(c, values, `Not sent to GitHub: ${reason}.`), 400);
    }
    const { name, org, webhook_url: webhookUrl } = parsed.data;
    return setup.manifestPage(c, { name, webhookUrl }, org || undefined);
  });
  app.route('/', setup.app as unknown as Hono<ConsoleEnv>);
  return app;
}
