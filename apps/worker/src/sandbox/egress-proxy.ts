import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { Agent, createServer, request, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http';
import { connect, isIP, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Duplex } from 'node:stream';
import type { Logger } from '@pitcrew/core';

/*
 * The egress proxy of the sandbox: an HTTP proxy on a Unix socket that lets a sandboxed command
 * reach only the hosts of an allow-list (PITCREW_FIX_NETWORK), for dependency downloads.
 *
 * Written here on node:http rather than taken from npm, after looking:
 * - @anthropic-ai/sandbox-runtime (the same design: bubblewrap + an allow-list proxy + socat)
 *   needs Node >= 22.12 (pitcrew runs on Node 20), is a 0.0.x release line, keeps its proxy
 *   internal (no exported entry point), and its SandboxManager is a process-wide singleton that
 *   writes its own bwrap command line: it would replace sandbox.ts (uid drop, limits, read-only
 *   `.git`) instead of adding egress to it.
 * - `proxy` (TooTallNate) can only refuse through its authentication hook (407, no reason), and
 *   `http-proxy` is a reverse proxy without CONNECT.
 * What is needed is small: CONNECT tunnels (HTTPS, no TLS interception) and absolute-URI requests
 * (plain HTTP), each checked against the allow-list before anything is resolved.
 */

/** One allow-list entry, parsed: a name (`registry.npmjs.org`), a wildcard (`*.example.com`: its subdomains, not itself) or an IP literal; `port` unset = 80 and 443. */
export interface AllowRule {
  kind: 'name' | 'wildcard' | 'ip';
  /** Lower case, no trailing dot; for a wildcard the domain after `*.`; an IPv6 literal without brackets. */
  host: string;
  port?: number;
}

/** Ports an entry without `:port` allows. */
const DEFAULT_PORTS = [80, 443];

const LABEL = /^(?!-)[a-z0-9_-]{1,63}(?<!-)$/;

/**
 * Parses one allow-list entry: `host`, `*.domain`, an IPv4 literal or a bracketed IPv6 literal,
 * each optionally with `:port`. Case-insensitive; a trailing dot is dropped.
 *
 * @throws {Error} naming the entry and the accepted forms (a URL, a path, `*` alone or `*.com`, a bad port)
 */
export function parseAllowEntry(entry: string): AllowRule {
  const bad = (why: string) =>
    new Error(`egress allow-list entry ${JSON.stringify(entry)}: ${why}; expected host, *.domain, an IP literal ([::1] for IPv6), each optionally with :port`);
  const text = entry.trim().toLowerCase();
  const match = /^(\[[^\]]+\]|[^:[\]]+)(?::(\d+))?$/.exec(text);
  if (!match) throw bad('not a host or host:port');
  const port = match[2] === undefined ? undefined : Number(match[2]);
  if (port !== undefined && !(port >= 1 && port <= 65535)) throw bad('port out of range 1-65535');
  const rule = (kind: AllowRule['kind'], host: string): AllowRule => (port === undefined ? { kind, host } : { kind, host, port });
  const raw = match[1]!;
  if (raw.startsWith('[')) {
    const ip = raw.slice(1, -1);
    if (isIP(ip) !== 6) throw bad('not an IPv6 literal inside the brackets');
    return rule('ip', ip);
  }
  if (isIP(raw)) return rule('ip', raw);
  const host = raw.endsWith('.') ? raw.slice(0, -1) : raw;
  const wildcard = host.startsWith('*.');
  const name = wildcard ? host.slice(2) : host;
  const labels = name.split('.');
  if (!labels.every((label) => LABEL.test(label))) throw bad('not a host name');
  if (wildcard && labels.length < 2) throw bad('a wildcard needs a domain of two labels or more (*.example.com)');
  return rule(wildcard ? 'wildcard' : 'name', name);
}

/**
 * Whether `host:port` (as a client asked for it) is allowed by `rules`. The host is normalised
 * the way URLs are (lower case, `0x7f.1` → `127.0.0.1`, trailing dot dropped), so an IP literal
 * in another spelling is still an IP literal: allowed only when listed itself.
 */
export function isAllowed(rules: readonly AllowRule[], host: string, port: number): boolean {
  const normal = normaliseHost(host);
  if (normal === null) return false;
  const ip = isIP(normal) !== 0;
  return rules.some((rule) => {
    if (!(rule.port === undefined ? DEFAULT_PORTS.includes(port) : rule.port === port)) return false;
    if (ip) return rule.kind === 'ip' && rule.host === normal;
    if (rule.kind === 'name') return rule.host === normal;
    return rule.kind === 'wildcard' && normal.endsWith(`.${rule.host}`);
  });
}

/** `host` as WHATWG URL parsing spells it (brackets dropped, trailing dot dropped); null when it is no host. */
function normaliseHost(host: string): string | null {
  try {
    const parsed = new URL(`http://${host.includes(':') && !host.startsWith('[') ? `[${host}]` : host}/`).hostname;
    const bare = parsed.startsWith('[') ? parsed.slice(1, -1) : parsed;
    return bare.endsWith('.') ? bare.slice(0, -1) : bare;
  } catch {
    return null;
  }
}

/** A running egress proxy: one per worker process, shared by its sandboxed runs (sandbox.ts: `SandboxPolicy.egress`). */
export interface EgressProxy {
  /** The proxy's Unix socket, in a directory only this process's user can enter. */
  socketPath: string;
  /** The allow-list it enforces, as given. */
  allow: readonly string[];
  /** Requests let through (tunnels opened, HTTP requests forwarded) and refused (403) since start; for metrics. */
  counts(): { allowed: number; refused: number };
  /** Stops listening, cuts open tunnels and requests, removes the socket's directory. */
  close(): Promise<void>;
}

/** Hop-by-hop headers a proxy does not forward (RFC 9110 §7.6.1), plus the proxy's own. */
const HOP_BY_HOP = ['connection', 'keep-alive', 'proxy-connection', 'proxy-authorization', 'proxy-authenticate', 'te', 'trailer', 'transfer-encoding', 'upgrade'];

/**
 * Starts the egress proxy for `allow` (entries as {@link parseAllowEntry} reads them) on a Unix
 * socket in a fresh private directory. CONNECT `host:port` opens a TCP tunnel (HTTPS; TLS stays
 * end to end); an absolute-URI request (`GET http://host/...`) is forwarded. A request for a host
 * outside the list is answered 403 with a body naming the host and the list, logged (warn) and
 * counted; the name is never resolved. Allowed names are resolved and connected to on the host.
 *
 * @throws {Error} on a bad entry (before anything listens) or when the socket cannot listen
 */
export async function startEgress(allow: readonly string[], logger: Logger): Promise<EgressProxy> {
  const rules = allow.map(parseAllowEntry);
  const counts = { allowed: 0, refused: 0 };
  const sockets = new Set<Socket | Duplex>();
  const agent = new Agent({ keepAlive: false });
  const track = (socket: Socket | Duplex) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  };
  const refusal = (host: string, port: number) =>
    `pitcrew egress proxy: ${host}:${port} is not in the sandbox's allow-list (PITCREW_FIX_NETWORK=${allow.join(',')}); ` +
    'only those hosts can be reached, on ports 80 and 443 unless an entry names its port\n';
  const refuse = (what: { method: string; host: string; port: number }) => {
    counts.refused++;
    logger.warn({ ...what, allow }, 'egress refused: the sandboxed command asked for a host outside PITCREW_FIX_NETWORK (add it there if the fix needs it)');
  };

  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    let url: URL;
    try {
      url = new URL(req.url ?? '');
    } catch {
      res.writeHead(400, { 'content-type': 'text/plain' }).end('pitcrew egress proxy: only absolute http:// URLs (or CONNECT for https) are proxied\n');
      return;
    }
    if (url.protocol !== 'http:') {
      res.writeHead(400, { 'content-type': 'text/plain' }).end(`pitcrew egress proxy: ${url.protocol} is not proxied as a plain request; https goes through CONNECT\n`);
      return;
    }
    const port = Number(url.port || 80);
    if (!isAllowed(rules, url.hostname, port)) {
      refuse({ method: req.method ?? 'GET', host: url.hostname, port });
      res.writeHead(403, { 'content-type': 'text/plain', connection: 'close' }).end(refusal(url.hostname, port));
      return;
    }
    counts.allowed++;
    const upstream = request(
      { agent, host: url.hostname.replace(/^\[|\]$/g, ''), port, method: req.method, path: `${url.pathname}${url.search}`, headers: withoutHopByHop(req.headers) },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.statusMessage, withoutHopByHop(answer.headers));
        answer.pipe(res);
      },
    );
    upstream.on('error', (error) => {
      logger.info({ host: url.hostname, port, err: error }, 'egress: upstream request failed');
      if (!res.headersSent) res.writeHead(502, { 'content-type': 'text/plain' }).end(`pitcrew egress proxy: ${url.hostname}:${port}: ${error.message}\n`);
      else res.destroy();
    });
    upstream.on('socket', track);
    req.pipe(upstream);
  });

  server.on('connect', (req: IncomingMessage, client: Duplex, head: Buffer) => {
    track(client);
    client.on('error', () => client.destroy());
    const target = /^(\[[^\]]+\]|[^:[\]]+):(\d+)$/.exec(req.url ?? '');
    const host = target?.[1] ?? '';
    const port = Number(target?.[2] ?? 0);
    if (!target || !isAllowed(rules, host, port)) {
      refuse({ method: 'CONNECT', host: host || (req.url ?? ''), port });
      const body = refusal(host || (req.url ?? ''), port);
      client.end(`HTTP/1.1 403 Forbidden\r\ncontent-type: text/plain\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`);
      return;
    }
    counts.allowed++;
    const upstream = connect({ host: host.replace(/^\[|\]$/g, ''), port });
    track(upstream);
    let open = false;
    upstream.once('connect', () => {
      open = true;
      client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
      if (head.length) upstream.write(head);
      upstream.pipe(client);
      client.pipe(upstream);
    });
    upstream.on('error', (error) => {
      if (!open) {
        logger.info({ host, port, err: error }, 'egress: cannot open the tunnel');
        const body = `pitcrew egress proxy: ${host}:${port}: ${error.message}\n`;
        client.end(`HTTP/1.1 502 Bad Gateway\r\ncontent-type: text/plain\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`);
      } else client.destroy();
    });
    client.once('close', () => upstream.destroy());
    upstream.once('close', () => client.destroy());
  });
  server.on('connection', track);
  server.on('clientError', (_error, socket) => socket.destroy());

  const dir = await mkdtemp(join(tmpdir(), 'pitcrew-egress-')); // 0700: other users of the host cannot reach the socket
  const socketPath = join(dir, 'proxy.sock');
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(socketPath, () => {
        server.off('error', reject);
        resolve();
      });
    });
    // The sandboxed command runs as another uid (`nobody` under root) and reaches the socket
    // through a bind mount of the socket alone, never through `dir`.
    await chmod(socketPath, 0o666);
  } catch (error) {
    server.close();
    await rm(dir, { recursive: true, force: true });
    throw new Error(`cannot start the egress proxy on ${socketPath}`, { cause: error });
  }
  logger.info({ socketPath, allow }, 'egress proxy listening');

  return {
    socketPath,
    allow: [...allow],
    counts: () => ({ ...counts }),
    async close() {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const socket of sockets) socket.destroy();
      agent.destroy();
      await closed;
      await rm(dir, { recursive: true, force: true });
    },
  };
}

function withoutHopByHop(headers: IncomingHttpHeaders): IncomingHttpHeaders {
  const named = new Set([...HOP_BY_HOP, ...String(headers.connection ?? '').split(',').map((name) => name.trim().toLowerCase())]);
  return Object.fromEntries(Object.entries(headers).filter(([name]) => !named.has(name)));
}
