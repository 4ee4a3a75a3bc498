import { createPrivateKey } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { mkdir, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseEnv as parseDotenv } from 'node:util';
import { chromium } from 'playwright-core';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { parseEnv } from '@pitcrew/core';
import { IngestEnv } from '@pitcrew/ingest';
import { createTestDatabase, testPrefix, type TestDatabase } from '@pitcrew/testkit';
import { startFakeGithub, type FakeGithub } from '@pitcrew/testkit/fake-github';
import { WorkerEnv } from '@pitcrew/worker';
import { startConsole, type ConsoleHandle } from '../main.ts';
import { APP_EVENTS, APP_PERMISSIONS } from './manifest.ts';

/**
 * The console's GitHub App page against the fake GitHub, served by a real console (`startConsole`
 * over the harness's Redis and Postgres): the form behind the sign-in, the manifest sent to the
 * fake GitHub, its redirect back (without the session cookie, as a browser sends none on a
 * cross-site redirect) writing the console's env file.
 */
const ADMIN_TOKEN = 'github-app-page-token-0123456789';
const WEBHOOK_URL = 'https://ingest.example.com/webhooks/github';
const CHROMIUM = '/usr/bin/chromium';
/** Where the screenshot is kept, beside the pages' (pages.browser.int.test.ts). */
const SCREENSHOT_DIR = resolve(import.meta.dirname, '../../../../test-output/console');
const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

let github: FakeGithub;
let tdb: TestDatabase;
let dir: string;
let envFile: string;
let consoleApp: ConsoleHandle;
let base: string;

beforeAll(async () => {
  // GitHub's own confirmation page in between, as on github.com: the redirect back then leaves GitHub's page.
  github = await startFakeGithub({ confirmApps: true });
  tdb = await createTestDatabase();
  dir = mkdtempSync(join(tmpdir(), 'pitcrew-console-github-app-'));
  envFile = join(dir, '.env');
  consoleApp = await startConsole(
    {
      REDIS_URL: inject('redisUrl'),
      DATABASE_URL: tdb.url,
      PITCREW_QUEUE_PREFIX: testPrefix(),
      PITCREW_ADMIN_TOKEN: ADMIN_TOKEN,
      PITCREW_CONSOLE_PORT: '0',
      PITCREW_CONSOLE_HOST: '127.0.0.1',
      GITHUB_API_URL: github.url,
      PITCREW_CONSOLE_ENV_FILE: envFile,
      PITCREW_INGEST_PUBLIC_URL: 'https://ingest.example.com',
    },
    { logger: pino({ level: 'silent' }) },
  );
  base = consoleApp.url;
}, 60_000);

afterAll(async () => {
  await consoleApp?.close();
  await github?.stop();
  await tdb?.destroy();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const unescape = (s: string) => s.replaceAll('&quot;', '"').replaceAll('&#39;', "'").replaceAll('&lt;', '<').replaceAll('&gt;', '>').replaceAll('&amp;', '&');

/** Signs in as the login form does; @returns the session cookie. */
async function signIn(): Promise<string> {
  const res = await fetch(`${base}/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', origin: base },
    body: new URLSearchParams({ token: ADMIN_TOKEN, next: '/github-app' }),
    redirect: 'manual',
  });
  expect(res.status).toBe(303);
  return (res.headers.get('set-cookie') ?? '').split(';')[0]!;
}

/** The signed-in form page: its HTML and its CSRF token. */
async function formPage(cookie: string): Promise<{ html: string; csrf: string }> {
  const res = await fetch(`${base}/github-app`, { headers: { cookie }, redirect: 'manual' });
  expect(res.status).toBe(200);
  const html = await res.text();
  return { html, csrf: /name="_csrf" value="([^"]+)"/.exec(html)![1]! };
}

/** Posts the form as the browser would (same origin, the CSRF field). */
function postForm(cookie: string, fields: Record<string, string>) {
  return fetch(`${base}/github-app`, {
    method: 'POST',
    headers: { cookie, origin: base, 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams(fields),
    redirect: 'manual',
  });
}

/** The manifest page's form: where it posts and the manifest it carries. */
function manifestForm(html: string): { action: string; manifest: any } {
  const action = /<form id="manifest" method="post" action="([^"]+)"/.exec(html)?.[1];
  const manifest = /<input type="hidden" name="manifest" value="([^"]+)"/.exec(html)?.[1];
  expect(html).toContain("document.getElementById('manifest').submit()");
  return { action: unescape(action!), manifest: JSON.parse(unescape(manifest!)) };
}

/** The browser submitting the manifest to the fake GitHub, and the user confirming the App on its page: GitHub's redirect back. */
async function submitToGithub(action: string, manifest: unknown): Promise<URL> {
  const res = await fetch(action, { method: 'POST', body: new URLSearchParams({ manifest: JSON.stringify(manifest) }), redirect: 'manual' });
  expect(res.status).toBe(200);
  const confirm = /<form method="post" action="([^"]+)">/.exec(await res.text())![1]!;
  const confirmed = await fetch(new URL(confirm, action), { method: 'POST', redirect: 'manual' });
  expect(confirmed.status).toBe(302);
  return new URL(confirmed.headers.get('location')!);
}

describe('the console GitHub App page', () => {
  it('sends a browser without a session to /login, and GitHub App is in the navigation', async () => {
    const res = await fetch(`${base}/github-app`, { redirect: 'manual' });
    expect(res.status).toBe(302);
    expect(res.headers.get('location')).toBe('/login?next=%2Fgithub-app');
    // Only the callback is open: any other path under /github-app wants a session.
    const other = await fetch(`${base}/github-app/anything`, { redirect: 'manual' });
    expect(other.status).toBe(302);
    const post = await fetch(`${base}/github-app`, { method: 'POST', headers: { origin: base, 'content-type': 'application/x-www-form-urlencoded' }, body: 'name=x', redirect: 'manual' });
    expect(post.status).toBe(401);

    const cookie = await signIn();
    const { html } = await formPage(cookie);
    expect(html).toContain('<a href="/github-app" aria-current="page">GitHub App</a>');
    const failures = await (await fetch(`${base}/failures`, { headers: { cookie } })).text();
    expect(failures).toContain('<a href="/github-app">GitHub App</a>');
  });

  it('serves the form, refuses a bad field and a missing CSRF token, sends the manifest, and the callback writes .env', async () => {
    writeFileSync(envFile, '# the operator\'s\nLOG_LEVEL=debug\nGITHUB_WEBHOOK_SECRET=the-old-secret\n');
    const cookie = await signIn();
    const { html, csrf } = await formPage(cookie);
    expect(html).toContain(`value="${WEBHOOK_URL}"`);
    expect(html).toContain(envFile);
    expect(html).toMatch(/<label for="webhook_url">/);

    const noCsrf = await postForm(cookie, { name: 'pitcrew-console', org: '', webhook_url: WEBHOOK_URL });
    expect(noCsrf.status).toBe(403);
    expect(await noCsrf.json()).toMatchObject({ error: 'csrf' });

    const bad = await postForm(cookie, { _csrf: csrf, name: 'pitcrew-console', org: 'not an org', webhook_url: 'ftp://x' });
    expect(bad.status).toBe(400);
    const badHtml = await bad.text();
    expect(badHtml).toContain('Not sent to GitHub: org: an organisation login');
    expect(badHtml).toContain('webhook_url: the webhook URL must be an http(s) URL');
    expect(github.requests.filter((r) => r.path.includes('/settings/apps/new'))).toEqual([]);

    const sent = await postForm(cookie, { _csrf: csrf, name: 'pitcrew-console', org: '', webhook_url: WEBHOOK_URL });
    expect(sent.status).toBe(200);
    const { action, manifest } = manifestForm(await sent.text());
    const state = new URL(action).searchParams.get('state')!;
    expect(action).toBe(`${github.url}/settings/apps/new?state=${state}`);
    expect(manifest).toEqual({
      name: 'pitcrew-console',
      url: 'https://ingest.example.com',
      description: expect.any(String),
      hook_attributes: { url: WEBHOOK_URL, active: true },
      redirect_url: `${base}/github-app/callback`,
      public: false,
      default_permissions: APP_PERMISSIONS,
      default_events: [...APP_EVENTS],
    });

    const callback = await submitToGithub(action, manifest);
    expect(`${callback.origin}${callback.pathname}`).toBe(`${base}/github-app/callback`);
    const code = callback.searchParams.get('code')!;
    const app = github.apps.get(code)!;

    // A forged state with the real code: refused, the code not exchanged, nothing written.
    const forged = new URL(callback);
    forged.searchParams.set('state', 'f'.repeat(32));
    const refused = await fetch(forged, { redirect: 'manual' });
    expect(refused.status).toBe(400);
    expect(await refused.text()).toContain('no code was exchanged');
    expect(app.converted).toBe(false);
    expect(readFileSync(envFile, 'utf8')).toContain('GITHUB_WEBHOOK_SECRET=the-old-secret');

    // GitHub's redirect: no session cookie (a cross-site navigation), only the issued state.
    const done = await fetch(callback, { redirect: 'manual' });
    expect(done.status).toBe(200);
    const page = await done.text();
    expect(page).toContain('GitHub App pitcrew-console created');
    expect(page).toContain(`${app.response.html_url}/installations/new`);
    expect(page).toContain('<a href="/github-app" aria-current="page">GitHub App</a>');
    expect(page).not.toContain('PRIVATE KEY');
    expect(page).not.toContain(app.response.webhook_secret);
    expect(app.converted).toBe(true);

    const text = readFileSync(envFile, 'utf8');
    expect(text).toMatch(/^# the operator's\nLOG_LEVEL=debug\nGITHUB_WEBHOOK_SECRET=[0-9a-f]{40}\n\n# GitHub App pitcrew-console \(pitcrew console, /);
    expect(statSync(envFile).mode & 0o777).toBe(0o600);
    const dotenv = parseDotenv(text);
    const databases = { REDIS_URL: 'redis://127.0.0.1:6379', DATABASE_URL: 'postgres://u:p@127.0.0.1/db' };
    const worker = parseEnv(WorkerEnv, { ...dotenv, ...databases });
    expect(worker).toMatchObject({ GITHUB_APP_ID: String(app.response.id), GITHUB_APP_PRIVATE_KEY: app.response.pem, GITHUB_API_URL: github.url });
    expect(createPrivateKey(worker.GITHUB_APP_PRIVATE_KEY!).asymmetricKeyType).toBe('rsa');
    expect(parseEnv(IngestEnv, { ...dotenv, ...databases }).GITHUB_WEBHOOK_SECRET).toEqual([app.response.webhook_secret]);

    // The state was single-use: GitHub's redirect replayed is refused.
    const again = await fetch(callback, { redirect: 'manual' });
    expect(again.status).toBe(400);
  });

  it('creates an organisation App', async () => {
    const cookie = await signIn();
    const { csrf } = await formPage(cookie);
    const sent = await postForm(cookie, { _csrf: csrf, name: 'pitcrew-org', org: 'octo-org', webhook_url: WEBHOOK_URL });
    const { action, manifest } = manifestForm(await sent.text());
    expect(new URL(action).pathname).toBe('/organizations/octo-org/settings/apps/new');
    const callback = await submitToGithub(action, manifest);
    const done = await fetch(callback, { redirect: 'manual' });
    expect(done.status).toBe(200);
    expect(await done.text()).toContain('under octo-org');
    expect(parseDotenv(readFileSync(envFile, 'utf8')).GITHUB_APP_ID).toBe(String(github.apps.get(callback.searchParams.get('code')!)!.response.id));
  });
});

describe.skipIf(!existsSync(CHROMIUM))('the GitHub App page in headless Chromium', () => {
  it('signs in, sends the form, goes through the fake GitHub and comes back to the success page', async () => {
    rmSync(envFile, { force: true });
    const profile = mkdtempSync(join(tmpdir(), 'pitcrew-chromium-'));
    const context = await chromium.launchPersistentContext(profile, { executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS, viewport: { width: 1280, height: 900 } });
    try {
      const page = await context.newPage();
      const errors: string[] = [];
      page.on('console', (message) => {
        if (message.type() === 'error') errors.push(message.text());
      });
      page.on('pageerror', (error) => errors.push(error.message));
      // The console as `localhost`, the fake GitHub as 127.0.0.1: two sites, so GitHub's redirect
      // back, from GitHub's confirmation page, is a cross-site navigation that carries no
      // SameSite=Strict cookie, as in production.
      const consoleBase = base.replace('127.0.0.1', 'localhost');
      await page.goto(`${consoleBase}/github-app`);
      await page.waitForURL(/\/login/);
      await page.getByLabel('Admin token').fill(ADMIN_TOKEN);
      await Promise.all([page.waitForURL(/\/github-app$/), page.keyboard.press('Enter')]);
      await page.getByLabel('App name').fill('pitcrew-browser');
      await expect(page.getByLabel('Webhook URL (ingest\'s /webhooks/github)').inputValue()).resolves.toBe(WEBHOOK_URL);
      await Promise.all([page.waitForURL(/\/settings\/apps\/new\?state=/), page.getByRole('button', { name: 'Create on GitHub' }).click()]);
      await Promise.all([page.waitForURL(/\/github-app\/callback\?/), page.getByRole('button', { name: 'Create GitHub App for pitcrew-user' }).click()]);
      await expect(page.locator('h1').innerText()).resolves.toBe('GitHub App pitcrew-browser created');
      const app = [...github.apps.values()].find((a) => a.manifest.name === 'pitcrew-browser')!;
      expect(app.converted).toBe(true);
      expect(app.manifest.redirect_url).toBe(`${consoleBase}/github-app/callback`);
      expect(parseDotenv(readFileSync(envFile, 'utf8')).GITHUB_APP_ID).toBe(String(app.response.id));
      await mkdir(SCREENSHOT_DIR, { recursive: true });
      const file = join(SCREENSHOT_DIR, 'github-app.png');
      await page.screenshot({ path: file, fullPage: true });
      expect((await readFile(file)).subarray(1, 4).toString()).toBe('PNG');
      expect(errors).toEqual([]);
    } finally {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
    }
  }, 120_000);
});
