import { RequestError } from '@octokit/request-error';
import { effectivePolicy, parseRepoConfig, REPO_CONFIG_MAX_BYTES, REPO_CONFIG_PATH, type EffectivePolicy, type EffectivePolicyReport, type Logger, type OrgPolicy, type RepoConfigParse, type RedisConnection } from '@pitcrew/core';
import type { GithubApi } from '../github/github-api.ts';

/** What the Redis cache keeps per repository (JSON under {@link repoConfigKey}). */
interface CachedFile {
  /** The `ETag` of the last `200`, sent back as `If-None-Match`; `null` when the file was absent. */
  etag: string | null;
  /** The file's text; `null` when absent (404) or larger than {@link REPO_CONFIG_MAX_BYTES}. */
  text: string | null;
  /** Its size in bytes as GitHub reported it. */
  size: number;
  /** ms since the epoch of the last answer from GitHub (200, 304 or 404). */
  checkedAt: number;
  /** Why a present file cannot be read at all (too large, a directory); the file is then invalid. */
  problem?: string;
}

/** One repository's configuration as read: whether a file is there, its parse, and the policy that applies. */
export interface RepoConfigRead {
  /** `absent`: no file (or no GitHub credential); `valid` / `invalid`: the file's parse. */
  state: 'absent' | 'valid' | 'invalid';
  /** The parse of the file when present. */
  parse: RepoConfigParse | null;
  /** The organisation's configuration narrowed by a valid file ({@link effectivePolicy}); the organisation's alone otherwise. */
  report: EffectivePolicyReport;
  /** How it was read: from the cache within its TTL, a `304` that reused it, a `200`/`404` from GitHub, or a stale cache while GitHub failed. */
  via: 'cache' | 'not-modified' | 'fetched' | 'stale' | 'no-credential';
}

/** Reads and caches `.github/pitcrew.yml` of each repository; built once per worker process. */
export interface RepoConfigSource {
  /**
   * The configuration of `owner/repo`. Within `ttlSeconds` of the last answer, the cache alone
   * serves; after that (or with `refresh`) a conditional request asks GitHub again.
   * Never throws: a GitHub or Redis error falls back to the last cached file, else to the
   * organisation's configuration (logged).
   */
  read(owner: string, repo: string, installationId: number | null, options?: { refresh?: boolean }): Promise<RepoConfigRead>;
  /** {@link read}'s effective policy. */
  policyFor(owner: string, repo: string, installationId: number | null): Promise<EffectivePolicy>;
  /** The organisation's configuration this source narrows. */
  readonly org: OrgPolicy;
}

/** Redis key of a repository's cached file: under the queue prefix (its Redis Cluster slot), lower-cased as GitHub compares names. */
export function repoConfigKey(prefix: string, owner: string, repo: string): string {
  return `${prefix}:repo-config:${owner.toLowerCase()}/${repo.toLowerCase()}`;
}
/** How long a cached file is kept in Redis at most, seconds (it is revalidated long before). */
const CACHE_KEEP_SECONDS = 7 * 24 * 3600;

/**
 * A {@link RepoConfigSource} over the GitHub contents API (`GET /repos/{owner}/{repo}/contents/{path}`,
 * default branch; GitHub REST docs, "Repository contents", "Get repository content") with a cache
 * in Redis shared by every worker. Revalidation is a conditional request (`If-None-Match` with
 * the stored `ETag`): GitHub answers `304 Not Modified`, which does not count against the primary
 * rate limit (GitHub REST docs, "Best practices for using the REST API", "Use conditional
 * requests if appropriate"), and the cached text is reused. A `push` that changes the file calls
 * `read` with `refresh`. Without a GitHub credential every repository gets the organisation's
 * configuration.
 *
 * @param options.ttlSeconds seconds a cached answer is used without asking GitHub; 0 = ask on every read
 */
export function createRepoConfigSource(options: { redis: RedisConnection; prefix: string; github: GithubApi | null; org: OrgPolicy; ttlSeconds: number; logger: Logger }): RepoConfigSource {
  const { redis, prefix, github, org, logger } = options;
  const orgOnly = (via: RepoConfigRead['via']): RepoConfigRead => ({ state: 'absent', parse: null, report: effectivePolicy(org, null), via });
  const fromFile = (file: CachedFile, via: RepoConfigRead['via']): RepoConfigRead => {
    if (file.text === null && !file.problem) return orgOnly(via);
    const parse: RepoConfigParse = file.problem !== undefined || file.text === null ? { ok: false, issues: [file.problem ?? 'unreadable'] } : parseRepoConfig(file.text);
    return { state: parse.ok ? 'valid' : 'invalid', parse, report: effectivePolicy(org, parse.ok ? parse.config : null), via };
  };
  const source: RepoConfigSource = {
    org,
    async read(owner, repo, installationId, how = {}) {
      const octokit = github?.forInstallation(installationId) ?? null;
      if (!octokit) return orgOnly('no-credential');
      const key = repoConfigKey(prefix, owner, repo);
      let cached: CachedFile | null = null;
      try {
        const raw = await redis.get(key);
        cached = raw ? (JSON.parse(raw) as CachedFile) : null;
      } catch (error) {
        logger.warn({ err: error, owner, repo }, 'could not read the cached .github/pitcrew.yml; asking GitHub');
      }
      if (cached && !how.refresh && Date.now() - cached.checkedAt < options.ttlSeconds * 1000) return fromFile(cached, 'cache');
      let next: CachedFile;
      let via: RepoConfigRead['via'] = 'fetched';
      try {
        const { data, headers } = await octokit.rest.repos.getContent({ owner, repo, path: REPO_CONFIG_PATH, ...(cached?.etag ? { headers: { 'if-none-match': cached.etag } } : {}) });
        const etag = headers.etag ?? null;
        if (Array.isArray(data) || data.type !== 'file') {
          next = { etag, text: null, size: 0, checkedAt: Date.now(), problem: `${REPO_CONFIG_PATH} is not a file` };
        } else if (data.size > REPO_CONFIG_MAX_BYTES) {
          next = { etag, text: null, size: data.size, checkedAt: Date.now(), problem: `the file is larger than ${REPO_CONFIG_MAX_BYTES} bytes` };
        } else {
          next = { etag, text: Buffer.from(data.content ?? '', data.encoding === 'base64' ? 'base64' : 'utf8').toString('utf8'), size: data.size, checkedAt: Date.now() };
        }
      } catch (error) {
        if (error instanceof RequestError && error.status === 304 && cached) {
          next = { ...cached, checkedAt: Date.now() };
          via = 'not-modified';
        } else if (error instanceof RequestError && error.status === 404) {
          next = { etag: null, text: null, size: 0, checkedAt: Date.now() };
        } else {
          logger.warn({ err: error, owner, repo }, `could not read ${REPO_CONFIG_PATH}; using the last cached copy, else the organisation's configuration`);
          return cached ? fromFile(cached, 'stale') : orgOnly('stale');
        }
      }
      await redis.set(key, JSON.stringify(next), 'EX', CACHE_KEEP_SECONDS).catch((error: unknown) => logger.warn({ err: error, owner, repo }, 'could not cache .github/pitcrew.yml'));
      return fromFile(next, via);
    },
    async policyFor(owner, repo, installationId) {
      return (await source.read(owner, repo, installationId)).report.policy;
    },
  };
  return source;
}
