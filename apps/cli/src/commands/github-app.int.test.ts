import { spawn } from 'node:child_process';
import { createPrivateKey } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseEnv as parseDotenv } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseEnv } from '@pitcrew/core';
import { IngestEnv } from '@pitcrew/ingest';
import { WorkerEnv } from '@pitcrew/worker';
import { startFakeGithub, type FakeGithub } from '@pitcrew/testkit/fake-github';
import { runGithubAppCreate } from './github-app.ts';
import { APP_EVENTS, APP_PERMISSIONS } from '@pitcrew/console';

const BIN = fileURLToPath(new URL('../../bin/pitcrew.mjs', import.meta.url));
const WEBHOOK_URL = 'https://pitcrew.example.com/webhooks/github';
let github: FakeGithub;
let dir: string;

beforeAll(async () => {
  github = await startFakeGithub();
  dir = mkdtempSync(join(tmpdir(), 'pitcrew-github-app-'));
});
afterAll(async () => {
  await github.stop();
  rmSync(dir, { recursive: true, force: true });
});

const unescape = (s: string) => s.replaceAll('&quot;', '"').replaceAll('&#39;', "'").replaceAll('&lt;', '<').replaceAll('&gt;', '>').replaceAll('&amp;', '&');

/** What a browser finds on the local page: the form's action and its hidden `manifest`. */
async function loadPage(pageUrl: string): Promise<{ action: string; manifest: any; html: string }> {
  const res = await fetch(pageUrl);
  expect(res.status).toBe(200);
  const html = await res.text();
  const action = /<form id="manifest" method="post" action="([^"]+)"/.exec(html)?.[1];
  const manifest = /<input type="hidden" name="manifest" value="([^"]+)"/.exec(html)?.[1];
  expect(html).toContain("document.getElementById('manifest').submit()");
  return { action: unescape(action!), manifest: JSON.parse(unescape(manifest!)), html };
}

/** The browser submitting the form: GitHub's answer is a redirect to the manifest's `redirect_url` with `code` and `state`. */
async function submitForm(action: string, manifest: unknown): Promise<URL> {
  const res = await fetch(action, { method: 'POST', body: new URLSearchParams({ manifest: JSON.stringify(manifest) }), redirect: 'manual' });
  expect(res.status).toBe(302);
  return new URL(res.headers.get('location')!);
}

describe('pitcrew github-app create', () => {
  it('serves the manifest form, refuses a wrong state, exchanges the code and writes the App to .env in place', async () => {
    const cwd = join(dir, 'spawned');
    rmSync(cwd, { recursive: true, force: true });
    mkdirSync(cwd);
    writeFileSync(join(cwd, '.env'), '# mine\nLOG_LEVEL=debug\nGITHUB_WEBHOOK_SECRET=the-old-secret\n');
    const child = spawn(process.execPath, [BIN, 'github-app', 'create', '--webhook-url', WEBHOOK_URL, '--name', 'pitcrew-test', '--github-url', github.url, '--api-url', github.url], { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stderr.on('data', (c: Buffer) => (stderr += c));
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    const pageUrl = await new Promise<string>((resolve, reject) => {
      child.stdout.on('data', (c: Buffer) => {
        stdout += c;
        const m = /open (http:\/\/127\.0\.0\.1:\d+\/) in a browser/.exec(stdout);
        if (m) resolve(m[1]!);
      });
      void exited.then((code) => reject(new Error(`exited ${code} before serving: ${stdout}${stderr}`)));
    });

    const { action, manifest, html } = await loadPage(pageUrl);
    const state = new URL(action).searchParams.get('state');
    expect(action).toBe(`${github.url}/settings/apps/new?state=${state}`);
    expect(state).toMatch(/^[0-9a-f]{32}$/);
    expect(html).toContain('Permissions: checks: write, actions: write, contents: write, pull_requests: write, issues: write, metadata: read.');
    expect(manifest).toEqual({
      name: 'pitcrew-test',
      url: 'https://pitcrew.example.com',
      description: expect.any(String),
      hook_attributes: { url: WEBHOOK_URL, active: true },
      redirect_url: `${pageUrl}callback`,
      public: false,
      default_permissions: APP_PERMISSIONS,
      default_events: [...APP_EVENTS],
    });
    expect(manifest.default_events).toEqual(['check_run', 'check_suite', 'workflow_job', 'workflow_run', 'pull_request', 'issue_comment', 'push']);

    const callback = await submitForm(action, manifest);
    expect(`${callback.origin}${callback.pathname}`).toBe(`${pageUrl}callback`);
    expect(callback.searchParams.get('state')).toBe(state);
    const code = callback.searchParams.get('code')!;
    const app = github.apps.get(code)!;
    expect(app).toMatchObject({ org: null, state, converted: false });

    // A redirect with the right code but another state (a forged link) is refused, the code kept.
    const forged = new URL(callback);
    forged.searchParams.set('state', 'f'.repeat(32));
    const refused = await fetch(forged);
    expect(refused.status).toBe(400);
    expect(await refused.text()).toContain('no code was exchanged');
    expect(app.converted).toBe(false);
    expect(github.requests.filter((r) => r.path.startsWith('/app-manifests/'))).toEqual([]);

    const done = await fetch(callback);
    expect(done.status).toBe(200);
    expect(await done.text()).toContain(`${app.response.html_url}/installations/new`);
    expect(await exited).toBe(0);
    expect(app.converted).toBe(true);
    expect(stdout).toContain('callback: refused: this redirect does not carry a state this page handed out');
    expect(stdout).toContain(`created App pitcrew-test (id ${app.response.id}, owner pitcrew-user): https://github.com/apps/pitcrew-test`);
    expect(stdout).toContain('updated GITHUB_WEBHOOK_SECRET; added GITHUB_APP_ID, GITHUB_APP_PRIVATE_KEY, GITHUB_API_URL');

    const text = readFileSync(join(cwd, '.env'), 'utf8');
    expect(text.startsWith(`# mine\nLOG_LEVEL=debug\nGITHUB_WEBHOOK_SECRET=${app.response.webhook_secret}\n\n# GitHub App pitcrew-test`)).toBe(true);
    const dotenv = parseDotenv(text);
    const databases = { REDIS_URL: 'redis://127.0.0.1:6379', DATABASE_URL: 'postgres://u:p@127.0.0.1/db' };
    const worker = parseEnv(WorkerEnv, { ...dotenv, ...databases });
    expect(worker).toMatchObject({ GITHUB_APP_ID: String(app.response.id), GITHUB_APP_PRIVATE_KEY: app.response.pem, GITHUB_API_URL: github.url, LOG_LEVEL: 'debug' });
    expect(createPrivateKey(worker.GITHUB_APP_PRIVATE_KEY!).asymmetricKeyType).toBe('rsa');
    expect(parseEnv(IngestEnv, { ...dotenv, ...databases }).GITHUB_WEBHOOK_SECRET).toEqual([app.response.webhook_secret]);
    const backups = readdirSync(cwd).filter((f) => f.startsWith('.env.bak-'));
    expect(backups.map((f) => readFileSync(join(cwd, f), 'utf8'))).toEqual(['# mine\nLOG_LEVEL=debug\nGITHUB_WEBHOOK_SECRET=the-old-secret\n']);
  }, 60_000);

  it('creates an organisation App; a failed code exchange writes nothing and a used state is refused', async () => {
    const envFile = join(dir, 'org.env');
    const lines: string[] = [];
    let pageUrl = '';
    const said = (line: string) => {
      lines.push(line);
      pageUrl ||= /open (http:\/\/127\.0\.0\.1:\d+\/)/.exec(line)?.[1] ?? '';
    };
    const run = runGithubAppCreate({ webhookUrl: WEBHOOK_URL, name: 'pitcrew-org', org: 'octo-org', public: true, envFile, githubUrl: github.url, apiUrl: github.url, timeout: 60_000 }, said);
    await expect.poll(() => pageUrl).not.toBe('');

    // A state this page handed out, but a code GitHub does not know: 502, nothing written.
    const first = await loadPage(pageUrl);
    const badCode = new URL(`${pageUrl}callback`);
    badCode.searchParams.set('code', 'not-a-code');
    badCode.searchParams.set('state', new URL(first.action).searchParams.get('state')!);
    const failed = await fetch(badCode);
    expect(failed.status).toBe(502);
    expect(await failed.text()).toContain('GitHub answered 404');
    expect(existsSync(envFile)).toBe(false);
    // That state was used: the same redirect again is refused before any exchange.
    const conversions = github.requests.filter((r) => r.path.startsWith('/app-manifests/')).length;
    expect((await fetch(badCode)).status).toBe(400);
    expect(github.requests.filter((r) => r.path.startsWith('/app-manifests/')).length).toBe(conversions);

    const { action, manifest } = await loadPage(pageUrl);
    expect(action).toMatch(new RegExp(`^${github.url}/organizations/octo-org/settings/apps/new\\?state=[0-9a-f]{32}$`));
    expect(manifest.public).toBe(true);
    const callback = await submitForm(action, manifest);
    expect((await fetch(callback)).status).toBe(200);
    expect(await run).toBe(0);
    const app = github.apps.get(callback.searchParams.get('code')!)!;
    expect(app.response.owner).toMatchObject({ login: 'octo-org', type: 'Organization' });
    expect(parseDotenv(readFileSync(envFile, 'utf8'))).toMatchObject({ GITHUB_APP_ID: String(app.response.id), GITHUB_WEBHOOK_SECRET: app.response.webhook_secret });
    expect(lines.some((l) => l.includes('previous file'))).toBe(false);
  });

  it('ends with exit code 1 and says what to do by hand when the App is created but .env cannot be written', async () => {
    const envFile = join(dir, 'no-such-directory', '.env');
    const lines: string[] = [];
    let pageUrl = '';
    const run = runGithubAppCreate({ webhookUrl: WEBHOOK_URL, name: 'pitcrew-unwritten', public: false, envFile, githubUrl: github.url, apiUrl: github.url, timeout: 60_000 }, (line) => {
      lines.push(line);
      pageUrl ||= /open (http:\/\/127\.0\.0\.1:\d+\/)/.exec(line)?.[1] ?? '';
    });
    await expect.poll(() => pageUrl).not.toBe('');
    const { action, manifest } = await loadPage(pageUrl);
    const answer = await fetch(await submitForm(action, manifest));
    expect(answer.status).toBe(500);
    const text = await answer.text();
    expect(await run).toBe(1);
    const app = [...github.apps.values()].find((a) => a.response.name === 'pitcrew-unwritten')!;
    expect(lines.at(-1)).toContain(`the App pitcrew-unwritten (id ${app.response.id}) was created on GitHub, but ${envFile} could not be written`);
    expect(text).toContain('GITHUB_APP_PRIVATE_KEY and GITHUB_WEBHOOK_SECRET by hand');
    expect(text).not.toContain('PRIVATE KEY-----');
  });

  it('gives up with exit code 1 and an unchanged file when no redirect comes', async () => {
    const envFile = join(dir, 'never.env');
    const lines: string[] = [];
    expect(await runGithubAppCreate({ webhookUrl: WEBHOOK_URL, name: 'x', public: false, envFile, githubUrl: github.url, apiUrl: github.url, timeout: 50 }, (l) => lines.push(l))).toBe(1);
    expect(lines.at(-1)).toBe(`no App created within 0 s; ${envFile} is unchanged`);
    expect(existsSync(envFile)).toBe(false);
  });
});
