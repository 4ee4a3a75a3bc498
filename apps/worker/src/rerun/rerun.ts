import picomatch from 'picomatch';
import type { Kysely } from 'kysely';
import { loopOfBranch, recordRerun, runHasOtherFailure, type CiFailure, type Database, type FailureRerun, type Logger, type RedisConnection } from '@pitcrew/core';
import { describeError } from '../errors.ts';
import type { GithubApi } from '../github/github-api.ts';
import type { PipelineObserver } from '../metrics.ts';

/** Categories whose failures are transient: re-run without further evidence. */
export const TRANSIENT_CATEGORIES = ['infrastructure', 'timeout'] as const;

/** The organisation's re-run policy (`PITCREW_RERUN_*`); a repository's own configuration may only narrow it. */
export interface RerunPolicy {
  /** `owner/repo` globs (picomatch, case-insensitive) whose transient failures are re-run; empty = off everywhere (the default). */
  repositories: string[];
  /** Re-runs per workflow run (its first attempt's failed jobs), at most. */
  maxPerRun: number;
  /** Re-runs per repository per clock hour (UTC), at most. */
  maxPerRepoPerHour: number;
  /** Operator allow-list: a failure whose log excerpt or signature matches one is re-run whatever its category. */
  signatures: RegExp[];
}

/** What {@link rerunDecision} reads of a classified failure. */
export interface RerunCandidate {
  failure: Pick<CiFailure, 'owner' | 'repo' | 'branch' | 'kind' | 'runId' | 'runAttempt' | 'jobId' | 'installationId'>;
  category: string;
  /** The same job passed on the same commit (a passing twin). */
  flaky: boolean;
  /** The flaky registry knows the job or a failing test as flaky. */
  flakyHistory: { score: number; occurrences: number; test: string | null } | null;
  excerpt: string | null;
  signature: string | null;
  /**
   * Whether the repository's own `.github/pitcrew.yml` leaves re-runs on (`EffectivePolicy.reruns`,
   * which can only narrow the organisation's); unset = no repository configuration is read.
   */
  repoAllows?: boolean;
}

/** Whether to re-run, and why (in a few words: the one line the check run and PR comment show). */
export type RerunDecision = { rerun: true; reason: string } | { rerun: false; reason: string };

/**
 * The one place the re-run decision is made, from the failure alone (caps and the mixed-run rule
 * are checked by {@link requestRerun} with Redis and Postgres). Re-run when all hold:
 * - the repository matches `policy.repositories` (off by default) and its `.github/pitcrew.yml`
 *   does not turn re-runs off (`repoAllows`);
 * - it is a GitHub Actions run's first attempt (`run_attempt === 1`): never a re-run of a re-run;
 * - not CI of a fix branch (its loop iterates instead);
 * - the category is transient ({@link TRANSIENT_CATEGORIES}), or there is flaky evidence (a
 *   passing twin, or the flaky registry's history), or the excerpt or signature matches the
 *   operator's allow-list.
 */
export function rerunDecision(policy: RerunPolicy, c: RerunCandidate): RerunDecision {
  const repository = `${c.failure.owner}/${c.failure.repo}`;
  if (policy.repositories.length === 0 || !picomatch(policy.repositories, { nocase: true, dot: true })(repository)) return { rerun: false, reason: `re-runs are off for ${repository} (PITCREW_RERUN_REPOS)` };
  if (c.repoAllows === false) return { rerun: false, reason: `re-runs are off in ${repository}'s .github/pitcrew.yml` };
  if (c.failure.runId === null) return { rerun: false, reason: 'not a GitHub Actions run' };
  if (c.failure.runAttempt !== 1) return { rerun: false, reason: `attempt ${c.failure.runAttempt ?? 'unknown'} is not the run's first` };
  if (loopOfBranch(c.failure.branch)) return { rerun: false, reason: 'CI of a fix branch' };
  if ((TRANSIENT_CATEGORIES as readonly string[]).includes(c.category)) return { rerun: true, reason: `${c.category} failure` };
  if (c.flaky) return { rerun: true, reason: 'flaky: the same job passed on this commit' };
  if (c.flakyHistory) return { rerun: true, reason: `flaky${c.flakyHistory.test ? ` test ${c.flakyHistory.test}` : ''} (score ${c.flakyHistory.score}, ${c.flakyHistory.occurrences} occurrences)` };
  const matched = policy.signatures.find((re) => (c.signature !== null && re.test(c.signature)) || (c.excerpt !== null && c.excerpt.split('\n').some((line) => re.test(line))));
  if (matched) return { rerun: true, reason: `matches allow-list /${matched.source}/` };
  return { rerun: false, reason: `${c.category} is not transient and there is no flaky evidence` };
}

/** What {@link requestRerun} needs. */
export interface RerunDeps {
  db: Kysely<Database>;
  redis: RedisConnection;
  prefix: string;
  github: GithubApi | null;
  logger: Logger;
  observer?: PipelineObserver;
  /**
   * Whether the repository's `.github/pitcrew.yml` leaves re-runs on (its `EffectivePolicy.reruns`);
   * read only for a failure the organisation's policy would re-run. Unset = no repository configuration.
   */
  repoAllows?: (failure: RerunCandidate['failure']) => Promise<boolean>;
}

/** Seconds a run's re-run counter and a failure's re-run mark are kept (a day: a run's first attempt ends long before). */
const RUN_COUNTER_TTL_SECONDS = 24 * 3600;

/**
 * Re-runs a transient failure's job when {@link rerunDecision} says so and the caps allow it:
 * 0. the repository's own configuration (`deps.repoAllows`), read only when the rest would re-run;
 * 1. refused when another failure of the same run attempt was classified non-transient
 *    (`runHasOtherFailure`);
 * 2. once per failure (`SET NX` of a mark: a retried job never re-runs twice);
 * 3. the run's and the repository's hour counters are incremented in one `MULTI`; past
 *    `maxPerRun` or `maxPerRepoPerHour` both are taken back and it is refused;
 * 4. GitHub REST, "Re-run a job from a workflow run" (`POST /repos/{owner}/{repo}/actions/jobs/{job_id}/rerun`)
 *    for a job failure, "Re-run failed jobs from a workflow run"
 *    (`POST /repos/{owner}/{repo}/actions/runs/{run_id}/rerun-failed-jobs`) for a run failure;
 * 5. the re-run is recorded on the failure (`failures.rerun`), for the check run and PR comment.
 *
 * Never throws: a refusal or an error is logged and returned as `{rerun: false, reason}`.
 */
export async function requestRerun(deps: RerunDeps, policy: RerunPolicy, failureId: string, c: RerunCandidate): Promise<RerunDecision> {
  let decision = rerunDecision(policy, c);
  if (decision.rerun && deps.repoAllows && c.repoAllows === undefined) {
    // The repository's file can only narrow: unreadable, it is not taken to allow a re-run.
    const repoAllows = await deps.repoAllows(c.failure).catch((error: unknown) => describeError(error));
    if (typeof repoAllows === 'string') return { rerun: false, reason: `could not read the repository's configuration: ${repoAllows}` };
    decision = rerunDecision(policy, { ...c, repoAllows });
  }
  if (!decision.rerun) return decision;
  const log = deps.logger.child({ failureId });
  const refuse = (reason: string): RerunDecision => {
    deps.observer?.rerun?.('refused');
    log.info({ reason }, 'no re-run');
    return { rerun: false, reason };
  };
  try {
    const { owner, repo, runId, runAttempt } = c.failure;
    if (await runHasOtherFailure(deps.db, { id: failureId, owner, repo, runId: runId!, runAttempt: runAttempt! }, TRANSIENT_CATEGORIES)) return refuse('the run also failed for a non-transient reason');
    const octokit = deps.github?.forInstallation(c.failure.installationId) ?? null;
    if (!octokit) return refuse('no GitHub credential to re-run with');
    const mark = await deps.redis.set(`${deps.prefix}:rerun:failure:${failureId}`, '1', 'EX', RUN_COUNTER_TTL_SECONDS, 'NX');
    if (mark !== 'OK') return { rerun: false, reason: 're-run already requested' };
    const { runKey, hourKey } = rerunCounterKeys(deps.prefix, owner, repo, runId!, Date.now());
    const counted = await deps.redis.multi().incr(runKey).expire(runKey, RUN_COUNTER_TTL_SECONDS).incr(hourKey).expire(hourKey, 3_600).exec();
    const perRun = Number(counted?.[0]?.[1] ?? Infinity);
    const perHour = Number(counted?.[2]?.[1] ?? Infinity);
    if (perRun > policy.maxPerRun || perHour > policy.maxPerRepoPerHour) {
      await deps.redis.multi().decr(runKey).decr(hourKey).exec();
      return refuse(perRun > policy.maxPerRun ? `the run was re-run ${policy.maxPerRun} time(s) already (PITCREW_RERUN_MAX_PER_RUN)` : `${owner}/${repo} had ${policy.maxPerRepoPerHour} re-run(s) this hour (PITCREW_RERUN_MAX_PER_REPO_HOUR)`);
    }
    const scope: FailureRerun['scope'] = c.failure.kind === 'job' && c.failure.jobId !== null ? 'job' : 'run';
    if (scope === 'job') await octokit.rest.actions.reRunJobForWorkflowRun({ owner, repo, job_id: c.failure.jobId! });
    else await octokit.rest.actions.reRunWorkflowFailedJobs({ owner, repo, run_id: runId! });
    await recordRerun(deps.db, failureId, { n: perRun, max: policy.maxPerRun, reason: decision.reason, at: new Date().toISOString(), scope });
    deps.observer?.rerun?.('requested');
    log.info({ reason: decision.reason, n: perRun, max: policy.maxPerRun, scope }, 'transient failure re-run');
    return decision;
  } catch (error) {
    log.warn({ err: error }, 'could not re-run the failed job');
    return refuse(`could not re-run: ${describeError(error)}`);
  }
}

/**
 * Redis keys of the re-run counters: per workflow run (`runKey`) and per repository and clock
 * hour of `nowMs` (`hourKey`). Both under the queue prefix, so in its Redis Cluster slot: the
 * `MULTI` that counts both runs on one node.
 */
export function rerunCounterKeys(prefix: string, owner: string, repo: string, runId: number, nowMs: number): { runKey: string; hourKey: string } {
  return {
    runKey: `${prefix}:rerun:run:${owner}/${repo}:${runId}`,
    hourKey: `${prefix}:rerun:hour:${owner}/${repo}:${Math.floor(nowMs / 3_600_000)}`,
  };
}
