import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEgress, type EgressProxy } from './egress-proxy.ts';
import { runNodeSandboxed } from './fixtures/run-node.ts';
import { assertSandboxWorks, DEFAULT_SANDBOX, prepareSandboxWorkspace, SANDBOX_PROXY_PORT, type SandboxPolicy } from './sandbox.ts';

// Real bubblewrap, real socat, a real HTTP server on the host: the egress boundary's tests.
// The proxy resolves names on the host, so `localhost` stands for a registry here; inside the
// sandbox, 127.0.0.1 is the sandbox's own loopback, where only the bridge listens.
const BWRAP_MISSING = !existsSync('/usr/bin/bwrap');
const SKIP_REASON = BWRAP_MISSING ? ' (skipped: bubblewrap is not installed; apt-get install bubblewrap)' : '';

let root: string;
let workspace: string;
let server: Server;
let port: number;
let egress: EgressProxy;
let policy: SandboxPolicy;
const logged: Array<Record<string, unknown>> = [];

/**
 * The default policy with a uid of this test file's own: RLIMIT_NPROC counts every process and
 * thread of the uid on the host, and this file's node processes must not count against the
 * `nobody` of the limits test in sandbox.int.test.ts running beside it.
 */
const BASE: SandboxPolicy = { ...DEFAULT_SANDBOX, uid: 55_000 + (process.pid % 5_000) };

/** Runs `script` (JavaScript) with node in the sandbox under `sandboxPolicy`; its stdout parsed as JSON. */
function sandboxed(script: string, sandboxPolicy: SandboxPolicy = policy): Promise<{ code: number | null; out: any; stderr: string }> {
  return runNodeSandboxed(sandboxPolicy, script, { workspace, env: { PATH: '/usr/bin:/bin' } });
}

/** Node inside the sandbox: a plain-HTTP request through the proxy (absolute URI), printing status and body. */
const viaProxy = (url: string) => `
  require('http').get({ host: '127.0.0.1', port: ${SANDBOX_PROXY_PORT}, path: ${JSON.stringify(url)} }, (res) => {
    let body = ''; res.on('data', (d) => (body += d)); res.on('end', () => console.log(JSON.stringify({ status: res.statusCode, body })));
  }).on('error', (e) => console.log(JSON.stringify({ error: e.code })));`;

/** Node inside the sandbox: a CONNECT tunnel through the proxy (what HTTPS clients do), then a GET inside it. */
const viaTunnel = (authority: string) => `
  const http = require('http');
  http.request({ host: '127.0.0.1', port: ${SANDBOX_PROXY_PORT}, method: 'CONNECT', path: ${JSON.stringify(authority)} }).on('connect', (res, socket, head) => {
    if (res.statusCode !== 200) { let body = String(head); socket.on('data', (d) => (body += d)); socket.on('end', () => console.log(JSON.stringify({ status: res.statusCode, body }))); return; }
    http.get({ createConnection: () => socket, path: '/tunnelled', headers: { host: ${JSON.stringify(authority)} } }, (inner) => {
      let body = ''; inner.on('data', (d) => (body += d)); inner.on('end', () => console.log(JSON.stringify({ status: res.statusCode, body })));
    });
  }).on('error', (e) => console.log(JSON.stringify({ error: e.code }))).end();`;

/** Node inside the sandbox: a direct TCP connection, printing what it read or the error code. */
const direct = (host: string, targetPort: number) => `
  require('net').connect(${targetPort}, ${JSON.stringify(host)}).setTimeout(3000, function () { console.log(JSON.stringify('timeout')); process.exit(0); })
    .on('data', (d) => { console.log(JSON.stringify(String(d))); process.exit(0); }).on('error', (e) => { console.log(JSON.stringify(e.code)); process.exit(0); })
    .on('connect', function () { this.write('GET / HTTP/1.0\\r\\n\\r\\n'); });`;

describe.skipIf(BWRAP_MISSING)(`egress through the allow-list proxy (bubblewrap + socat)${SKIP_REASON}`, () => {
  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'pitcrew-egress-test-'));
    workspace = join(root, 'workspace');
    await mkdir(workspace);
    await prepareSandboxWorkspace(BASE, workspace);
    server = createServer((req, res) => res.end(`reached ${req.url}`));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    port = (server.address() as { port: number }).port;
    const sink = new Writable({ write: (chunk, _encoding, done) => (logged.push(JSON.parse(String(chunk))), done()) });
    egress = await startEgress([`localhost:${port}`, '*.registry.example'], pino({ level: 'info' }, sink));
    policy = { ...BASE, network: { allow: egress.allow }, egress };
  });
  afterAll(async () => {
    await egress?.close();
    await new Promise((r) => server?.close(r));
    await rm(root, { recursive: true, force: true });
  });

  it('starts here (socat present, the bridge up)', () => {
    expect(() => assertSandboxWorks(policy)).not.toThrow();
  });

  it("passes the command's exit code and output through the bridge's shell", async () => {
    expect(await sandboxed(`console.log(JSON.stringify(process.execArgv[0])); process.exit(7)`)).toMatchObject({ code: 7, out: '-e' });
  });

  it('reaches a listed host through the proxy, as plain HTTP and through a CONNECT tunnel', async () => {
    const before = egress.counts().allowed;
    expect((await sandboxed(viaProxy(`http://localhost:${port}/pkg`))).out).toEqual({ status: 200, body: 'reached /pkg' });
    expect((await sandboxed(viaTunnel(`LOCALHOST:${port}`))).out).toEqual({ status: 200, body: 'reached /tunnelled' });
    expect(egress.counts().allowed).toBe(before + 2);
  });

  it('refuses an unlisted host (403 naming it), an unlisted port and an unlisted IP literal; counts and logs each', async () => {
    const before = egress.counts().refused;
    const unlisted = await sandboxed(viaProxy('http://example.org/'));
    expect(unlisted.out.status).toBe(403);
    expect(unlisted.out.body).toMatch(/example\.org:80 is not in the sandbox's allow-list \(PITCREW_FIX_NETWORK=/);
    const tunnel = await sandboxed(viaTunnel('pypi.org:443'));
    expect(tunnel.out.status).toBe(403);
    expect(tunnel.out.body).toMatch(/pypi\.org:443 is not in/);
    expect((await sandboxed(viaTunnel(`localhost:${port + 1 === 65536 ? 1 : port + 1}`))).out.status).toBe(403);
    expect((await sandboxed(viaProxy(`http://127.0.0.1:${port}/`))).out.status).toBe(403);
    expect(egress.counts().refused).toBe(before + 4);
    const refusals = logged.filter((line) => String(line.msg).startsWith('egress refused'));
    expect(refusals.map((line) => `${line.method} ${line.host}:${line.port}`)).toEqual(expect.arrayContaining(['GET example.org:80', 'CONNECT pypi.org:443', `GET 127.0.0.1:${port}`]));
  });

  it('gives the command the proxy variables, and no route out without the proxy', async () => {
    const { out: env } = await sandboxed(`const e = process.env; console.log(JSON.stringify([e.HTTP_PROXY, e.HTTPS_PROXY, e.https_proxy, e.npm_config_https_proxy, e.PIP_PROXY, e.NO_PROXY]))`);
    expect(env).toEqual([...Array(5).fill(`http://127.0.0.1:${SANDBOX_PROXY_PORT}`), 'localhost,127.0.0.1']);
    expect((await sandboxed(direct('127.0.0.1', port))).out).toBe('ECONNREFUSED'); // the sandbox's own loopback: the host's server is not there
    expect((await sandboxed(direct('10.255.255.1', 80))).out).toBe('ENETUNREACH'); // nothing but lo in the namespace
  });

  it('keeps `off` without network while a proxy runs: no bridge, no socket, no variables', async () => {
    const { out } = await sandboxed(
      `const fs = require('fs'); require('net').connect(${SANDBOX_PROXY_PORT}, '127.0.0.1').on('error', (e) => console.log(JSON.stringify({ bridge: e.code, socket: fs.existsSync('/run/pitcrew-proxy.sock'), proxy: process.env.HTTPS_PROXY ?? null })));`,
      { ...BASE, egress },
    );
    expect(out).toEqual({ bridge: 'ECONNREFUSED', socket: false, proxy: null });
  });
});
