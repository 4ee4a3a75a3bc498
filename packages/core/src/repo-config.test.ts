import { describe, expect, it } from 'vitest';
import { parsePrCommand } from './pr-command.ts';
import { describePolicy, effectivePolicy, parseRepoConfig, REPO_CONFIG_MAX_BYTES, type OrgPolicy, type RepoConfigFile } from './repo-config.ts';

const org: OrgPolicy = {
  sinks: ['check-run', 'pr-comment', 'issue'],
  reruns: true,
  fix: { mode: 'propose', categories: ['lint', 'typecheck', 'test'], branches: ['main', 'release/*'] },
};
const closedOrg: OrgPolicy = { sinks: ['check-run'], reruns: false, fix: { mode: 'off', categories: [], branches: [] } };

const parsed = (text: string): RepoConfigFile => {
  const result = parseRepoConfig(text);
  if (!result.ok) throw new Error(result.issues.join('; '));
  return result.config;
};

describe('effectivePolicy', () => {
  it('is the organisation\'s configuration without a file (absent or invalid)', () => {
    const { policy, notes } = effectivePolicy(org, null);
    expect(policy).toEqual({ enabled: true, sinks: ['check-run', 'pr-comment', 'issue'], quiet: false, reruns: true, fix: { mode: 'propose', categories: ['lint', 'typecheck', 'test'], branches: ['main', 'release/*'], repoBranches: [] }, source: 'organisation' });
    expect(notes).toEqual([]);
  });

  it('keeps the organisation\'s values for an empty file', () => {
    const { policy, notes } = effectivePolicy(org, parsed(''));
    expect({ ...policy, source: 'organisation' }).toEqual(effectivePolicy(org, null).policy);
    expect(policy.source).toBe('repository');
    expect(notes).toEqual([]);
  });

  it('narrows sinks to the intersection, in the organisation\'s order, and notes a sink it does not publish to', () => {
    const { policy, notes } = effectivePolicy(org, parsed('sinks: [slack, pr-comment, check-run]'));
    expect(policy.sinks).toEqual(['check-run', 'pr-comment']);
    expect(notes).toEqual(['sinks: slack asked, the organisation does not publish there; left out']);
    expect(effectivePolicy(org, parsed('sinks: []')).policy.sinks).toEqual([]);
  });

  it('turns quiet on, never off', () => {
    expect(effectivePolicy(org, parsed('quiet: true')).policy.quiet).toBe(true);
    expect(effectivePolicy(org, parsed('quiet: false')).policy.quiet).toBe(false);
  });

  it('allows re-runs only when both allow them, and says so when the organisation does not', () => {
    expect(effectivePolicy(org, parsed('reruns: false')).policy.reruns).toBe(false);
    expect(effectivePolicy(org, parsed('reruns: true')).policy.reruns).toBe(true);
    const raised = effectivePolicy(closedOrg, parsed('reruns: true'));
    expect(raised.policy.reruns).toBe(false);
    expect(raised.notes).toEqual(['reruns: true asked, the organisation does not allow re-runs; off']);
  });

  it('takes the lower fix mode (off < propose < commit) and says so when the file asks for more', () => {
    expect(effectivePolicy(org, parsed('fix: {mode: off}')).policy.fix.mode).toBe('off');
    expect(effectivePolicy(org, parsed('fix: {mode: propose}')).policy.fix.mode).toBe('propose');
    const raised = effectivePolicy(org, parsed('fix: {mode: commit}'));
    expect(raised.policy.fix.mode).toBe('propose');
    expect(raised.notes).toEqual(['fix.mode: commit asked, the organisation allows propose; propose applies']);
    const fromOff = effectivePolicy(closedOrg, parsed('fix: {mode: propose}'));
    expect(fromOff.policy.fix.mode).toBe('off');
    expect(fromOff.notes).toEqual(['fix.mode: propose asked, the organisation allows off; off applies']);
  });

  it('narrows fix categories to the intersection and notes the others', () => {
    const { policy, notes } = effectivePolicy(org, parsed('fix:\n  categories: [test, lint, dependency]'));
    expect(policy.fix.categories).toEqual(['lint', 'test']);
    expect(notes).toEqual(['fix.categories: dependency asked, the organisation does not fix them; left out']);
  });

  it('keeps the organisation\'s branch globs beside the repository\'s (a branch must match both)', () => {
    const { policy, notes } = effectivePolicy(org, parsed('fix:\n  branches: ["feature/*", main]'));
    expect(policy.fix.branches).toEqual(['main', 'release/*']);
    expect(policy.fix.repoBranches).toEqual(['feature/*', 'main']);
    expect(notes).toEqual([]);
  });

  it('turns everything off with enabled: false, whatever else the file asks', () => {
    const { policy } = effectivePolicy(org, parsed('enabled: false\nsinks: [check-run]\nreruns: true\nfix: {mode: propose}'));
    expect(policy).toMatchObject({ enabled: false, sinks: [], quiet: true, reruns: false, fix: { mode: 'off' } });
    expect(describePolicy(policy)).toBe('pitcrew is off in this repository');
  });

  it('reports every request beyond the organisation at once', () => {
    const { policy, notes } = effectivePolicy(closedOrg, parsed('sinks: [check-run, slack]\nreruns: true\nfix: {mode: commit, categories: [lint]}'));
    expect(policy).toMatchObject({ sinks: ['check-run'], reruns: false, fix: { mode: 'off', categories: [] } });
    expect(notes).toHaveLength(4);
    expect(describePolicy(policy)).toBe('sinks: check-run; PR comments: on; re-runs: off; fix: off');
  });

  it('never changes the organisation\'s object', () => {
    const copy = structuredClone(org);
    effectivePolicy(org, parsed('enabled: false\nfix: {categories: [lint], branches: [x]}'));
    expect(org).toEqual(copy);
  });
});

describe('parseRepoConfig', () => {
  it('accepts every field', () => {
    const config = parsed(['enabled: true', 'sinks: [check-run, pr-comment]', 'quiet: true', 'reruns: false', 'fix:', '  mode: propose', '  categories: [lint, test]', '  branches: [main]'].join('\n'));
    expect(config).toEqual({ enabled: true, sinks: ['check-run', 'pr-comment'], quiet: true, reruns: false, fix: { mode: 'propose', categories: ['lint', 'test'], branches: ['main'] } });
  });

  it('rejects unknown keys (a budget or limit cannot be set here), wrong types and unknown values, with the path', () => {
    const result = parseRepoConfig('budget_usd: 100\nsinks: [email]\nfix: {mode: yolo, max_files: 1000}\nquiet: "yes"');
    expect(result.ok).toBe(false);
    const issues = (result as { issues: string[] }).issues.join('\n');
    expect(issues).toMatch(/budget_usd/);
    expect(issues).toMatch(/^sinks\.0: /m);
    expect(issues).toMatch(/^fix\.mode: /m);
    expect(issues).toMatch(/max_files/);
    expect(issues).toMatch(/^quiet: /m);
  });

  it('rejects text that is not YAML, a document that is not a mapping, and a file that is too large', () => {
    expect(parseRepoConfig('sinks: [check-run\n').ok).toBe(false);
    expect(parseRepoConfig('- a\n- b\n').ok).toBe(false);
    expect(parseRepoConfig('a: 1\na: 2\n').ok).toBe(false);
    expect(parseRepoConfig(`# ${'x'.repeat(REPO_CONFIG_MAX_BYTES)}\n`)).toEqual({ ok: false, issues: [`the file is larger than ${REPO_CONFIG_MAX_BYTES} bytes`] });
  });

  it('refuses an alias bomb instead of expanding it', () => {
    const bomb = ['a: &a [x, x, x, x, x, x, x, x, x, x]', ...Array.from({ length: 8 }, (_, i) => `${String.fromCharCode(98 + i)}: &${String.fromCharCode(98 + i)} [${Array(10).fill(`*${String.fromCharCode(97 + i)}`).join(', ')}]`)].join('\n');
    expect(parseRepoConfig(bomb).ok).toBe(false);
  });

  it('never evaluates custom tags', () => {
    expect(parseRepoConfig('enabled: !!js/function "function () { return true }"').ok).toBe(false);
  });
});

describe('parsePrCommand', () => {
  it('finds the first line that is exactly /pitcrew <command>', () => {
    expect(parsePrCommand('/pitcrew fix')).toBe('fix');
    expect(parsePrCommand('Thanks!\r\n  /pitcrew rerun  \n/pitcrew quiet')).toBe('rerun');
    expect(parsePrCommand('/pitcrew\texplain')).toBe('explain');
    expect(parsePrCommand('/pitcrew quiet')).toBe('quiet');
  });

  it('names an unknown word, and ignores quotes, prose, code spans and other casing', () => {
    expect(parsePrCommand('/pitcrew deploy')).toEqual({ unknown: 'deploy' });
    expect(parsePrCommand('> /pitcrew fix')).toBeNull();
    expect(parsePrCommand('please /pitcrew fix')).toBeNull();
    expect(parsePrCommand('`/pitcrew fix`')).toBeNull();
    expect(parsePrCommand('/pitcrew fix now')).toBeNull();
    expect(parsePrCommand('/PITCREW FIX')).toBeNull();
    expect(parsePrCommand('/pitcrewfix')).toBeNull();
  });

  it('reads only the start of a long body', () => {
    expect(parsePrCommand(`${'x\n'.repeat(300)}/pitcrew fix`)).toBeNull();
    expect(parsePrCommand(`${'x'.repeat(70_000)}\n/pitcrew fix`)).toBeNull();
  });
});
