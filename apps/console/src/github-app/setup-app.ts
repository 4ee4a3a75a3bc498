import { randomBytes } from 'node:crypto';
import { request } from '@octokit/request';
import { RequestError } from '@octokit/request-error';
import { Hono, type Context } from 'hono';
import { html } from 'hono/html';
import type { HtmlEscapedString } from 'hono/utils/html';
import { updateDotEnvFile, type DotEnvUpdate } from './dotenv-update.ts';
import { buildAppManifest, manifestFormAction, type ManifestOptions } from './manifest.ts';

/** The default API base, and the one `GITHUB_API_URL` defaults to. */
export const GITHUB_API = 'https://api.github.com';

/**
 * GitHub's web base URL for a REST API base, where the manifest form is posted (GitHub docs, "REST
 * API endpoints"): `https://api.github.com` → `https://github.com`, GHE.com's
 * `https://api.SUBDOMAIN.ghe.com` → `https://SUBDOMAIN.ghe.com`, a GitHub Enterprise Server's
 * `https://HOST/api/v3` → `https://HOST`; any other URL → its origin.
 *
 * @throws {TypeError} when `apiUrl` is not a URL
 */
export function webUrlFor(apiUrl: string): string {
  const url = new URL(apiUrl);
  if (url.hostname === 'api.github.com' || url.hostname.endsWith('.ghe.com')) return `${url.protocol}//${url.host.replace(/^api\./, '')}`;
  return url.origin;
}

/** Options of {@link createGithubAppSetup}. */
export interface GithubAppSetupOptions {
  /** GitHub's web base URL: `https://github.com`, or a GitHub Enterprise Server's `https://HOST`. */
  githubUrl: string;
  /** GitHub's REST API base: `https://api.github.com`, or GHES `https://HOST/api/v3`. */
  apiUrl: string;
  /** Create the App under this organisation (the user must be one of its owners); unset = the user's account. */
  org?: string;
  /**
   * The App: its name, webhook URL, homepage, public or not (the redirect is this app's
   * `/callback`). Unset = no `GET /` route: the host asks for the App in its own form and answers
   * with {@link GithubAppSetup.manifestPage} (the console does).
   */
  app?: AppChoice;
  /** The dotenv file the App id, key and webhook secret are written to. */
  envFile: string;
  /**
   * Where GitHub sends the browser back; default: `/callback` beside the page the browser loaded
   * (set it when this app is mounted behind a proxy that changes the host).
   */
  callbackUrl?: string;
  /** ms a page's `state` stays valid; default 3,600,000 (GitHub's manifest codes expire after one hour). */
  stateTtlMs?: number;
  /** Who wrote the file, in the comment above the appended lines; default `pitcrew github-app create`. */
  writtenBy?: string;
  /**
   * Renders a page (status 200, 400, 500 or 502 is set by the caller) from its title and body;
   * default a bare HTML page. The console renders its own layout.
   */
  renderPage?: (c: Context, title: string, body: HtmlEscapedString | Promise<HtmlEscapedString>) => HtmlEscapedString | Promise<HtmlEscapedString>;
  /** Called once per App created, after `.env` was written. */
  onCreated?: (created: CreatedApp) => void;
  /** Called when a callback is refused or its exchange fails, with the reason shown to the browser. */
  onRefused?: (reason: string) => void;
  /** Called when the App was created but `envFile` could not be written, with what to do by hand. */
  onUnwritten?: (reason: string) => void;
}

/** What the manifest asks GitHub for: the App's name, webhook URL, homepage, public or not. */
export type AppChoice = Omit<ManifestOptions, 'redirectUrl'>;

/** What {@link createGithubAppSetup} returns. */
export interface GithubAppSetup {
  /** `GET /` (when `options.app` is set) and `GET /callback`, to mount with `parent.route(path, app)`. */
  app: Hono;
  /**
   * The page that sends `choice`'s manifest to GitHub for `org` (unset = `options.org`): a fresh
   * single-use `state` is handed out with it, the redirect is `callbackUrl` or `/callback` beside
   * the request's path. Answer it only to a request the host trusts (the console: a signed-in
   * operator's CSRF-checked form), since its `state` is what lets GitHub's redirect in.
   *
   * @throws {TypeError} when a URL of `choice` is not a URL
   */
  manifestPage(c: Context, choice: AppChoice, org?: string): Promise<Response>;
}

/** An App created by the manifest flow, as written to `.env`. */
export interface CreatedApp {
  id: number;
  slug: string;
  name: string;
  /** `https://github.com/apps/<slug>`. */
  htmlUrl: string;
  /** Where the App is installed on repositories: `<htmlUrl>/installations/new`. */
  installUrl: string;
  owner: string;
  /** The variables written (values not repeated here: the key and the secret are secrets). */
  written: string[];
  envFile: DotEnvUpdate;
}

/**
 * GitHub's App manifest flow as a Hono app (GitHub docs, "Registering a GitHub App from a
 * manifest"), mountable in any Hono server (`parent.route('/github-app', setup.app)`):
 * - `GET /` (with `options.app`; else the host's own route answers with `manifestPage`) answers
 *   a page whose form POSTs `manifest` ({@link buildAppManifest}) to
 *   `{githubUrl}/settings/apps/new?state=…` (or the organisation's), submitted by a script as soon
 *   as it loads (a button for browsers without scripts); each page gets a fresh random `state`,
 *   valid once, for `stateTtlMs`, in this process's memory (a restart forgets it).
 * - `GET /callback?code=…&state=…` (GitHub's redirect once the user confirmed) refuses (400) a
 *   missing code or a state this app did not hand out, has expired or was used; otherwise exchanges
 *   the code with `POST /app-manifests/{code}/conversions` (no authentication; the code converts
 *   once, within an hour) and writes `GITHUB_APP_ID`, `GITHUB_APP_PRIVATE_KEY` (the PEM) and
 *   `GITHUB_WEBHOOK_SECRET` — and `GITHUB_API_URL` when it is not api.github.com — to `envFile`
 *   with {@link updateDotEnvFile} (other lines kept, previous file backed up). A failed exchange
 *   answers 502 with GitHub's message; nothing is written. A file that cannot be written answers
 *   500 saying how to finish by hand (the App exists on GitHub by then; its key is not shown).
 *
 * It serves no credential: the page holds only the manifest, the result page the App's id and URLs.
 */
export function createGithubAppSetup(options: GithubAppSetupOptions): GithubAppSetup {
  const ttlMs = options.stateTtlMs ?? 3_600_000;
  const states = new Map<string, number>();
  const app = new Hono();
  const page = (c: Context, title: string, body: HtmlEscapedString | Promise<HtmlEscapedString>) => (options.renderPage ?? barePage)(c, title, body);

  async function manifestPage(c: Context, choice: AppChoice, org = options.org): Promise<Response> {
    const callbackUrl = options.callbackUrl ?? new URL(`${c.req.path.replace(/\/$/, '')}/callback`, c.req.url).toString();
    const manifest = buildAppManifest({ ...choice, redirectUrl: callbackUrl });
    const now = Date.now();
    for (const [issued, at] of states) if (now - at > ttlMs) states.delete(issued);
    const state = randomBytes(16).toString('hex');
    states.set(state, now);
    const action = manifestFormAction(options.githubUrl, state, org);
    return c.html(
      await page(
        c,
        'Create the pitcrew GitHub App',
        html`<p>Sending the App's manifest to GitHub (${org ? `organisation ${org}` : 'your account'}), where you confirm it…</p>
          <form id="manifest" method="post" action="${action}">
            <input type="hidden" name="manifest" value="${JSON.stringify(manifest)}" />
            <button type="submit">Create the App on GitHub</button>
          </form>
          <h2>What it asks for</h2>
          <p>Permissions: ${Object.entries(manifest.default_permissions).map(([k, v]) => `${k}: ${v}`).join(', ')}.</p>
          <p>Events: ${manifest.default_events.join(', ')}. Webhook: ${manifest.hook_attributes.url}.</p>
          <script>
            document.getElementById('manifest').submit();
          </script>`,
      ),
    );
  }

  const fixed = options.app;
  if (fixed) app.get('/', (c) => manifestPage(c, fixed));

  app.get('/callback', async (c) => {
    const code = c.req.query('code');
    const state = c.req.query('state');
    const refuse = async (status: 400 | 502, reason: string) => {
      options.onRefused?.(reason);
      return c.html(await page(c, 'GitHub App not created', html`<p>${reason}</p><p><a href="./">Start again</a></p>`), status);
    };
    const issued = state ? states.get(state) : undefined;
    if (!code || !state || issued === undefined || Date.now() - issued > ttlMs) {
      return refuse(400, 'refused: this redirect does not carry a state this page handed out (or it expired, or was used); no code was exchanged');
    }
    states.delete(state);
    let data;
    try {
      ({ data } = await request('POST /app-manifests/{code}/conversions', { code, baseUrl: options.apiUrl.replace(/\/+$/, ''), headers: { 'user-agent': 'pitcrew' } }));
    } catch (error) {
      const detail = error instanceof RequestError ? `GitHub answered ${error.status}: ${error.message}` : String(error);
      return refuse(502, `the code exchange failed (${detail}); codes convert once, within an hour. Nothing was written.`);
    }
    if (!data.pem || !data.webhook_secret) return refuse(502, 'GitHub returned the App without its private key or webhook secret; nothing was written');
    const values: Record<string, string> = {
      GITHUB_APP_ID: String(data.id),
      GITHUB_APP_PRIVATE_KEY: data.pem,
      GITHUB_WEBHOOK_SECRET: data.webhook_secret,
      ...(options.apiUrl.replace(/\/+$/, '') !== GITHUB_API ? { GITHUB_API_URL: options.apiUrl } : {}),
    };
    const htmlUrl = data.html_url;
    let envFile: DotEnvUpdate;
    try {
      envFile = updateDotEnvFile(options.envFile, values, `GitHub App ${data.slug ?? data.id} (${options.writtenBy ?? 'pitcrew github-app create'}, ${new Date().toISOString()})`);
    } catch (error) {
      // The App exists on GitHub now; its key was shown only in this answer. Say how to recover, never the key.
      const reason = `the App ${data.name} (id ${data.id}) was created on GitHub, but ${options.envFile} could not be written (${(error as Error).message}): generate a private key on the App's settings page (${htmlUrl}, then App settings) and set GITHUB_APP_ID=${data.id}, GITHUB_APP_PRIVATE_KEY and GITHUB_WEBHOOK_SECRET by hand, or delete the App and run this again`;
      options.onUnwritten?.(reason);
      return c.html(await page(c, 'GitHub App created, .env not written', html`<p>${reason}</p>`), 500);
    }
    const created: CreatedApp = {
      id: data.id,
      slug: data.slug ?? String(data.id),
      name: data.name,
      htmlUrl,
      installUrl: `${htmlUrl}/installations/new`,
      owner: data.owner && 'login' in data.owner ? data.owner.login : '',
      written: Object.keys(values),
      envFile,
    };
    options.onCreated?.(created);
    return c.html(
      await page(
        c,
        `GitHub App ${created.name} created`,
        html`<p>App <a href="${htmlUrl}">${created.name}</a> (id ${created.id}) is registered${created.owner ? ` under ${created.owner}` : ''}.</p>
          <p>${envFile.path}: ${created.written.join(', ')} written${envFile.backup ? ` (previous file kept as ${envFile.backup})` : ''}.</p>
          <p>Next: <a href="${created.installUrl}">install the App on your repositories</a>, then restart ingest and the workers (they read the file at start).</p>`,
      ),
    );
  });

  return { app, manifestPage };
}

function barePage(_c: Context, title: string, body: HtmlEscapedString | Promise<HtmlEscapedString>) {
  return html`<!doctype html>
    <html lang="en">
      <head>
        <meta charset="utf-8" />
        <title>${title}</title>
      </head>
      <body>
        <h1>${title}</h1>
        ${body}
      </body>
    </html>`;
}
