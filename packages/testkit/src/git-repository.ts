import { execFileSync, spawn } from 'node:child_process';
import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { dirname, join } from 'node:path';

/** A real git repository made for a test, with a bare repository as its `origin`. */
export interface TestRepository {
  /** The working clone (the developer's side). */
  dir: string;
  /** The bare origin: what pitcrew fetches from and pushes to (`file://` URL in {@link TestRepository.url}). */
  origin: string;
  url: string;
  /** The commit made from the files (the failing SHA). */
  sha: string;
  /** Branch the commit is on. */
  branch: string;
  /** Runs git in the working clone. @returns stdout */
  git(...args: string[]): string;
  /** Runs git in the origin. @returns stdout */
  originGit(...args: string[]): string;
}

/**
 * Makes a repository under `root` from `files` (path → text), commits them on `branch` (default
 * `main`) and pushes to a bare origin next to it. Real git, no network.
 */
export async function createTestRepository(root: string, files: Record<string, string>, options: { branch?: string; message?: string } = {}): Promise<TestRepository> {
  const base = await mkdtemp(join(root, 'repo-'));
  const dir = join(base, 'work');
  const origin = join(base, 'origin.git');
  const branch = options.branch ?? 'main';
  const run = (cwd: string, args: string[]) => execFileSync('git', ['-c', 'user.name=Dev', '-c', 'user.email=dev@example.com', '-c', 'init.defaultBranch=main', ...args], { cwd, encoding: 'utf8' });
  execFileSync('git', ['init', '--quiet', '--bare', '--initial-branch=main', origin]);
  // GitHub serves any reachable commit by SHA; a bare repository does so when told.
  execFileSync('git', ['config', 'uploadpack.allowReachableSHA1InWant', 'true'], { cwd: origin });
  await mkdir(dir, { recursive: true });
  run(dir, ['init', '--quiet', `--initial-branch=${branch}`]);
  for (const [path, text] of Object.entries(files)) {
    await mkdir(dirname(join(dir, path)), { recursive: true });
    await writeFile(join(dir, path), text);
  }
  run(dir, ['add', '--all']);
  run(dir, ['commit', '--quiet', '-m', options.message ?? 'the failing commit']);
  run(dir, ['remote', 'add', 'origin', origin]);
  run(dir, ['push', '--quiet', 'origin', branch]);
  const sha = run(dir, ['rev-parse', 'HEAD']).trim();
  return { dir, origin, url: `file://${origin}`, sha, branch, git: (...args) => run(dir, args), originGit: (...args) => run(origin, args) };
}

/** A git smart-HTTP server for test repositories, and the `Authorization` headers it was sent. */
export interface GitHttpServer {
  /** `http://127.0.0.1:<port>`; a repository `<root>/x.git` is at `${url}/x.git`. */
  url: string;
  /** The `Authorization` header of every request (`null` when it had none). */
  authorizations: (string | null)[];
  stop(): Promise<void>;
}

/**
 * Serves the bare repositories under `root` over HTTP with git's own CGI, `git http-backend`
 * (fetch and push; git docs, "git-http-backend"), answering 401 to a request without the
 * `authorization` header given, as GitHub does to a push without a token. Real git, no network
 * beyond loopback.
 */
export async function startGitHttpServer(root: string, options: { authorization?: string } = {}): Promise<GitHttpServer> {
  const authorizations: (string | null)[] = [];
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const authorization = req.headers.authorization ?? null;
    authorizations.push(authorization);
    if (options.authorization && authorization !== options.authorization) {
      res.writeHead(401, { 'www-authenticate': 'Basic realm="test"' });
      return res.end();
    }
    const cgi = spawn('git', ['-c', 'http.receivepack=true', 'http-backend'], {
      env: {
        PATH: process.env.PATH ?? '/usr/bin:/bin',
        GIT_CONFIG_NOSYSTEM: '1',
        GIT_PROJECT_ROOT: root,
        GIT_HTTP_EXPORT_ALL: '1',
        REMOTE_USER: 'test',
        REQUEST_METHOD: req.method ?? 'GET',
        PATH_INFO: decodeURIComponent(url.pathname),
        QUERY_STRING: url.search.slice(1),
        CONTENT_TYPE: req.headers['content-type'] ?? '',
        ...(req.headers['content-encoding'] ? { HTTP_CONTENT_ENCODING: String(req.headers['content-encoding']) } : {}),
        ...(req.headers['git-protocol'] ? { GIT_PROTOCOL: String(req.headers['git-protocol']) } : {}),
      },
    });
    req.pipe(cgi.stdin);
    // CGI output: headers (a `Status:` line among them), a blank line, the body.
    let head = Buffer.alloc(0);
    let sent = false;
    cgi.stdout.on('data', (chunk: Buffer) => {
      if (sent) return void res.write(chunk);
      head = Buffer.concat([head, chunk]);
      const end = head.indexOf('\r\n\r\n');
      if (end < 0) return;
      const headers: Record<string, string> = {};
      let status = 200;
      for (const line of head.subarray(0, end).toString('latin1').split('\r\n')) {
        const [name, ...value] = line.split(':');
        if (name!.toLowerCase() === 'status') status = Number.parseInt(value.join(':').trim(), 10);
        else headers[name!] = value.join(':').trim();
      }
      res.writeHead(status, headers);
      res.write(head.subarray(end + 4));
      sent = true;
    });
    cgi.stdout.on('end', () => res.end());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    authorizations,
    stop: () =>
      new Promise((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
