import { execFile } from 'node:child_process';
import { createHash, generateKeyPairSync, randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { promisify } from 'node:util';

const run = promisify(execFile);
/** git for the origins: no system config, no prompts. */
const gitEnv = { PATH: process.env.PATH ?? '/usr/bin:/bin', GIT_CONFIG_NOSYSTEM: '1', GIT_TERMINAL_PROMPT: '0', LANG: 'C' };

/**
 * A local stand-in for the GitHub REST API (api.github.com or GHES `/api/v3`) that serves the
 * Actions endpoints pitcrew reads, in the shapes GitHub documents: paginated job listings with
 * `Link` headers, job logs as a 302 redirect to a short-lived blob URL, 410 for expired logs, and
 * installation access tokens for GitHub App auth — and the endpoints pitcrew writes to when it
 * publishes: check runs (create, update, list for a ref), issue/PR comments (list, create,
 * update, delete), issues (create, update, get) and a commit's pull requests, recording every
 * request body — and those it proposes fixes with: pull requests (create, list with `head`,
 * `base` and `state` filters, get, update; 422 for a second open PR of one head, as GitHub
 * answers), issue/PR labels, and git refs — and GraphQL's `POST /graphql` (GHES `/api/graphql`)
 * for the one mutation REST has no endpoint for, `markPullRequestReadyForReview` (a PR by its
 * `node_id`, `PR_<id>`; draft → ready), and the re-runs of a job or of a run's failed jobs, answering other documents with GraphQL `errors` as GitHub
 * does (status 200). Refs and pull request head SHAs are read with real
 * `git` from a bare repository declared per repository ({@link FakeGithub.setOrigin}), so a push
 * made by the code under test is what the API reports — and those of per-repository
 * configuration and PR commands: a file's contents with ETag and `304` ({@link FakeGithub.setFile}),
 * a collaborator's permission ({@link FakeGithub.setCollaborator}), comment reactions and
 * re-runs of a run's failed jobs — and GitHub's App manifest flow ({@link FakeGithub.apps}): the
 * web form `POST /settings/apps/new` (or `/organizations/{org}/settings/apps/new`) and the API's
 * `POST /app-manifests/{code}/conversions`. Production code only knows `GITHUB_API_URL` (and, for
 * the manifest flow, the web base URL).
 */
export interface FakeGithubJob {
  id: number;
  name: string;
  conclusion: string | null;
  steps?: { name: string; conclusion: string | null; number: number }[];
  /** Log text; `'expired'` answers 410, `undefined` answers 404. */
  log?: string | 'expired';
}

export interface FakeGithubRequest {
  method: string;
  path: string;
  headers: Record<string, string | string[] | undefined>;
  /** Parsed JSON body of a request that had one. */
  body?: any;
}

/** A check run as the fake stores it (GitHub's response shape). */
export interface FakeCheckRun {
  id: number;
  owner: string;
  repo: string;
  name: string;
  head_sha: string;
  external_id: string | null;
  /** "The URL of the integrator's site that has the full details of the check" (REST docs). */
  details_url: string | null;
  status: string;
  conclusion: string | null;
  output: { title: string | null; summary: string | null; text: string | null };
}

/** An issue or pull request comment as the fake stores it. */
export interface FakeComment {
  id: number;
  owner: string;
  repo: string;
  issue_number: number;
  body: string;
  user: { login: string; id: number; type: string };
}

/** An issue as the fake stores it. */
export interface FakeIssue {
  id: number;
  owner: string;
  repo: string;
  number: number;
  title: string;
  body: string | null;
  state: 'open' | 'closed';
  labels: string[];
}

/**
 * A pull request as the fake stores it. A pull request is an issue: the same object is in
 * {@link FakeGithub.issues} under its number, so its title, body, state and labels are the
 * issue's (`PATCH …/issues/{n}`, `POST …/issues/{n}/labels` change both).
 */
export interface FakePullRequest extends FakeIssue {
  draft: boolean;
  maintainerCanModify: boolean;
  /**
   * The head: a branch of the same repository, or of a fork (`owner`/`repo` differ). `sha` is the
   * head commit when no origin is declared for the head repository; with one, the branch's commit
   * in it is read at each request (a push moves the PR's head, as on GitHub).
   */
  head: { owner: string; repo: string; ref: string; sha: string };
  base: { ref: string; sha: string };
  user: { login: string; id: number; type: string };
}

/** A pull request to seed with {@link FakeGithub.seedPullRequest}; a fork's head names its `owner` (and `repo`). */
export interface FakePullRequestSeed {
  owner: string;
  repo: string;
  number?: number;
  title?: string;
  body?: string | null;
  state?: 'open' | 'closed';
  draft?: boolean;
  labels?: string[];
  head: { ref: string; owner?: string; repo?: string; sha?: string };
  base?: { ref: string; sha?: string };
}

/** Where a run ran: its commit and workflow. */
export interface FakeGithubRunMeta {
  headSha: string;
  workflowName: string;
  workflowId?: number;
}

export interface FakeGithub {
  /** Base URL to use as `GITHUB_API_URL`. */
  url: string;
  requests: FakeGithubRequest[];
  /**
   * Declares the jobs of a run attempt; `meta` places the run on a commit and workflow so that
   * `GET /repos/{owner}/{repo}/actions/runs?head_sha=` lists it (latest attempt per run, as GitHub does).
   */
  setRun(owner: string, repo: string, runId: number, attempt: number, jobs: FakeGithubJob[], meta?: FakeGithubRunMeta): void;
  /** Check runs created (`POST …/check-runs`) and updated in place (`PATCH …/check-runs/{id}`). */
  checkRuns: Map<number, FakeCheckRun>;
  /** Issue and pull request comments (`…/issues/{n}/comments`, `…/issues/comments/{id}`). */
  comments: Map<number, FakeComment>;
  /** Issues (`POST …/issues`, `PATCH …/issues/{n}`), by `owner/repo#number`. */
  issues: Map<string, FakeIssue>;
  /**
   * Answers the next `times` requests whose method and path match with `status` and a GitHub error
   * body (a 5xx outage, a 403 permission error) instead of serving them.
   */
  failNext(method: string, path: RegExp, status: number, times?: number): void;
  /** Declares open pull requests whose head is `headSha` (`GET …/commits/{sha}/pulls` lists them). */
  setPullRequests(owner: string, repo: string, headSha: string, numbers: number[]): void;
  /**
   * Pull requests created (`POST …/pulls`), seeded, and updated in place (`PATCH …/pulls/{n}`), by
   * `owner/repo#number`. `GET …/commits/{sha}/pulls` lists those whose head is at `sha` too.
   */
  pulls: Map<string, FakePullRequest>;
  /** Adds a pull request as if someone had opened it (for instance from a fork, with labels). */
  seedPullRequest(seed: FakePullRequestSeed): FakePullRequest;
  /**
   * Declares the bare git repository that holds `owner/repo`: `GET …/git/ref/{ref}` and pull
   * request head and base SHAs are read from it with `git`, and a pull request's head and base
   * branches must exist in it (GitHub answers 422 otherwise).
   */
  setOrigin(owner: string, repo: string, barePath: string): void;
  /**
   * Re-runs requested: `POST …/actions/jobs/{job_id}/rerun` (`scope: 'job'`, `id` the job) and
   * `POST …/actions/runs/{run_id}/rerun-failed-jobs` (`scope: 'run'`, `id` the run), in order; both
   * answer 201 with an empty body, as GitHub does.
   */
  reruns: FakeRerun[];
  /**
   * Puts a file on the repository's default branch (`null` removes it): `GET
   * …/contents/{path}` answers it base64-encoded with an `ETag` (its blob SHA), and `304 Not
   * Modified` with no body to a request whose `If-None-Match` is that ETag (GitHub REST docs,
   * "Repository contents", "Conditional requests").
   */
  setFile(owner: string, repo: string, path: string, text: string | null): void;
  /**
   * Makes `login` a collaborator of `owner/repo` with a role: `GET …/collaborators/{login}/permission`
   * answers `permission` (`admin`, `write`, `read`: `maintain` reads as `write` and `triage` as
   * `read`, as GitHub answers) and `role_name`; a login never seeded is `none`.
   */
  setCollaborator(owner: string, repo: string, login: string, role: 'admin' | 'maintain' | 'write' | 'triage' | 'read'): void;
  /** Reactions created (`POST …/issues/comments/{id}/reactions`), in order. */
  reactions: { owner: string; repo: string; commentId: number; content: string }[];
  /**
   * Apps registered through the manifest form, by code. The form (`manifest` field,
   * `application/x-www-form-urlencoded`, `?state=`) is answered as GitHub answers once the user
   * has confirmed on its page: `302` to the manifest's `redirect_url` with `?code=…&state=…`
   * (with `confirmApps`, first GitHub's page: a form the user submits to get that redirect). A
   * manifest without `url`, with a hook lacking its `url`, or with an event whose permission is
   * not granted answers 422. `POST /app-manifests/{code}/conversions` answers 201 with the App,
   * once per code (then 404, as for an unknown code).
   */
  apps: Map<string, FakeGithubApp>;
  stop(): Promise<void>;
}

/**
 * A GitHub App registered from a manifest: what the form carried, and what the conversion answers
 * (GitHub REST docs, "Create a GitHub App from a manifest": `id`, `slug`, `pem`, `webhook_secret`,
 * `client_id`, `client_secret`, ...). `converted` turns true at the first conversion; a code
 * converts once.
 */
export interface FakeGithubApp {
  code: string;
  /** The organisation of `/organizations/{org}/settings/apps/new`; `null` = the user's account. */
  org: string | null;
  /** The manifest as posted (parsed JSON). */
  manifest: any;
  /** The `state` query parameter of the form's POST, passed back on the redirect. */
  state: string | null;
  converted: boolean;
  /** The conversion's answer (status 201). */
  response: {
    id: number;
    slug: string;
    node_id: string;
    owner: { login: string; id: number; node_id: string; type: 'User' | 'Organization'; site_admin: boolean; url: string; html_url: string };
    name: string;
    description: string;
    external_url: string;
    html_url: string;
    created_at: string;
    updated_at: string;
    permissions: Record<string, string>;
    events: string[];
    client_id: string;
    client_secret: string;
    webhook_secret: string;
    /** PKCS#1 PEM (`-----BEGIN RSA PRIVATE KEY-----`), as GitHub hands out App keys. */
    pem: string;
  };
}

/**
 * The permission an App needs to subscribe to each event it may ask for (GitHub docs, "Webhook
 * events and payloads": each event's "Availability" names its permission); either one of a pair will do.
 */
const EVENT_PERMISSIONS: Record<string, string[]> = {
  check_run: ['checks'],
  check_suite: ['checks'],
  workflow_job: ['actions'],
  workflow_run: ['actions'],
  pull_request: ['pull_requests'],
  issue_comment: ['issues', 'pull_requests'],
  issues: ['issues'],
  push: ['contents'],
};

/** A re-run the fake was asked for. */
export interface FakeRerun {
  owner: string;
  repo: string;
  scope: 'job' | 'run';
  id: number;
}

/** Options of {@link startFakeGithub}. */
export interface FakeGithubOptions {
  /**
   * Answer the App manifest form with a confirmation page (a form whose button POSTs
   * `/settings/apps/new/confirm?code=…`, answered by the redirect back), as GitHub does, instead of
   * the redirect at once: a browser then leaves GitHub's own page for the redirect, a cross-site
   * navigation from the App's site's point of view.
   */
  confirmApps?: boolean;
}

export async function startFakeGithub(options: FakeGithubOptions = {}): Promise<FakeGithub> {
  const runs = new Map<string, FakeGithubJob[]>();
  const runMeta = new Map<string, FakeGithubRunMeta & { owner: string; repo: string; runId: number; attempt: number }>();
  const jobs = new Map<number, FakeGithubJob & { owner: string; repo: string; runId: number; attempt: number }>();
  const requests: FakeGithubRequest[] = [];
  const checkRuns = new Map<number, FakeCheckRun>();
  const comments = new Map<number, FakeComment>();
  const issues = new Map<string, FakeIssue>();
  const faults: { method: string; path: RegExp; status: number; left: number }[] = [];
  const pullsBySha = new Map<string, number[]>();
  const pulls = new Map<string, FakePullRequest>();
  const origins = new Map<string, string>();
  const labelIds = new Map<string, number>();
  const reruns: FakeRerun[] = [];
  const files = new Map<string, { text: string; sha: string }>();
  const collaborators = new Map<string, 'admin' | 'maintain' | 'write' | 'triage' | 'read'>();
  const reactions: FakeGithub['reactions'] = [];
  const apps = new Map<string, FakeGithubApp>();
  let nextId = 1_000_000;
  const sockets = new Set<Socket>();
  let base = '';

  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', base);
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const raw = Buffer.concat(chunks).toString('utf8');
      let body: unknown;
      try {
        // A browser's form post (the App manifest form) is url-encoded; the API's bodies are JSON.
        const form = String(req.headers['content-type'] ?? '').startsWith('application/x-www-form-urlencoded');
        body = raw ? (form ? Object.fromEntries(new URLSearchParams(raw)) : JSON.parse(raw)) : undefined;
      } catch {
        return json(res, 400, { message: 'Problems parsing JSON' });
      }
      requests.push({ method: req.method ?? 'GET', path: url.pathname + url.search, headers: req.headers, ...(body !== undefined ? { body } : {}) });
      const fault = faults.find((f) => f.left > 0 && f.method === req.method && f.path.test(url.pathname));
      if (fault) {
        fault.left--;
        return json(res, fault.status, { message: fault.status >= 500 ? 'Server Error' : 'Resource not accessible by integration', status: String(fault.status) });
      }
      handle(req, res, url, body as any).catch((error: unknown) => json(res, 500, { message: `fake GitHub: ${(error as Error).message}` }));
    });
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });

  /** The author GitHub would show: an App installation token (`ghs_`) posts as a bot. */
  function author(req: IncomingMessage) {
    const auth = String(req.headers.authorization ?? '');
    return auth.includes('ghs_') ? { login: 'pitcrew[bot]', id: 41898282, type: 'Bot' } : { login: 'pitcrew-user', id: 583231, type: 'User' };
  }
  const checkRunJson = (c: FakeCheckRun) => ({
    id: c.id,
    node_id: `CR_${c.id}`,
    head_sha: c.head_sha,
    external_id: c.external_id,
    url: `${base}/repos/${c.owner}/${c.repo}/check-runs/${c.id}`,
    html_url: `https://github.com/${c.owner}/${c.repo}/runs/${c.id}`,
    details_url: c.details_url,
    status: c.status,
    conclusion: c.conclusion,
    started_at: new Date().toISOString(),
    completed_at: c.status === 'completed' ? new Date().toISOString() : null,
    output: { ...c.output, annotations_count: 0, annotations_url: `${base}/repos/${c.owner}/${c.repo}/check-runs/${c.id}/annotations` },
    name: c.name,
    check_suite: { id: 5 },
    app: { id: 12345, slug: 'pitcrew', name: 'pitcrew' },
    pull_requests: [],
  });
  const commentJson = (c: FakeComment) => ({
    id: c.id,
    node_id: `IC_${c.id}`,
    url: `${base}/repos/${c.owner}/${c.repo}/issues/comments/${c.id}`,
    html_url: `https://github.com/${c.owner}/${c.repo}/pull/${c.issue_number}#issuecomment-${c.id}`,
    issue_url: `${base}/repos/${c.owner}/${c.repo}/issues/${c.issue_number}`,
    body: c.body,
    user: c.user,
    created_at: new Date().toISOString(),
    updated_at: new Date().toISOString(),
    author_association: 'NONE',
  });
  const issueJson = (i: FakeIssue) => ({
    id: i.id,
    node_id: `I_${i.id}`,
    url: `${base}/repos/${i.owner}/${i.repo}/issues/${i.number}`,
    repository_url: `${base}/repos/${i.owner}/${i.repo}`,
    html_url: `https://github.com/${i.owner}/${i.repo}/issues/${i.number}`,
    number: i.number,
    state: i.state,
    title: i.title,
    body: i.body,
    labels: i.labels.map((name) => labelJson(i.owner, i.repo, name)),
    assignees: [],
    comments: [...comments.values()].filter((c) => c.owner === i.owner && c.repo === i.repo && c.issue_number === i.number).length,
    created_at: new Date().toISOString(),
    updated_at: new Date().toISOString(),
    closed_at: null,
    author_association: 'NONE',
    ...(pulls.has(`${i.owner}/${i.repo}#${i.number}`)
      ? { pull_request: { url: `${base}/repos/${i.owner}/${i.repo}/pulls/${i.number}`, html_url: `https://github.com/${i.owner}/${i.repo}/pull/${i.number}`, merged_at: null } }
      : {}),
  });
  const labelJson = (owner: string, repo: string, name: string) => {
    const key = `${owner}/${repo}/${name}`;
    if (!labelIds.has(key)) labelIds.set(key, 7_000_000 + labelIds.size);
    const id = labelIds.get(key)!;
    return { id, node_id: `LA_${id}`, url: `${base}/repos/${owner}/${repo}/labels/${encodeURIComponent(name)}`, name, color: 'ededed', default: false, description: null };
  };
  /** The commit `ref` (`refs/heads/main`) points at in the declared origin of `owner/repo`, or `null`. */
  async function resolveRef(owner: string, repo: string, ref: string): Promise<string | null> {
    const origin = origins.get(`${owner}/${repo}`);
    if (!origin) return null;
    try {
      const { stdout } = await run('git', ['--git-dir', origin, 'rev-parse', '--verify', '--quiet', `${ref}^{commit}`], { env: gitEnv });
      return stdout.trim();
    } catch {
      return null;
    }
  }
  /** Whether `sha` is `head` or an ancestor of it in the declared origin of `owner/repo`. */
  async function isAncestor(owner: string, repo: string, sha: string, head: string): Promise<boolean> {
    const origin = origins.get(`${owner}/${repo}`);
    if (!origin) return false;
    return run('git', ['--git-dir', origin, 'merge-base', '--is-ancestor', sha, head], { env: gitEnv }).then(
      () => true,
      () => false,
    );
  }
  const repoJson = (owner: string, repo: string) => ({ id: 0, name: repo, full_name: `${owner}/${repo}`, owner: { login: owner }, html_url: `https://github.com/${owner}/${repo}`, fork: false });
  async function pullJson(p: FakePullRequest) {
    const headSha = (await resolveRef(p.head.owner, p.head.repo, `refs/heads/${p.head.ref}`)) ?? p.head.sha;
    const baseSha = (await resolveRef(p.owner, p.repo, `refs/heads/${p.base.ref}`)) ?? p.base.sha;
    return {
      id: p.id,
      node_id: `PR_${p.id}`,
      url: `${base}/repos/${p.owner}/${p.repo}/pulls/${p.number}`,
      html_url: `https://github.com/${p.owner}/${p.repo}/pull/${p.number}`,
      issue_url: `${base}/repos/${p.owner}/${p.repo}/issues/${p.number}`,
      number: p.number,
      state: p.state,
      locked: false,
      title: p.title,
      body: p.body,
      user: p.user,
      labels: p.labels.map((name) => labelJson(p.owner, p.repo, name)),
      draft: p.draft,
      maintainer_can_modify: p.maintainerCanModify,
      head: { label: `${p.head.owner}:${p.head.ref}`, ref: p.head.ref, sha: headSha, user: { login: p.head.owner }, repo: { ...repoJson(p.head.owner, p.head.repo), fork: p.head.owner !== p.owner || p.head.repo !== p.repo } },
      base: { label: `${p.owner}:${p.base.ref}`, ref: p.base.ref, sha: baseSha, user: { login: p.owner }, repo: repoJson(p.owner, p.repo) },
      created_at: new Date().toISOString(),
      updated_at: new Date().toISOString(),
      closed_at: null,
      merged_at: null,
      author_association: 'NONE',
    };
  }
  /**
   * GraphQL (`{query, variables}`): `markPullRequestReadyForReview(input: {pullRequestId})`, the id
   * given inline or as a variable, answers `{pullRequest {id number isDraft}}` whatever the
   * selection; an unknown node is GitHub's `NOT_FOUND` error, any other document an error too.
   */
  function graphql(res: ServerResponse, body: any) {
    const error = (type: string, message: string, path?: string[]) => json(res, 200, { errors: [{ type, message, ...(path ? { path } : {}), locations: [] }] });
    const query = typeof body?.query === 'string' ? body.query : '';
    const mutation = /\bmarkPullRequestReadyForReview\s*\(/.test(query);
    if (!mutation) return error('UNSUPPORTED', `fake GitHub answers only the markPullRequestReadyForReview mutation, not: ${query.slice(0, 80)}`);
    const given = /pullRequestId\s*:\s*(?:\$(\w+)|"([^"]*)")/.exec(query);
    const input = body?.variables?.input;
    const id: unknown = given?.[2] ?? (given?.[1] ? body?.variables?.[given[1]] : undefined) ?? input?.pullRequestId;
    const pull = [...pulls.values()].find((p) => `PR_${p.id}` === id);
    if (!pull) return error('NOT_FOUND', `Could not resolve to a node with the global id of '${String(id)}'`, ['markPullRequestReadyForReview']);
    pull.draft = false;
    return json(res, 200, { data: { markPullRequestReadyForReview: { pullRequest: { id, number: pull.number, isDraft: false } } } });
  }
  /** `PATCH` of an issue or pull request: the fields they share. */
  function updateIssue(issue: FakeIssue, body: any) {
    if (typeof body?.title === 'string') issue.title = body.title;
    if (body?.body !== undefined) issue.body = body.body;
    if (body?.state === 'open' || body?.state === 'closed') issue.state = body.state;
  }
  /** The next number of an issue or pull request of `owner/repo` (they share one sequence). */
  const nextNumber = (owner: string, repo: string) => 1 + Math.max(1000, ...[...issues.values()].filter((i) => i.owner === owner && i.repo === repo).map((i) => i.number));
  function addPull(p: FakePullRequest) {
    pulls.set(`${p.owner}/${p.repo}#${p.number}`, p);
    issues.set(`${p.owner}/${p.repo}#${p.number}`, p);
    return p;
  }
  /** A page of `list` as GitHub serves it (`per_page` ≤ 100, `page`, `Link` header). */
  function page<T>(res: ServerResponse, url: URL, list: T[], wrap: (items: T[]) => unknown = (items) => items) {
    const perPage = Math.min(100, Number(url.searchParams.get('per_page') ?? 30));
    const p = Number(url.searchParams.get('page') ?? 1);
    const last = Math.max(1, Math.ceil(list.length / perPage));
    const links: string[] = [];
    const link = (n: number, rel: string) => {
      const next = new URL(url);
      next.searchParams.set('page', String(n));
      links.push(`<${next.toString()}>; rel="${rel}"`);
    };
    if (p < last) link(p + 1, 'next');
    if (p > 1) link(p - 1, 'prev');
    link(last, 'last');
    return json(res, 200, wrap(list.slice((p - 1) * perPage, p * perPage)), { link: links.join(', ') });
  }
  const notFound = (res: ServerResponse) => json(res, 404, { message: 'Not Found', documentation_url: 'https://docs.github.com/rest' });
  const invalid = (res: ServerResponse, field: string) =>
    json(res, 422, { message: 'Invalid request.', errors: [{ resource: 'Request', field, code: 'missing_field' }], documentation_url: 'https://docs.github.com/rest' });
  /** GitHub refuses check-run output fields over 65535 characters (github/docs#3765). */
  const tooLong = (output: any) => ['title', 'summary', 'text'].some((k) => typeof output?.[k] === 'string' && Buffer.byteLength(output[k]) > 65535);

  /**
   * The manifest form's POST: validates the manifest, registers the App under a new code and
   * redirects the browser to `redirect_url?code=…&state=…` (skipping the page where a user confirms).
   */
  function registerApp(res: ServerResponse, url: URL, org: string | null, body: any) {
    let manifest: any;
    try {
      manifest = JSON.parse(String(body?.manifest ?? ''));
    } catch {
      return json(res, 422, { message: 'Invalid manifest: not JSON' });
    }
    if (typeof manifest?.url !== 'string' || !manifest.url) return json(res, 422, { message: 'Invalid manifest: url is required' });
    if (manifest.hook_attributes && typeof manifest.hook_attributes.url !== 'string') return json(res, 422, { message: 'Invalid manifest: hook_attributes.url is required' });
    const permissions: Record<string, string> = manifest.default_permissions ?? {};
    const events: string[] = manifest.default_events ?? [];
    const missing = events.filter((e) => !(EVENT_PERMISSIONS[e] ?? [e]).some((p) => permissions[p] === 'read' || permissions[p] === 'write' || permissions[p] === 'admin'));
    if (missing.length) return json(res, 422, { message: `Invalid manifest: default events need their permission: ${missing.join(', ')}` });
    const name = String(manifest.name ?? 'app');
    const slug = name.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '');
    const id = nextId++;
    const login = org ?? 'pitcrew-user';
    const code = randomBytes(10).toString('hex');
    // GitHub hands out PKCS#1 ("BEGIN RSA PRIVATE KEY") keys for Apps.
    const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048, privateKeyEncoding: { type: 'pkcs1', format: 'pem' }, publicKeyEncoding: { type: 'spki', format: 'pem' } });
    const now = new Date().toISOString();
    const app: FakeGithubApp = {
      code,
      org,
      manifest,
      state: url.searchParams.get('state'),
      converted: false,
      response: {
        id,
        slug,
        node_id: `A_${id}`,
        owner: { login, id: org ? 9919 : 583231, node_id: `${org ? 'O' : 'U'}_${login}`, type: org ? 'Organization' : 'User', site_admin: false, url: `${base}/${org ? 'orgs' : 'users'}/${login}`, html_url: `https://github.com/${login}` },
        name,
        description: String(manifest.description ?? ''),
        external_url: manifest.url,
        html_url: `https://github.com/apps/${slug}`,
        created_at: now,
        updated_at: now,
        permissions: { ...permissions, ...(permissions.metadata ? {} : { metadata: 'read' }) },
        events,
        client_id: `Iv1.${randomBytes(8).toString('hex')}`,
        client_secret: randomBytes(20).toString('hex'),
        webhook_secret: randomBytes(20).toString('hex'),
        pem: privateKey,
      },
    };
    apps.set(code, app);
    if (options.confirmApps) {
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
      return res.end(
        `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Create GitHub App</title><link rel="icon" href="data:,"></head><body><h1>Create GitHub App for ${login}</h1>` +
          `<form method="post" action="/settings/apps/new/confirm?code=${code}"><button type="submit">Create GitHub App for ${login}</button></form></body></html>`,
      );
    }
    return redirectBack(res, app);
  }

  /** GitHub's redirect once the user confirmed: the manifest's `redirect_url` with `?code=…&state=…`. */
  function redirectBack(res: ServerResponse, app: FakeGithubApp) {
    const redirect = new URL(app.manifest.redirect_url ?? app.response.html_url);
    redirect.searchParams.set('code', app.code);
    if (app.state !== null) redirect.searchParams.set('state', app.state);
    res.writeHead(302, { location: redirect.toString() });
    return res.end();
  }

  async function handle(req: IncomingMessage, res: ServerResponse, url: URL, body: any = undefined) {
    let m: RegExpExecArray | null;
    if (req.method === 'POST' && (m = /^(?:\/organizations\/([^/]+))?\/settings\/apps\/new$/.exec(url.pathname))) {
      return registerApp(res, url, m[1] ? decodeURIComponent(m[1]) : null, body);
    }
    if (req.method === 'POST' && url.pathname === '/settings/apps/new/confirm') {
      const app = apps.get(url.searchParams.get('code') ?? '');
      return app ? redirectBack(res, app) : notFound(res);
    }
    if (req.method === 'POST' && (m = /^\/app-manifests\/([^/]+)\/conversions$/.exec(url.pathname))) {
      const app = apps.get(decodeURIComponent(m[1]!));
      if (!app || app.converted) return notFound(res);
      app.converted = true;
      return json(res, 201, app.response);
    }
    if (req.method === 'GET' && (m = /^\/repos\/([^/]+)\/([^/]+)\/contents\/(.+)$/.exec(url.pathname))) {
      const path = decodeURIComponent(m[3]!);
      const file = files.get(`${m[1]}/${m[2]}/${path}`);
      if (!file) return notFound(res);
      const etag = `"${file.sha}"`;
      if (req.headers['if-none-match'] === etag) {
        res.writeHead(304, { etag });
        return res.end();
      }
      const content = Buffer.from(file.text).toString('base64').replace(/(.{60})/g, '$1\n');
      return json(res, 200, { type: 'file', encoding: 'base64', size: Buffer.byteLength(file.text), name: path.split('/').pop(), path, content, sha: file.sha, url: `${base}/repos/${m[1]}/${m[2]}/contents/${path}` }, { etag });
    }
    if (req.method === 'GET' && (m = /^\/repos\/([^/]+)\/([^/]+)\/collaborators\/([^/]+)\/permission$/.exec(url.pathname))) {
      const login = decodeURIComponent(m[3]!);
      const role = collaborators.get(`${m[1]}/${m[2]}/${login.toLowerCase()}`) ?? 'none';
      const permission = role === 'maintain' ? 'write' : role === 'triage' ? 'read' : role;
      return json(res, 200, { permission, role_name: role, user: { login, id: 1, type: 'User', permissions: { admin: role === 'admin', maintain: role === 'admin' || role === 'maintain', push: permission === 'admin' || permission === 'write', triage: role !== 'none' && role !== 'read', pull: role !== 'none' } } });
    }
    if (req.method === 'POST' && (m = /^\/repos\/([^/]+)\/([^/]+)\/issues\/comments\/(\d+)\/reactions$/.exec(url.pathname))) {
      const comment = comments.get(Number(m[3]));
      if (comment && (comment.owner !== m[1] || comment.repo !== m[2])) return notFound(res);
      if (!['+1', '-1', 'laugh', 'confused', 'heart', 'hooray', 'rocket', 'eyes'].includes(body?.content)) return invalid(res, 'content');
      reactions.push({ owner: m[1]!, repo: m[2]!, commentId: Number(m[3]), content: body.content });
      return json(res, 201, { id: nextId++, node_id: 'REA_x', content: body.content, user: author(req), created_at: new Date().toISOString() });
    }
    if (req.method === 'POST' && (url.pathname === '/graphql' || url.pathname === '/api/graphql')) return graphql(res, body);
    if (req.method === 'POST' && (m = /^\/repos\/([^/]+)\/([^/]+)\/check-runs$/.exec(url.pathname))) {
      if (!body?.name || !body?.head_sha) return invalid(res, body?.name ? 'head_sha' : 'name');
      if (tooLong(body.output)) return json(res, 422, { message: 'Invalid request.\n\nOnly 65535 characters are allowed; 65536 were supplied.' });
      const run: FakeCheckRun = {
        id: nextId++,
        owner: m[1]!,
        repo: m[2]!,
        name: body.name,
        head_sha: body.head_sha,
        external_id: body.external_id ?? null,
        details_url: body.details_url ?? null,
        status: body.status ?? (body.conclusion ? 'completed' : 'queued'),
        conclusion: body.conclusion ?? null,
        output: { title: body.output?.title ?? null, summary: body.output?.summary ?? null, text: body.output?.text ?? null },
      };
      checkRuns.set(run.id, run);
      return json(res, 201, checkRunJson(run));
    }
    if (req.method === 'PATCH' && (m = /^\/repos\/([^/]+)\/([^/]+)\/check-runs\/(\d+)$/.exec(url.pathname))) {
      const run = checkRuns.get(Number(m[3]));
      if (!run || run.owner !== m[1] || run.repo !== m[2]) return notFound(res);
      if (tooLong(body?.output)) return json(res, 422, { message: 'Invalid request.\n\nOnly 65535 characters are allowed; 65536 were supplied.' });
      if (body?.name) run.name = body.name;
      if (body?.external_id !== undefined) run.external_id = body.external_id;
      if (body?.details_url !== undefined) run.details_url = body.details_url;
      if (body?.status) run.status = body.status;
      if (body?.conclusion) Object.assign(run, { conclusion: body.conclusion, status: 'completed' });
      if (body?.output) run.output = { title: body.output.title ?? null, summary: body.output.summary ?? null, text: body.output.text ?? null };
      return json(res, 200, checkRunJson(run));
    }
    if (req.method === 'GET' && (m = /^\/repos\/([^/]+)\/([^/]+)\/commits\/([^/]+)\/check-runs$/.exec(url.pathname))) {
      const name = url.searchParams.get('check_name');
      const list = [...checkRuns.values()].filter((c) => c.owner === m![1] && c.repo === m![2] && c.head_sha === m![3] && (!name || c.name === name));
      return page(res, url, list.map(checkRunJson), (items) => ({ total_count: list.length, check_runs: items }));
    }
    if (req.method === 'GET' && (m = /^\/repos\/([^/]+)\/([^/]+)\/commits\/([^/]+)\/pulls$/.exec(url.pathname))) {
      const [owner, repo, sha] = [m[1]!, m[2]!, m[3]!];
      const list = (pullsBySha.get(`${owner}/${repo}/${sha}`) ?? []).map((number) => ({
        id: 500_000 + number,
        number,
        state: 'open',
        title: `PR ${number}`,
        html_url: `https://github.com/${owner}/${repo}/pull/${number}`,
        url: `${base}/repos/${owner}/${repo}/pulls/${number}`,
        head: { ref: `topic-${number}`, sha, repo: { full_name: `${owner}/${repo}` } },
        base: { ref: 'main', sha: '0'.repeat(40), repo: { full_name: `${owner}/${repo}` } },
        user: { login: 'octocat', id: 1, type: 'User' },
        draft: false,
        merged_at: null,
      }));
      // GitHub lists the open pull requests that contain the commit (at their head or below it).
      for (const p of pulls.values()) {
        if (p.owner !== owner || p.repo !== repo || list.some((l) => l.number === p.number)) continue;
        const json = await pullJson(p);
        if (json.head.sha === sha || (p.state === 'open' && (await isAncestor(p.head.owner, p.head.repo, sha, json.head.sha)))) list.push(json as any);
      }
      return page(res, url, list);
    }
    if ((m = /^\/repos\/([^/]+)\/([^/]+)\/pulls$/.exec(url.pathname))) {
      const [owner, repo] = [m[1]!, m[2]!];
      if (req.method === 'POST') {
        for (const field of ['title', 'head', 'base']) if (typeof body?.[field] !== 'string' || !body[field]) return invalid(res, field);
        const [headOwner, headRef] = body.head.includes(':') ? body.head.split(/:(.*)/s) : [owner, body.head];
        const head = { owner: headOwner, repo, ref: headRef };
        const validation = (field: string, code: string, message?: string) =>
          json(res, 422, { message: 'Validation Failed', errors: [{ resource: 'PullRequest', field, code, ...(message ? { message } : {}) }], documentation_url: 'https://docs.github.com/rest/pulls/pulls#create-a-pull-request' });
        const duplicate = [...pulls.values()].find((p) => p.owner === owner && p.repo === repo && p.state === 'open' && p.head.owner === head.owner && p.head.repo === head.repo && p.head.ref === head.ref && p.base.ref === body.base);
        if (duplicate) return validation('', 'custom', `A pull request already exists for ${head.owner}:${head.ref}.`);
        const headSha = origins.has(`${head.owner}/${head.repo}`) ? await resolveRef(head.owner, head.repo, `refs/heads/${head.ref}`) : '0'.repeat(40);
        if (!headSha) return validation('head', 'invalid');
        const baseSha = origins.has(`${owner}/${repo}`) ? await resolveRef(owner, repo, `refs/heads/${body.base}`) : '0'.repeat(40);
        if (!baseSha) return validation('base', 'invalid');
        const pull = addPull({
          id: nextId++,
          owner,
          repo,
          number: nextNumber(owner, repo),
          title: body.title,
          body: body.body ?? null,
          state: 'open',
          labels: [],
          draft: body.draft === true,
          maintainerCanModify: body.maintainer_can_modify !== false,
          head: { ...head, sha: headSha },
          base: { ref: body.base, sha: baseSha },
          user: author(req),
        });
        return json(res, 201, await pullJson(pull));
      }
      if (req.method === 'GET') {
        const state = url.searchParams.get('state') ?? 'open';
        const head = url.searchParams.get('head');
        const baseRef = url.searchParams.get('base');
        const list = [...pulls.values()]
          .filter((p) => p.owner === owner && p.repo === repo && (state === 'all' || p.state === state) && (!baseRef || p.base.ref === baseRef))
          .filter((p) => !head || (head.includes(':') ? `${p.head.owner}:${p.head.ref}` === head : p.head.owner === head))
          .sort((a, b) => b.number - a.number);
        return page(res, url, await Promise.all(list.map(pullJson)));
      }
    }
    if ((m = /^\/repos\/([^/]+)\/([^/]+)\/pulls\/(\d+)$/.exec(url.pathname))) {
      const pull = pulls.get(`${m[1]}/${m[2]}#${m[3]}`);
      if (!pull) return notFound(res);
      if (req.method === 'PATCH') {
        updateIssue(pull, body);
        if (typeof body?.base === 'string') pull.base.ref = body.base;
        return json(res, 200, await pullJson(pull));
      }
      if (req.method === 'GET') return json(res, 200, await pullJson(pull));
    }
    if ((m = /^\/repos\/([^/]+)\/([^/]+)\/issues\/(\d+)\/labels$/.exec(url.pathname))) {
      const issue = issues.get(`${m[1]}/${m[2]}#${m[3]}`);
      if (!issue) return notFound(res);
      const labels = () => issue.labels.map((name) => labelJson(issue.owner, issue.repo, name));
      if (req.method === 'GET') return page(res, url, labels());
      if (req.method === 'POST') {
        // `{labels: [...]}` or, as GitHub also accepts, the array itself; answers every label the issue now has.
        const names: unknown = Array.isArray(body) ? body : body?.labels;
        if (!Array.isArray(names) || names.some((n) => typeof n !== 'string' || !n)) return invalid(res, 'labels');
        for (const name of names as string[]) if (!issue.labels.includes(name)) issue.labels.push(name);
        return json(res, 200, labels());
      }
    }
    if (req.method === 'GET' && (m = /^\/repos\/([^/]+)\/([^/]+)\/git\/ref\/(.+)$/.exec(url.pathname))) {
      // Octokit sends `heads/pitcrew/fix/x` as one encoded segment (`heads%2Fpitcrew%2Ffix%2Fx`).
      const ref = `refs/${decodeURIComponent(m[3]!)}`;
      const sha = await resolveRef(m[1]!, m[2]!, ref);
      if (!sha) return notFound(res);
      return json(res, 200, { ref, node_id: `REF_${sha.slice(0, 12)}`, url: `${base}/repos/${m[1]}/${m[2]}/git/${ref}`, object: { sha, type: 'commit', url: `${base}/repos/${m[1]}/${m[2]}/git/commits/${sha}` } });
    }
    if ((m = /^\/repos\/([^/]+)\/([^/]+)\/issues\/(\d+)\/comments$/.exec(url.pathname))) {
      const [owner, repo, number] = [m[1]!, m[2]!, Number(m[3])];
      if (req.method === 'GET') {
        const list = [...comments.values()].filter((c) => c.owner === owner && c.repo === repo && c.issue_number === number).sort((a, b) => a.id - b.id);
        return page(res, url, list.map(commentJson));
      }
      if (req.method === 'POST') {
        if (typeof body?.body !== 'string') return invalid(res, 'body');
        const comment: FakeComment = { id: nextId++, owner, repo, issue_number: number, body: body.body, user: author(req) };
        comments.set(comment.id, comment);
        return json(res, 201, commentJson(comment));
      }
    }
    if ((m = /^\/repos\/([^/]+)\/([^/]+)\/issues\/comments\/(\d+)$/.exec(url.pathname))) {
      const comment = comments.get(Number(m[3]));
      if (!comment || comment.owner !== m[1] || comment.repo !== m[2]) return notFound(res);
      if (req.method === 'PATCH') {
        if (typeof body?.body !== 'string') return invalid(res, 'body');
        comment.body = body.body;
        return json(res, 200, commentJson(comment));
      }
      if (req.method === 'DELETE') {
        comments.delete(comment.id);
        res.writeHead(204);
        return res.end();
      }
      if (req.method === 'GET') return json(res, 200, commentJson(comment));
    }
    if (req.method === 'POST' && (m = /^\/repos\/([^/]+)\/([^/]+)\/issues$/.exec(url.pathname))) {
      if (typeof body?.title !== 'string' || !body.title) return invalid(res, 'title');
      const [owner, repo] = [m[1]!, m[2]!];
      const number = nextNumber(owner, repo);
      const issue: FakeIssue = { id: nextId++, owner, repo, number, title: body.title, body: body.body ?? null, state: 'open', labels: body.labels ?? [] };
      issues.set(`${owner}/${repo}#${number}`, issue);
      return json(res, 201, issueJson(issue));
    }
    if ((m = /^\/repos\/([^/]+)\/([^/]+)\/issues\/(\d+)$/.exec(url.pathname))) {
      const issue = issues.get(`${m[1]}/${m[2]}#${m[3]}`);
      if (!issue) return notFound(res);
      if (req.method === 'PATCH') {
        updateIssue(issue, body);
        if (Array.isArray(body?.labels)) issue.labels = body.labels;
        return json(res, 200, issueJson(issue));
      }
      if (req.method === 'GET') return json(res, 200, issueJson(issue));
    }
    if (req.method === 'POST' && (m = /^\/repos\/([^/]+)\/([^/]+)\/actions\/jobs\/(\d+)\/rerun$/.exec(url.pathname))) {
      reruns.push({ owner: m[1]!, repo: m[2]!, scope: 'job', id: Number(m[3]) });
      return json(res, 201, {});
    }
    if (req.method === 'POST' && (m = /^\/repos\/([^/]+)\/([^/]+)\/actions\/runs\/(\d+)\/rerun-failed-jobs$/.exec(url.pathname))) {
      reruns.push({ owner: m[1]!, repo: m[2]!, scope: 'run', id: Number(m[3]) });
      return json(res, 201, {});
    }
    if (req.method === 'POST' && (m = /^\/app\/installations\/(\d+)\/access_tokens$/.exec(url.pathname))) {
      return json(res, 201, { token: `ghs_fakeinstallationtoken${m[1]}`, expires_at: new Date(Date.now() + 3600_000).toISOString(), permissions: { actions: 'read' } });
    }
    if (req.method === 'GET' && (m = /^\/repos\/([^/]+)\/([^/]+)\/actions\/runs$/.exec(url.pathname))) {
      const sha = url.searchParams.get('head_sha');
      const latest = new Map<number, FakeGithubRunMeta & { runId: number; attempt: number }>();
      for (const run of runMeta.values()) {
        if (run.owner !== m[1] || run.repo !== m[2] || (sha && run.headSha !== sha)) continue;
        if ((latest.get(run.runId)?.attempt ?? 0) < run.attempt) latest.set(run.runId, run);
      }
      const list = [...latest.values()];
      return json(res, 200, {
        total_count: list.length,
        workflow_runs: list.map((run) => ({
          id: run.runId,
          name: run.workflowName,
          workflow_id: run.workflowId ?? 1,
          head_sha: run.headSha,
          run_attempt: run.attempt,
          status: 'completed',
          conclusion: (runs.get(`${m![1]}/${m![2]}/${run.runId}/${run.attempt}`) ?? []).some((j) => j.conclusion === 'failure') ? 'failure' : 'success',
          html_url: `https://github.com/${m![1]}/${m![2]}/actions/runs/${run.runId}`,
        })),
      });
    }
    if (req.method === 'GET' && (m = /^\/repos\/([^/]+)\/([^/]+)\/actions\/runs\/(\d+)\/attempts\/(\d+)\/jobs$/.exec(url.pathname))) {
      const list = runs.get(`${m[1]}/${m[2]}/${m[3]}/${m[4]}`);
      if (!list) return json(res, 404, { message: 'Not Found', documentation_url: 'https://docs.github.com/rest' });
      const perPage = Math.min(100, Number(url.searchParams.get('per_page') ?? 30));
      const page = Number(url.searchParams.get('page') ?? 1);
      const last = Math.max(1, Math.ceil(list.length / perPage));
      const links: string[] = [];
      const link = (p: number, rel: string) => {
        const next = new URL(url);
        next.searchParams.set('page', String(p));
        links.push(`<${next.toString()}>; rel="${rel}"`);
      };
      if (page < last) link(page + 1, 'next');
      if (page > 1) link(page - 1, 'prev');
      link(last, 'last');
      return json(
        res,
        200,
        {
          total_count: list.length,
          jobs: list.slice((page - 1) * perPage, page * perPage).map((job) => ({
            id: job.id,
            run_id: Number(m![3]),
            run_attempt: Number(m![4]),
            name: job.name,
            status: 'completed',
            conclusion: job.conclusion,
            head_sha: runMeta.get(`${m![1]}/${m![2]}/${m![3]}/${m![4]}`)?.headSha ?? '0'.repeat(40),
            html_url: `https://github.com/${m![1]}/${m![2]}/actions/runs/${m![3]}/job/${job.id}`,
            steps: (job.steps ?? []).map((s) => ({ ...s, status: 'completed' })),
          })),
        },
        { link: links.join(', ') },
      );
    }
    if (req.method === 'GET' && (m = /^\/repos\/([^/]+)\/([^/]+)\/actions\/jobs\/(\d+)\/logs$/.exec(url.pathname))) {
      const job = jobs.get(Number(m[3]));
      if (!job || job.log === undefined) return json(res, 404, { message: 'Not Found' });
      if (job.log === 'expired') return json(res, 410, { message: 'Gone' });
      res.writeHead(302, { location: `${base}/_blobs/job-logs/${job.id}.txt?sig=fake` });
      return res.end();
    }
    if (req.method === 'GET' && (m = /^\/_blobs\/job-logs\/(\d+)\.txt$/.exec(url.pathname))) {
      const job = jobs.get(Number(m[1]));
      if (!job || typeof job.log !== 'string' || job.log === 'expired') return json(res, 404, { message: 'blob not found' });
      res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8' });
      return res.end(job.log);
    }
    return json(res, 404, { message: `Not Found: ${req.method} ${url.pathname}` });
  }

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url: base,
    requests,
    checkRuns,
    comments,
    issues,
    reruns,
    setPullRequests(owner, repo, headSha, numbers) {
      pullsBySha.set(`${owner}/${repo}/${headSha}`, numbers);
    },
    pulls,
    seedPullRequest(seed) {
      const number = seed.number ?? nextNumber(seed.owner, seed.repo);
      return addPull({
        id: nextId++,
        owner: seed.owner,
        repo: seed.repo,
        number,
        title: seed.title ?? `PR ${number}`,
        body: seed.body ?? null,
        state: seed.state ?? 'open',
        labels: [...(seed.labels ?? [])],
        draft: seed.draft ?? false,
        maintainerCanModify: true,
        head: { owner: seed.head.owner ?? seed.owner, repo: seed.head.repo ?? seed.repo, ref: seed.head.ref, sha: seed.head.sha ?? '0'.repeat(40) },
        base: { ref: seed.base?.ref ?? 'main', sha: seed.base?.sha ?? '0'.repeat(40) },
        user: { login: 'octocat', id: 1, type: 'User' },
      });
    },
    setOrigin(owner, repo, barePath) {
      origins.set(`${owner}/${repo}`, barePath);
    },
    setFile(owner, repo, path, text) {
      if (text === null) files.delete(`${owner}/${repo}/${path}`);
      else files.set(`${owner}/${repo}/${path}`, { text, sha: createHash('sha1').update(`blob ${Buffer.byteLength(text)}\0${text}`).digest('hex') });
    },
    setCollaborator(owner, repo, login, role) {
      collaborators.set(`${owner}/${repo}/${login.toLowerCase()}`, role);
    },
    reactions,
    apps,
    failNext(method, path, status, times = 1) {
      faults.push({ method: method.toUpperCase(), path, status, left: times });
    },
    setRun(owner, repo, runId, attempt, list, meta) {
      runs.set(`${owner}/${repo}/${runId}/${attempt}`, list);
      if (meta) runMeta.set(`${owner}/${repo}/${runId}/${attempt}`, { ...meta, owner, repo, runId, attempt });
      for (const job of list) jobs.set(job.id, { ...job, owner, repo, runId, attempt });
    },
    stop() {
      for (const s of sockets) s.destroy();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}

function json(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) {
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', ...headers });
  res.end(JSON.stringify(body));
}
