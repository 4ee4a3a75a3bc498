import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

/**
 * A local stand-in for the GitHub REST API (api.github.com or GHES `/api/v3`) that serves the
 * Actions endpoints pitcrew reads, in the shapes GitHub documents: paginated job listings with
 * `Link` headers, job logs as a 302 redirect to a short-lived blob URL, 410 for expired logs, and
 * installation access tokens for GitHub App auth. Production code only knows `GITHUB_API_URL`.
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
  stop(): Promise<void>;
}

export async function startFakeGithub(): Promise<FakeGithub> {
  const runs = new Map<string, FakeGithubJob[]>();
  const runMeta = new Map<string, FakeGithubRunMeta & { owner: string; repo: string; runId: number; attempt: number }>();
  const jobs = new Map<number, FakeGithubJob & { owner: string; repo: string; runId: number; attempt: number }>();
  const requests: FakeGithubRequest[] = [];
  const sockets = new Set<Socket>();
  let base = '';

  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', base);
    requests.push({ method: req.method ?? 'GET', path: url.pathname + url.search, headers: req.headers });
    handle(req, res, url);
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });

  function handle(req: IncomingMessage, res: ServerResponse, url: URL) {
    let m: RegExpExecArray | null;
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
