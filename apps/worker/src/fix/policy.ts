import picomatch from 'picomatch';
import type { CiFailure, EffectivePolicy } from '@pitcrew/core';
import type { FixerName } from './fixer.ts';

/** The categories fixed by default: what a change to the repository can fix (not infrastructure, timeouts, unknown). */
export const DEFAULT_FIX_CATEGORIES = ['lint', 'typecheck', 'test', 'build', 'dependency'] as const;

/**
 * The organisation's fix policy (`PITCREW_FIX*`, see `.env.example`). Off unless `mode` says so.
 * Limits: files and lines (added + deleted) per fix, USD per fix (the agent's estimate is checked
 * before it runs, its reported cost recorded after), ms per command.
 */
export interface FixPolicy {
  /** `off`; `propose`: a `pitcrew/fix/<failure-id>` branch and a draft PR into the failing branch; `commit`: onto a labelled PR's own head branch. */
  mode: 'off' | 'propose' | 'commit';
  /** Write proposals under `<dryRunDir>/.pitcrew/proposals/<failure-id>/` and push nothing. */
  dryRun: boolean;
  dryRunDir: string;
  fixer: FixerName | 'auto';
  /** `owner/repo` globs (picomatch, case-insensitive); empty = every repository. */
  repositories: string[];
  /** Branch globs; empty = every branch. */
  branches: string[];
  categories: string[];
  maxFiles: number;
  maxLines: number;
  /** USD one fix attempt may cost; 0 = no limit beyond the organisation's budgets. */
  usdPerFix: number;
  /** ms each fix or verification command (and the agent) may run. */
  timeoutMs: number;
  /** The PR label that lets `commit` push onto a PR's head branch. */
  commitLabel: string;
  author: { name: string; email: string };
  /** Iterations of one loop at most (`PITCREW_FIX_MAX_ITERATIONS`). */
  maxIterations: number;
  /** USD one loop may cost over its iterations; 0 = no loop cap (`PITCREW_FIX_LOOP_BUDGET_USD`). */
  loopUsd: number;
  /** The per-repository breaker: exhausted loops in a row that open it, ms it stays open. */
  breaker: { threshold: number; cooldownMs: number };
  /** The label an escalated fix PR gets. */
  escalationLabel: string;
}

/**
 * Whether the policy lets pitcrew try to fix this failure, and if not, why (logged, and shown as
 * the reason no fix was attempted).
 *
 * @returns `null` when allowed
 */
export function fixRefusal(policy: FixPolicy, failure: Pick<CiFailure, 'owner' | 'repo' | 'branch'>, category: string): string | null {
  if (policy.mode === 'off') return 'PITCREW_FIX=off';
  const options = { nocase: true, dot: true };
  const repo = `${failure.owner}/${failure.repo}`;
  if (policy.repositories.length && !picomatch(policy.repositories, options)(repo)) return `repository ${repo} does not match PITCREW_FIX_REPOS`;
  if (policy.branches.length && !(failure.branch && picomatch(policy.branches, { dot: true })(failure.branch))) return `branch ${failure.branch ?? '(none)'} does not match PITCREW_FIX_BRANCHES`;
  if (!policy.categories.includes(category)) return `category ${category} is not in PITCREW_FIX_CATEGORIES`;
  // A loop never starts from a failure on a branch pitcrew itself pushed (fix loop part 2 joins those to their loop).
  if (failure.branch?.startsWith('pitcrew/fix/')) return `branch ${failure.branch} is pitcrew's own fix branch`;
  return null;
}

/**
 * Whether the repository's own configuration (`.github/pitcrew.yml`, narrowed by
 * `effectivePolicy`) lets pitcrew fix this failure, checked after {@link fixRefusal} (the
 * organisation's policy, which it can only narrow): pitcrew on, fix mode not `off`, the category
 * among the repository's, the branch matching the repository's globs.
 *
 * @returns `null` when allowed, else the reason, naming the file's field
 */
export function repoFixRefusal(policy: EffectivePolicy, failure: Pick<CiFailure, 'branch'>, category: string): string | null {
  if (!policy.enabled) return 'enabled: false in .github/pitcrew.yml';
  if (policy.fix.mode === 'off') return 'fix.mode is off for this repository (.github/pitcrew.yml, or PITCREW_FIX)';
  if (!policy.fix.categories.includes(category)) return `category ${category} is not in this repository's fix.categories (.github/pitcrew.yml)`;
  const globs = policy.fix.repoBranches;
  if (globs.length && !(failure.branch && picomatch(globs, { dot: true })(failure.branch))) return `branch ${failure.branch ?? '(none)'} does not match fix.branches of .github/pitcrew.yml`;
  return null;
}
