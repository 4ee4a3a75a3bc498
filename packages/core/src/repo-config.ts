import { parseDocument } from 'yaml';
import { z } from 'zod';
import { CATEGORIES } from './classify.ts';
import { SINKS, type SinkName } from './queue.ts';
import { describeIssues } from './zod-issues.ts';

/** Where a repository's own configuration lives, on its default branch. */
export const REPO_CONFIG_PATH = '.github/pitcrew.yml';
/** Largest `.github/pitcrew.yml` read, in bytes; a larger file is invalid (organisation defaults apply). */
export const REPO_CONFIG_MAX_BYTES = 16 * 1024;

/** Fix modes from least to most that pitcrew may do: a repository may only move down this list. */
export const FIX_MODES = ['off', 'propose', 'commit'] as const;
export type FixMode = (typeof FIX_MODES)[number];

const glob = z.string().min(1).max(200);

/**
 * The schema of `.github/pitcrew.yml` (YAML, parsed with `yaml`). Every field is optional; a
 * field left out keeps what the organisation allows. Unknown keys are errors (`strict`), so a
 * file that tries to set something the repository cannot (a budget, a limit) is reported, not
 * silently half-applied. Every field can only narrow the organisation's configuration
 * ({@link effectivePolicy}).
 */
export const RepoConfigFile = z
  .object({
    /** `false`: pitcrew publishes nothing, fixes nothing, re-runs nothing and takes no PR command in this repository (failures are still recorded). */
    enabled: z.boolean().optional(),
    /** Sinks to publish to: a subset of the organisation's `PITCREW_PUBLISH`. */
    sinks: z.array(z.enum(SINKS)).max(SINKS.length).optional(),
    /** `true`: no PR comments in this repository (check runs and the rest stay). */
    quiet: z.boolean().optional(),
    /** `true` lets re-runs of transient failures happen here when the organisation allows them; `false` turns them off. */
    reruns: z.boolean().optional(),
    fix: z
      .object({
        /** `off`, `propose` or `commit`: at most the organisation's `PITCREW_FIX`. */
        mode: z.enum(FIX_MODES).optional(),
        /** Categories fixed: a subset of `PITCREW_FIX_CATEGORIES`. */
        categories: z.array(z.enum(CATEGORIES)).max(CATEGORIES.length).optional(),
        /** Branch globs a fix may start on; a branch must match these and `PITCREW_FIX_BRANCHES`. */
        branches: z.array(glob).max(50).optional(),
      })
      .strict()
      .optional(),
  })
  .strict();
export type RepoConfigFile = z.infer<typeof RepoConfigFile>;

/** {@link parseRepoConfig}'s answer: the file, or why it is invalid (one line per issue). */
export type RepoConfigParse = { ok: true; config: RepoConfigFile } | { ok: false; issues: string[] };

/**
 * Parses and validates the text of `.github/pitcrew.yml`. The text is untrusted: it is only
 * parsed (YAML 1.2 core schema, no custom tags, at most 20 aliases against alias bombs), never
 * evaluated, and only {@link REPO_CONFIG_MAX_BYTES} are accepted. An empty file is a valid empty
 * configuration.
 *
 * @returns `{ok: false, issues}` for a file too large, not YAML, or not of the schema; never throws
 */
export function parseRepoConfig(text: string): RepoConfigParse {
  if (Buffer.byteLength(text) > REPO_CONFIG_MAX_BYTES) return { ok: false, issues: [`the file is larger than ${REPO_CONFIG_MAX_BYTES} bytes`] };
  let value: unknown;
  try {
    const doc = parseDocument(text, { schema: 'core', prettyErrors: true, uniqueKeys: true });
    if (doc.errors.length) return { ok: false, issues: doc.errors.slice(0, 10).map((e) => `YAML: ${e.message.split('\n')[0]}`) };
    value = doc.toJS({ maxAliasCount: 20 }) ?? {};
  } catch (error) {
    return { ok: false, issues: [`YAML: ${(error as Error).message.split('\n')[0]}`] };
  }
  const parsed = RepoConfigFile.safeParse(value);
  if (!parsed.success) return { ok: false, issues: parsed.error.issues.slice(0, 20).map((i) => describeIssues([i])) };
  return { ok: true, config: parsed.data };
}

/** What the organisation's configuration allows (the workers' environment). */
export interface OrgPolicy {
  /** Sinks that can publish here (`PITCREW_PUBLISH`, minus those without a credential). */
  sinks: readonly SinkName[];
  /** Whether re-runs of transient failures are allowed at all. */
  reruns: boolean;
  fix: {
    /** `PITCREW_FIX`. */
    mode: FixMode;
    /** `PITCREW_FIX_CATEGORIES`. */
    categories: readonly string[];
    /** `PITCREW_FIX_BRANCHES`; empty = every branch. */
    branches: readonly string[];
  };
}

/** What applies to one repository: the organisation's configuration narrowed by its file. */
export interface EffectivePolicy {
  /** `false` when the repository turned pitcrew off: nothing is published, fixed or re-run. */
  enabled: boolean;
  sinks: SinkName[];
  /** No PR comments. */
  quiet: boolean;
  /** Re-runs of transient failures allowed here. */
  reruns: boolean;
  fix: {
    mode: FixMode;
    categories: string[];
    /** The organisation's branch globs (empty = every branch). */
    branches: string[];
    /** The repository's own branch globs (empty = every branch); a fix needs a branch that matches both lists. */
    repoBranches: string[];
  };
  /** `organisation` when no valid file narrowed anything, else `repository`. */
  source: 'organisation' | 'repository';
}

/** {@link effectivePolicy}'s answer: the policy, and one line per request of the file that was not granted. */
export interface EffectivePolicyReport {
  policy: EffectivePolicy;
  /** `fix.mode: commit asked, the organisation allows propose; propose applies`, …; empty when the file asked for nothing beyond the organisation. */
  notes: string[];
}

/**
 * The policy for one repository: the organisation's configuration narrowed by the repository's
 * `.github/pitcrew.yml` (already validated; `null` for no file or an invalid one, when the
 * organisation's configuration applies as it is). Pure. Per field:
 * - `enabled: false` turns every sink, fix and re-run off (and `quiet` on);
 * - `sinks`: the intersection with the organisation's, in the organisation's order;
 * - `quiet`: on when the file says so (PR comments off; the organisation turns them off with `PITCREW_PUBLISH`);
 * - `reruns`: on only when both are (a file without `reruns` keeps the organisation's);
 * - `fix.mode`: the lower of the two in `off` < `propose` < `commit`;
 * - `fix.categories`: the intersection;
 * - `fix.branches`: kept beside the organisation's globs; a branch must match both.
 * Whatever the file asks beyond the organisation gets the organisation's value, and a note says so.
 * Budgets and limits are not in the file's schema at all, so no file can raise them.
 */
export function effectivePolicy(org: OrgPolicy, repoFile: RepoConfigFile | null): EffectivePolicyReport {
  const notes: string[] = [];
  const policy: EffectivePolicy = {
    enabled: true,
    sinks: [...org.sinks],
    quiet: false,
    reruns: org.reruns,
    fix: { mode: org.fix.mode, categories: [...org.fix.categories], branches: [...org.fix.branches], repoBranches: [] },
    source: 'organisation',
  };
  if (!repoFile) return { policy, notes };
  policy.source = 'repository';
  if (repoFile.sinks) {
    const refused = repoFile.sinks.filter((s) => !org.sinks.includes(s));
    if (refused.length) notes.push(`sinks: ${refused.join(', ')} asked, the organisation does not publish there; left out`);
    policy.sinks = org.sinks.filter((s) => repoFile.sinks!.includes(s));
  }
  if (repoFile.quiet === true) policy.quiet = true;
  if (repoFile.reruns === false) policy.reruns = false;
  else if (repoFile.reruns === true && !org.reruns) notes.push('reruns: true asked, the organisation does not allow re-runs; off');
  const fix = repoFile.fix;
  if (fix?.mode) {
    const asked = FIX_MODES.indexOf(fix.mode);
    const allowed = FIX_MODES.indexOf(org.fix.mode);
    if (asked > allowed) notes.push(`fix.mode: ${fix.mode} asked, the organisation allows ${org.fix.mode}; ${org.fix.mode} applies`);
    policy.fix.mode = FIX_MODES[Math.min(asked, allowed)]!;
  }
  if (fix?.categories) {
    const refused = fix.categories.filter((c) => !org.fix.categories.includes(c));
    if (refused.length) notes.push(`fix.categories: ${refused.join(', ')} asked, the organisation does not fix them; left out`);
    policy.fix.categories = org.fix.categories.filter((c) => fix.categories!.includes(c as (typeof CATEGORIES)[number]));
  }
  if (fix?.branches) policy.fix.repoBranches = [...fix.branches];
  if (repoFile.enabled === false) {
    policy.enabled = false;
    policy.sinks = [];
    policy.quiet = true;
    policy.reruns = false;
    policy.fix.mode = 'off';
  }
  return { policy, notes };
}

/** One line describing an effective policy, for the `pitcrew/config` check run and logs. */
export function describePolicy(policy: EffectivePolicy): string {
  if (!policy.enabled) return 'pitcrew is off in this repository';
  const branches = [policy.fix.branches, policy.fix.repoBranches].filter((b) => b.length).map((b) => b.join(', '));
  return [
    `sinks: ${policy.sinks.join(', ') || 'none'}`,
    `PR comments: ${policy.quiet ? 'off (quiet)' : 'on'}`,
    `re-runs: ${policy.reruns ? 'on' : 'off'}`,
    `fix: ${policy.fix.mode}${policy.fix.mode === 'off' ? '' : ` (${policy.fix.categories.join(', ') || 'no category'}${branches.length ? `; branches ${branches.join(' and ')}` : ''})`}`,
  ].join('; ');
}
