import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Octokit } from '@octokit/rest';
import { RequestError } from '@octokit/request-error';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeGithub, type FakeGithub } from './fake-github.ts';
import { createTestRepository, type TestRepository } from './git-repository.ts';

// The pull request, label and ref endpoints, checked through Octokit (so the shapes are the ones
// a real client reads), with refs and head SHAs read by real git from a real bare origin.
const OWNER = 'octo-org';
const REPO = 'fake-pulls';
let github: FakeGithub;
let octokit: Octokit;
let root: string;
let repo: TestRepository;

beforeAll(async () => {
  github = await startFakeGithub();
  const quiet = () => {};
  octokit = new Octokit({ baseUrl: github.url, auth: 'ghp_faketoken', log: { debug: quiet, info: quiet, warn: quiet, error: quiet } });
  root = await mkdtemp(join(tmpdir(), 'pitcrew-fake-github-'));
  repo = await createTestRepository(root, { 'README.md': 'hello\n' });
  repo.git('switch', '--quiet', '-c', 'feature/x');
  repo.git('commit', '--quiet', '--allow-empty', '-m', 'a feature');
  repo.git('push', '--quiet', 'origin', 'feature/x');
  github.setOrigin(OWNER, REPO, repo.origin);
});
afterAll(async () => {
  await github.stop();
  await rm(root, { recursive: true, force: true });
});

describe('the fake GitHub pull requests', () => {
  it('opens a draft pull request whose head SHA is the branch in the origin, and refuses a second one for that head', async () => {
    const { data, status } = await octokit.pulls.create({ owner: OWNER, repo: REPO, title: 'Fix it', body: 'the body', head: 'feature/x', base: 'main', draft: true, maintainer_can_modify: false });
    expect(status).toBe(201);
    const featureSha = repo.git('rev-parse', 'feature/x').trim();
    expect(data).toMatchObject({ number: expect.any(Number), state: 'open', draft: true, title: 'Fix it', body: 'the body', labels: [], html_url: `https://github.com/${OWNER}/${REPO}/pull/${data.number}` });
    expect(data.head).toMatchObject({ ref: 'feature/x', sha: featureSha, repo: { full_name: `${OWNER}/${REPO}` } });
    expect(data.base).toMatchObject({ ref: 'main', sha: repo.sha, repo: { full_name: `${OWNER}/${REPO}` } });
    expect(github.requests.find((r) => r.method === 'POST' && r.path.endsWith('/pulls'))!.body).toMatchObject({ draft: true, maintainer_can_modify: false });

    const duplicate = await octokit.pulls.create({ owner: OWNER, repo: REPO, title: 'Again', head: 'feature/x', base: 'main' }).catch((e: unknown) => e);
    expect(duplicate).toBeInstanceOf(RequestError);
    expect((duplicate as RequestError).status).toBe(422);
    expect((duplicate as RequestError).message).toContain(`A pull request already exists for ${OWNER}:feature/x.`);

    // A push moves the head, as on GitHub.
    repo.git('switch', '--quiet', 'feature/x');
    repo.git('commit', '--quiet', '--allow-empty', '-m', 'more');
    repo.git('push', '--quiet', 'origin', 'feature/x');
    const moved = await octokit.pulls.get({ owner: OWNER, repo: REPO, pull_number: data.number });
    expect(moved.data.head.sha).toBe(repo.git('rev-parse', 'HEAD').trim());
  });

  it('answers 422 for a head branch the origin does not have', async () => {
    const error = (await octokit.pulls.create({ owner: OWNER, repo: REPO, title: 't', head: 'no-such-branch', base: 'main' }).catch((e: unknown) => e)) as RequestError;
    expect(error.status).toBe(422);
  });

  it('lists by head, base and state, and updates title, body and state', async () => {
    const open = await octokit.pulls.list({ owner: OWNER, repo: REPO, head: `${OWNER}:feature/x`, state: 'open' });
    expect(open.data).toHaveLength(1);
    const number = open.data[0]!.number;
    expect(await octokit.pulls.list({ owner: OWNER, repo: REPO, head: `${OWNER}:other` })).toMatchObject({ data: [] });
    expect(await octokit.pulls.list({ owner: OWNER, repo: REPO, base: 'develop' })).toMatchObject({ data: [] });

    const { data } = await octokit.pulls.update({ owner: OWNER, repo: REPO, pull_number: number, title: 'Fixed', body: 'new body', state: 'closed' });
    expect(data).toMatchObject({ number, title: 'Fixed', body: 'new body', state: 'closed' });
    expect((await octokit.pulls.list({ owner: OWNER, repo: REPO, head: `${OWNER}:feature/x` })).data).toHaveLength(0);
    expect((await octokit.pulls.list({ owner: OWNER, repo: REPO, head: `${OWNER}:feature/x`, state: 'closed' })).data).toHaveLength(1);
    expect((await octokit.pulls.list({ owner: OWNER, repo: REPO, state: 'all' })).data.map((p) => p.number)).toContain(number);
    // Closed, the head may get a new pull request.
    expect((await octokit.pulls.create({ owner: OWNER, repo: REPO, title: 'Reopened work', head: 'feature/x', base: 'main' })).status).toBe(201);
  });

  it('seeds a fork pull request with labels, shares labels and numbers with issues, and lists it for its head commit', async () => {
    const seeded = github.seedPullRequest({ owner: OWNER, repo: REPO, head: { owner: 'forker', ref: 'patch-1', sha: 'f'.repeat(40) }, labels: ['pitcrew:fix'] });
    const { data } = await octokit.pulls.get({ owner: OWNER, repo: REPO, pull_number: seeded.number });
    expect(data.head).toMatchObject({ ref: 'patch-1', sha: 'f'.repeat(40), label: 'forker:patch-1', repo: { full_name: `forker/${REPO}`, fork: true } });
    expect(data.labels.map((l) => l.name)).toEqual(['pitcrew:fix']);

    const added = await octokit.issues.addLabels({ owner: OWNER, repo: REPO, issue_number: seeded.number, labels: ['bug', 'pitcrew:fix'] });
    expect(added.data.map((l) => l.name)).toEqual(['pitcrew:fix', 'bug']);
    expect((await octokit.issues.listLabelsOnIssue({ owner: OWNER, repo: REPO, issue_number: seeded.number })).data.map((l) => l.name)).toEqual(['pitcrew:fix', 'bug']);
    expect((await octokit.pulls.get({ owner: OWNER, repo: REPO, pull_number: seeded.number })).data.labels.map((l) => l.name)).toEqual(['pitcrew:fix', 'bug']);
    const issue = await octokit.issues.get({ owner: OWNER, repo: REPO, issue_number: seeded.number });
    expect(issue.data.pull_request).toMatchObject({ html_url: `https://github.com/${OWNER}/${REPO}/pull/${seeded.number}` });

    const next = await octokit.issues.create({ owner: OWNER, repo: REPO, title: 'an issue' });
    expect(next.data.number).toBe(seeded.number + 1);
    expect((await octokit.repos.listPullRequestsAssociatedWithCommit({ owner: OWNER, repo: REPO, commit_sha: 'f'.repeat(40) })).data.map((p) => p.number)).toEqual([seeded.number]);
    const missing = (await octokit.issues.addLabels({ owner: OWNER, repo: REPO, issue_number: 99_999, labels: ['x'] }).catch((e: unknown) => e)) as RequestError;
    expect(missing.status).toBe(404);
  });
});

describe('the fake GitHub refs', () => {
  it('reads a branch from the origin with git, a branch with slashes included, and answers 404 for one it lacks', async () => {
    const { data } = await octokit.git.getRef({ owner: OWNER, repo: REPO, ref: 'heads/feature/x' });
    expect(data).toMatchObject({ ref: 'refs/heads/feature/x', object: { sha: repo.originGit('rev-parse', 'feature/x').trim(), type: 'commit' } });
    expect((await octokit.git.getRef({ owner: OWNER, repo: REPO, ref: 'heads/main' })).data.object.sha).toBe(repo.sha);
    const missing = (await octokit.git.getRef({ owner: OWNER, repo: REPO, ref: 'heads/nope' }).catch((e: unknown) => e)) as RequestError;
    expect(missing.status).toBe(404);
    // No origin declared: nothing to read.
    expect(((await octokit.git.getRef({ owner: OWNER, repo: 'elsewhere', ref: 'heads/main' }).catch((e: unknown) => e)) as RequestError).status).toBe(404);
  });
});

describe('the fake GitHub GraphQL endpoint', () => {
  const MUTATION = 'mutation($id: ID!) { markPullRequestReadyForReview(input: {pullRequestId: $id}) { pullRequest { id isDraft } } }';

  it('marks a draft pull request ready for review by its node_id, through octokit.graphql', async () => {
    const pull = github.seedPullRequest({ owner: OWNER, repo: REPO, draft: true, head: { ref: 'feature/ready' } });
    const { data: before } = await octokit.pulls.get({ owner: OWNER, repo: REPO, pull_number: pull.number });
    expect(before).toMatchObject({ draft: true, node_id: `PR_${pull.id}` });
    const answer = await octokit.graphql<{ markPullRequestReadyForReview: { pullRequest: { id: string; isDraft: boolean } } }>(MUTATION, { id: before.node_id });
    expect(answer.markPullRequestReadyForReview.pullRequest).toEqual({ id: before.node_id, isDraft: false, number: pull.number });
    expect(pull.draft).toBe(false);
    expect(github.requests.at(-1)).toMatchObject({ method: 'POST', path: '/graphql', body: { variables: { id: before.node_id } } });
  });

  it('answers an unknown node and any other document with GraphQL errors', async () => {
    await expect(octokit.graphql(MUTATION, { id: 'PR_nope' })).rejects.toMatchObject({ errors: [{ type: 'NOT_FOUND' }] });
    await expect(octokit.graphql('query { viewer { login } }')).rejects.toMatchObject({ errors: [{ type: 'UNSUPPORTED' }] });
  });
});
