import { createAppAuth } from '@octokit/auth-app';
import { retry } from '@octokit/plugin-retry';
import { throttling } from '@octokit/plugin-throttling';
import { Octokit } from '@octokit/rest';
import type { Logger } from '@pitcrew/core';

/** How pitcrew authenticates to GitHub: a token, or a GitHub App (installation from the delivery). */
export type GithubAuth =
  | { kind: 'token'; token: string }
  | { kind: 'app'; appId: string; privateKey: string };

/** An Octokit with the REST methods, throttling and retry plugins. */
export const PitcrewOctokit = Octokit.plugin(throttling, retry);
export type PitcrewOctokit = InstanceType<typeof PitcrewOctokit>;

/** Gives an Octokit for a failure's installation (or the token's Octokit). */
export interface GithubApi {
  readonly baseUrl: string;
  forInstallation(installationId: number | null): PitcrewOctokit | null;
}

/**
 * Octokit clients for `GITHUB_API_URL` (GitHub Enterprise Server: `https://HOST/api/v3`).
 *
 * Throttling follows GitHub's guidance ("Best practices for using the REST API"): on a primary
 * rate limit, wait for the reset once when it is under a minute; on a secondary limit, wait for
 * `retry-after` once. The retry plugin retries 5xx (not 4xx) with its default backoff.
 */
export function createGithubApi(options: { baseUrl: string; auth: GithubAuth; logger: Logger; /** retries of 5xx and network errors (plugin default 3) */ retries?: number }): GithubApi {
  const { baseUrl, auth, logger } = options;
  const throttle = {
    onRateLimit: (retryAfter: number, request: { method: string; url: string }, _o: unknown, retryCount: number) => {
      logger.warn({ retryAfter, url: request.url }, 'GitHub primary rate limit');
      return retryCount < 1 && retryAfter < 60;
    },
    onSecondaryRateLimit: (retryAfter: number, request: { method: string; url: string }, _o: unknown, retryCount: number) => {
      logger.warn({ retryAfter, url: request.url }, 'GitHub secondary rate limit');
      return retryCount < 1 && retryAfter < 60;
    },
  };
  // Octokit's request log reports every 4xx at `error`; 404/410 on logs are expected, so they go to debug.
  const log = {
    debug: (message: string) => logger.debug({ github: message }, 'github request'),
    info: (message: string) => logger.debug({ github: message }, 'github request'),
    warn: (message: string) => logger.warn({ github: message }, 'github warning'),
    error: (message: string) => logger.debug({ github: message }, 'github request failed'),
  };
  const common = {
    baseUrl,
    throttle,
    log,
    userAgent: 'pitcrew',
    request: { timeout: 30_000 },
    ...(options.retries !== undefined ? { retry: { retries: options.retries } } : {}),
  };
  if (auth.kind === 'token') {
    const octokit = new PitcrewOctokit({ ...common, auth: auth.token });
    return { baseUrl, forInstallation: () => octokit };
  }
  const byInstallation = new Map<number, PitcrewOctokit>();
  return {
    baseUrl,
    forInstallation(installationId) {
      if (installationId === null) return null;
      let octokit = byInstallation.get(installationId);
      if (!octokit) {
        octokit = new PitcrewOctokit({
          ...common,
          authStrategy: createAppAuth,
          auth: { appId: auth.appId, privateKey: auth.privateKey, installationId },
        });
        byInstallation.set(installationId, octokit);
      }
      return octokit;
    },
  };
}

/**
 * The token pitcrew's git commands use for a failure's repository: a GitHub App's installation
 * access token (`octokit.auth({type: 'installation'})`, @octokit/auth-app; an hour long, cached
 * by it), or the configured token. Never handed to a sandboxed process.
 *
 * @returns `null` without a GitHub credential (public clone URLs and local origins need none)
 */
export async function installationToken(api: GithubApi | undefined | null, installationId: number | null): Promise<string | null> {
  const octokit = api?.forInstallation(installationId);
  return octokit ? tokenOf(octokit) : null;
}

/**
 * The token an Octokit authenticates with: @octokit/auth-app answers `{ type: 'token',
 * tokenType: 'installation', token }` for the installation it was made for; @octokit/auth-token
 * ignores the argument and answers its token.
 */
export async function tokenOf(octokit: PitcrewOctokit): Promise<string | null> {
  const auth = (await octokit.auth({ type: 'installation' })) as { token?: unknown };
  return typeof auth.token === 'string' ? auth.token : null;
}
