import { resolve } from 'node:path';
import { serve } from '@hono/node-server';
import { createGithubAppSetup, GITHUB_API, type CreatedApp } from '@pitcrew/console';

/** Options of `pitcrew github-app create`. */
export interface GithubAppCreateOptions {
  webhookUrl: string;
  name: string;
  org?: string;
  homepageUrl?: string;
  public: boolean;
  envFile: string;
  githubUrl: string;
  apiUrl?: string;
  /** Port of the local page on 127.0.0.1; unset = a free port. */
  port?: number;
  /** ms to wait for GitHub's redirect. */
  timeout: number;
}

/**
 * The API base for a web base: `https://github.com` → `https://api.github.com`; a GitHub
 * Enterprise Server `https://HOST` → `https://HOST/api/v3` (GitHub docs, "REST API endpoints").
 */
export function apiUrlFor(githubUrl: string): string {
  const url = new URL(githubUrl);
  return url.hostname === 'github.com' ? GITHUB_API : `${url.origin}/api/v3`;
}

/**
 * `pitcrew github-app create`: serves {@link createGithubAppSetup} on 127.0.0.1, prints the page
 * to open, and waits until GitHub's redirect has been exchanged and the App written to `.env`
 * (refused redirects are printed and waited past), the App was created but `.env` could not be
 * written, or `timeout` ms passed.
 *
 * @returns the exit code: 0 once the App is created and written, else 1
 */
export async function runGithubAppCreate(options: GithubAppCreateOptions, say: (line: string) => void = console.log): Promise<number> {
  const envFile = resolve(options.envFile);
  // The App, or why the command ends without one: a time-out, or an App whose .env could not be written.
  let done: (created: CreatedApp | string) => void = () => {};
  const finished = new Promise<CreatedApp | string>((resolveDone) => (done = resolveDone));
  const setup = createGithubAppSetup({
    githubUrl: options.githubUrl,
    apiUrl: options.apiUrl ?? apiUrlFor(options.githubUrl),
    ...(options.org ? { org: options.org } : {}),
    app: {
      name: options.name,
      webhookUrl: options.webhookUrl,
      public: options.public,
      ...(options.homepageUrl ? { homepageUrl: options.homepageUrl } : {}),
    },
    envFile,
    onCreated: (created) => done(created),
    onRefused: (reason) => say(`callback: ${reason}`),
    onUnwritten: (reason) => done(reason),
  });
  const server = await new Promise<ReturnType<typeof serve>>((resolveServer) => {
    const s = serve({ fetch: setup.app.fetch, hostname: '127.0.0.1', port: options.port ?? 0 }, () => resolveServer(s));
  });
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : options.port;
  const timer = setTimeout(() => done(`no App created within ${Math.round(options.timeout / 1000)} s; ${envFile} is unchanged`), options.timeout);
  try {
    const where = options.org ? `organisation ${options.org}` : 'your account';
    say(`open http://127.0.0.1:${port}/ in a browser on this machine (over SSH: ssh -L ${port}:127.0.0.1:${port} this-host)`);
    say(`  it sends the App's manifest to ${options.githubUrl.replace(/\/+$/, '')} for ${where}; confirm the App there and GitHub sends you back here`);
    say(`waiting up to ${Math.round(options.timeout / 1000)} s for GitHub's redirect`);
    const created = await finished;
    if (typeof created === 'string') {
      say(created);
      return 1;
    }
    const { updated, added, backup } = created.envFile;
    say(`created App ${created.name} (id ${created.id}${created.owner ? `, owner ${created.owner}` : ''}): ${created.htmlUrl}`);
    say(`${envFile}: ${[updated.length ? `updated ${updated.join(', ')}` : '', added.length ? `added ${added.join(', ')}` : ''].filter(Boolean).join('; ')}${backup ? ` (previous file: ${backup})` : ''}`);
    say(`next: install the App on your repositories: ${created.installUrl}`);
    say('      then (re)start ingest and the workers, which read the file at start (pitcrew start, or pitcrew ingest / pitcrew worker)');
    return 0;
  } finally {
    clearTimeout(timer);
    // Let the browser receive the result page before the server goes.
    await new Promise<void>((resolveClose) => server.close(() => resolveClose()));
  }
}
