import { RequestError } from '@octokit/request-error';
import type { Job } from 'bullmq';
import { RepoEventJobData, type Logger } from '@pitcrew/core';
import { runPrCommand, type PrCommandDeps, type PrCommandResult } from '../commands/pr-commands.ts';
import type { GithubApi } from '../github/github-api.ts';
import { reportRepoConfig, type ConfigReportResult } from '../repo-config/config-report.ts';
import type { RepoConfigSource } from '../repo-config/repo-config.ts';
import { parseJobData } from './parse.ts';

/** Dependencies of the `repo-events` processor. */
export interface RepoEventDeps {
  logger: Logger;
  github: GithubApi | null;
  repoConfig: RepoConfigSource;
  /** PR commands; unset = `PITCREW_PR_COMMANDS=false`, commands are logged and ignored. */
  commands?: PrCommandDeps;
}

/**
 * The processor of the `repo-events` queue:
 * - `config-push`: reads `.github/pitcrew.yml` again (a conditional request past the cache) and
 *   reports it on the push's head commit (`reportRepoConfig`: the `pitcrew/config` check run). A
 *   refusal (403/404/422: no `checks: write`, a token instead of an App) is logged, not retried.
 * - `pr-command`: {@link runPrCommand}.
 * Bad job data is unrecoverable; anything else is retried with the queue's backoff.
 */
export function repoEventsProcessor(deps: RepoEventDeps) {
  return async function processRepoEventJob(job: Job): Promise<ConfigReportResult | PrCommandResult | { skipped: string }> {
    const data = parseJobData(RepoEventJobData, job);
    const log = deps.logger.child({ jobId: job.id, deliveryId: data.deliveryId, owner: data.owner, repo: data.repo, kind: data.kind });
    if (data.kind === 'pr-command') {
      if (!deps.commands) {
        log.info('PR command received, but PITCREW_PR_COMMANDS is false; ignored');
        return { skipped: 'PITCREW_PR_COMMANDS=false' };
      }
      return runPrCommand(deps.commands, data);
    }
    const read = await deps.repoConfig.read(data.owner, data.repo, data.installationId, { refresh: true });
    log.info({ state: read.state, via: read.via, notes: read.report.notes, issues: read.parse && !read.parse.ok ? read.parse.issues : undefined }, '.github/pitcrew.yml refreshed after a push');
    const octokit = deps.github?.forInstallation(data.installationId) ?? null;
    if (!octokit) return { skipped: 'no GitHub credential for this installation' };
    try {
      return await reportRepoConfig(octokit, { owner: data.owner, repo: data.repo, headSha: data.headSha }, read);
    } catch (error) {
      if (error instanceof RequestError && [401, 403, 404, 422].includes(error.status)) {
        log.warn({ err: error }, 'GitHub refused the pitcrew/config check run (it needs a GitHub App with checks: write); not retrying');
        return { skipped: `GitHub answered ${error.status}` };
      }
      throw error;
    }
  };
}
