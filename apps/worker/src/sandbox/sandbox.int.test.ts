import { lstat, mkdir, mkdtemp, readFile, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { agentEnvironment } from '../runners/agent-runner.ts';
import { runNodeSandboxed } from './fixtures/run-node.ts';
import { assertSandboxWorks, DEFAULT_SANDBOX, prepareSandboxWorkspace, SandboxUnavailableError, type SandboxPolicy } from './sandbox.ts';

// Real bubblewrap: these are the trust boundary's tests, not a model of it.
const MARKER = `pitcrew-secret-${process.pid}-${Date.now()}`;
let root: string;
let workspace: string;
let server: Server;
let port: number;

/** Runs `script` (JavaScript) with node in the sandbox; its stdout parsed as JSON. */
function sandboxed(script: string, policy: SandboxPolicy = DEFAULT_SANDBOX, env = { ...agentEnvironment(process.env), PITCREW_SANDBOX_TEST_MARKER: undefined }): Promise<{ code: number | null; out: any; stderr: string }> {
  return runNodeSandboxed(policy, script, { workspace, env });
}

beforeAll(async () => {
  process.env.DATABASE_URL ??= 'postgres://pitcrew:pw@127.0.0.1:5432/pitcrew';
  process.env.PITCREW_SANDBOX_TEST_MARKER = MARKER;
  root = await mkdtemp(join(tmpdir(), 'pitcrew-sandbox-'));
  workspace = join(root, 'workspace');
  await (await import('node:fs/promises')).mkdir(workspace);
  await writeFile(join(root, 'credentials.json'), JSON.stringify({ token: MARKER }));
  await prepareSandboxWorkspace(DEFAULT_SANDBOX, workspace);
  server = createServer((socket) => socket.end('reached'));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  port = (server.address() as { port: number }).port;
});
afterAll(async () => {
  delete process.env.PITCREW_SANDBOX_TEST_MARKER;
  await new Promise((r) => server.close(r));
  await rm(root, { recursive: true, force: true });
});

describe('the sandbox (bubblewrap)', () => {
  it('starts here', () => {
    expect(() => assertSandboxWorks(DEFAULT_SANDBOX)).not.toThrow();
  });

  it('writes only in the workspace; the rest of the system is read-only or absent', async () => {
    const { out } = await sandboxed(`
      const fs = require('fs');
      const attempt = (f) => { try { f(); return 'ok'; } catch (e) { return e.code; } };
      console.log(JSON.stringify({
        cwd: process.cwd(),
        workspace: attempt(() => fs.writeFileSync('fixed.txt', 'x')),
        usr: attempt(() => fs.writeFileSync('/usr/pitcrew-was-here', 'x')),
        etc: attempt(() => fs.writeFileSync('/etc/passwd', 'x')),
        outside: attempt(() => fs.readFileSync(${JSON.stringify(join(root, 'credentials.json'))})),
        shadow: attempt(() => fs.readFileSync('/etc/shadow')),
        rootHome: attempt(() => fs.readdirSync('/root')),
        docker: attempt(() => fs.statSync('/var/run/docker.sock')),
        uid: process.getuid(),
      }));`);
    expect(out).toMatchObject({ cwd: '/workspace', workspace: 'ok', usr: 'EROFS', outside: 'ENOENT', shadow: 'ENOENT', rootHome: 'ENOENT', docker: 'ENOENT' });
    expect(['EROFS', 'EACCES']).toContain(out.etc);
    if (process.getuid?.() === 0) expect(out.uid).toBe(DEFAULT_SANDBOX.uid); // not root inside
    expect(await readFile(join(workspace, 'fixed.txt'), 'utf8')).toBe('x');
  });

  it("sees no pitcrew credential: not in its environment, not in any process's /proc/*/environ", async () => {
    const { out } = await sandboxed(`
      const fs = require('fs');
      const pids = fs.readdirSync('/proc').filter((p) => /^\\d+$/.test(p));
      const leaked = pids.filter((p) => { try { return fs.readFileSync('/proc/' + p + '/environ', 'utf8').includes(${JSON.stringify(MARKER)}) || fs.readFileSync('/proc/' + p + '/environ', 'utf8').includes('DATABASE_URL'); } catch { return false; } });
      console.log(JSON.stringify({ env: Object.keys(process.env), pids: pids.length, leaked }));`);
    expect(out.env).not.toContain('DATABASE_URL');
    expect(out.leaked).toEqual([]);
    expect(out.pids).toBeLessThan(6); // its own PID namespace: bubblewrap, prlimit/node, nothing of the host
  });

  it('reaches no network with network off, and the host with network host', async () => {
    const probe = `require('net').connect(${port}, '127.0.0.1').on('data', (d) => { console.log(JSON.stringify(String(d))); process.exit(0); }).on('error', (e) => { console.log(JSON.stringify(e.code)); process.exit(0); });`;
    expect((await sandboxed(probe)).out).toBe('ECONNREFUSED'); // its own loopback, nothing listening
    expect((await sandboxed(probe, { ...DEFAULT_SANDBOX, network: 'host' })).out).toBe('reached');
  });

  it('limits memory and processes', async () => {
    const { out } = await sandboxed(
      `const a = []; let mem = 'unlimited'; try { for (let i = 0; i < 64; i++) a.push(Buffer.alloc(1 << 26)); } catch (e) { mem = 'refused after ' + a.length * 64 + ' MiB'; }
       const { spawnSync } = require('child_process'); const r = spawnSync('/bin/sh', ['-c', 'for i in $(seq 1 40); do sleep 1 & done; wait'], { encoding: 'utf8' });
       console.log(JSON.stringify({ mem, fork: r.stderr.includes('fork') || r.stderr.includes('Resource temporarily unavailable') }));`,
      // A uid of its own: RLIMIT_NPROC counts every process and thread of the uid on the host, so
      // other sandboxed tests running as `nobody` at the same time (node has a dozen threads) made
      // this node unable to start its threads and hang.
      { ...DEFAULT_SANDBOX, memoryBytes: 512 * 1024 ** 2, maxProcesses: 16, uid: 60_000 + (process.pid % 5_000) },
    );
    expect(out.mem).toMatch(/^refused after \d+ MiB$/);
    expect(out.fork).toBe(true);
  });

  it('hands the workspace over without following a symlink in it out of it', async () => {
    const repo = join(root, 'linked');
    await mkdir(join(repo, 'src'), { recursive: true });
    await symlink(join(root, 'credentials.json'), join(repo, 'src', 'link.json'));
    await symlink(root, join(repo, 'up'));
    await prepareSandboxWorkspace(DEFAULT_SANDBOX, repo);
    const uid = process.getuid?.() === 0 ? DEFAULT_SANDBOX.uid : process.getuid?.();
    expect((await lstat(join(repo, 'src', 'link.json'))).uid).toBe(uid);
    expect((await stat(join(root, 'credentials.json'))).uid).toBe(process.getuid?.());
    expect((await stat(root)).uid).toBe(process.getuid?.());
  });

  it('refuses to start, naming the fix, when bubblewrap cannot run', () => {
    const broken = { ...DEFAULT_SANDBOX, readOnlyPaths: [join(root, 'no-such-agent-install')] };
    expect(() => assertSandboxWorks(broken)).toThrow(SandboxUnavailableError);
    expect(() => assertSandboxWorks(broken)).toThrow(/no-such-agent-install.*apt-get install bubblewrap.*PITCREW_SANDBOX=none/s);
  });
});
