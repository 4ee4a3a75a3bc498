import { execFileSync, spawn, type ChildProcessByStdio } from 'node:child_process';
import { existsSync } from 'node:fs';
import { lchown, lstat, readdir } from 'node:fs/promises';
import type { Readable, Writable } from 'node:stream';
import { join } from 'node:path';
import { parseAllowEntry } from './egress-proxy.ts';

/**
 * How commands pitcrew does not trust (a coding agent, the commands it runs, a fix's
 * verification) are run. `bwrap` (bubblewrap, Debian package `bubblewrap`): their own user, PID,
 * IPC, UTS and network namespaces (with an allow-list, egress only through pitcrew's proxy to the
 * listed hosts); the system read-only and only the workspace writable; a fresh
 * `/proc` (no other process's environment), an empty `/tmp` and home; no Docker socket; resource
 * limits. `none` runs them directly: only for machines where bubblewrap cannot run, chosen
 * explicitly (`PITCREW_SANDBOX=none`) and logged loudly.
 */
export interface SandboxPolicy {
  kind: 'bwrap' | 'none';
  /**
   * `off`: a network namespace of its own, with nothing in it but loopback. `host`: the host's
   * network. `{ allow }`: the same empty namespace, plus an HTTP proxy on its loopback
   * (`127.0.0.1:3128`, in the proxy variables of the command's environment) that reaches only the
   * listed hosts (dependency downloads; entries as `parseAllowEntry` in egress-proxy.ts reads
   * them). The proxy itself is {@link SandboxPolicy.egress}.
   */
  network: 'off' | 'host' | { allow: readonly string[] };
  /**
   * The running egress proxy (egress-proxy.ts `startEgress`, one per worker process) that an
   * allow-list `network` goes through; required then, ignored otherwise.
   */
  egress?: { socketPath: string };
  /** Extra paths bound read-only at the same place (the agent's own installation when it lives outside `/usr`). */
  readOnlyPaths: readonly string[];
  /** Bytes of private writable memory per process (RLIMIT_DATA; RLIMIT_AS would break WebAssembly's reservations). */
  memoryBytes: number;
  /** Processes of the sandbox's user (RLIMIT_NPROC). */
  maxProcesses: number;
  /**
   * The unprivileged uid/gid the command runs as when pitcrew runs as root (default 65534,
   * `nobody`): root's RLIMIT_NPROC is not enforced, and root could read any file it is given.
   */
  uid: number;
}

/** Defaults: no network, 2 GiB of memory per process, 256 processes, `nobody`. */
export const DEFAULT_SANDBOX: SandboxPolicy = { kind: 'bwrap', network: 'off', readOnlyPaths: [], memoryBytes: 2 * 1024 ** 3, maxProcesses: 256, uid: 65534 };

/** Thrown when the sandbox cannot run here (no bubblewrap, no user namespaces); names the fix. */
export class SandboxUnavailableError extends Error {
  constructor(reason: string) {
    super(
      `the sandbox cannot run: ${reason}. Install bubblewrap (Debian/Ubuntu: apt-get install bubblewrap) and allow unprivileged user namespaces, ` +
        'or set PITCREW_SANDBOX=none to run agents and verification without one (not recommended)',
    );
    this.name = 'SandboxUnavailableError';
  }
}

/** `/etc` entries the tools need (name resolution, TLS roots, users, `update-alternatives` links); the rest of `/etc` stays out. */
const ETC = ['alternatives', 'ssl', 'ca-certificates', 'ca-certificates.conf', 'resolv.conf', 'hosts', 'passwd', 'group', 'nsswitch.conf', 'localtime', 'ld.so.cache', 'ld.so.conf', 'ld.so.conf.d', 'gitconfig'];

/** Where the egress proxy's Unix socket appears inside the sandbox. */
const PROXY_SOCKET = '/run/pitcrew-proxy.sock';

/** The loopback port inside the sandbox that socat bridges to the proxy's socket. */
export const SANDBOX_PROXY_PORT = 3128;

/** socat's log inside the sandbox. */
const BRIDGE_LOG = '/tmp/pitcrew-egress-bridge.log';

/** Where Debian's `socat` package puts it (the bridge from the sandbox's loopback to the proxy). */
const SOCAT = '/usr/bin/socat';

/** What a command behind the egress proxy gets in its environment: the proxy variables npm, pip, curl, git and the rest read. */
const PROXY_ENV = (() => {
  const url = `http://127.0.0.1:${SANDBOX_PROXY_PORT}`;
  return { HTTP_PROXY: url, HTTPS_PROXY: url, http_proxy: url, https_proxy: url, npm_config_proxy: url, npm_config_https_proxy: url, PIP_PROXY: url, NO_PROXY: 'localhost,127.0.0.1', no_proxy: 'localhost,127.0.0.1' };
})();

/**
 * The shell that starts the bridge, waits until it listens, then becomes the command (`"$@"`).
 * bubblewrap already brings `lo` up in the new network namespace. The wait reads the namespace's
 * own /proc/net/tcp (`0100007F:0C38`, state `0A` = 127.0.0.1:3128 listening): nothing to connect to
 * the proxy just to probe it. socat is killed with the rest of the PID namespace when the command
 * ends.
 */
const BRIDGE = [
  // socat's log goes to a file of the sandbox's /tmp, not to the command's output (which is kept
  // and published): a client closing early logs a broken pipe. It is shown only when the bridge fails.
  `${SOCAT} -lf ${BRIDGE_LOG} TCP-LISTEN:${SANDBOX_PROXY_PORT},bind=127.0.0.1,fork,reuseaddr UNIX-CONNECT:${PROXY_SOCKET} &`,
  'bridge=$!',
  'tries=0',
  `until grep -qs ' 0100007F:${SANDBOX_PROXY_PORT.toString(16).toUpperCase().padStart(4, '0')} 00000000:0000 0A ' /proc/net/tcp; do`,
  `  if ! kill -0 "$bridge" 2>/dev/null || [ "$tries" -ge 1000 ]; then echo "pitcrew sandbox: the egress bridge (socat) did not start" >&2; cat ${BRIDGE_LOG} >&2 2>/dev/null; exit 125; fi`,
  '  tries=$((tries + 1)); sleep 0.005',
  'done',
  'exec "$@"',
].join('\n');

/**
 * Reads a network setting (`PITCREW_FIX_NETWORK`): `off` (or empty) = no network; otherwise a
 * comma-separated allow-list of hosts (`registry.npmjs.org,pypi.org,files.pythonhosted.org`,
 * `*.example.com`, `host:port`, IP literals), trimmed, lower-cased, duplicates dropped.
 * `host` is not accepted: this setting only ever narrows; the host's whole network is
 * `PITCREW_SANDBOX_NETWORK=host`.
 *
 * @returns `'off'` or `{ allow }`
 * @throws {Error} naming the bad entry and the accepted forms (for a zod `transform`/`refine`)
 */
export function parseNetworkSetting(value: string): SandboxPolicy['network'] {
  const text = value.trim();
  if (text === '' || text.toLowerCase() === 'off') return 'off';
  if (text.toLowerCase() === 'host') throw new Error('network setting "host" is not accepted here: give the hosts to allow (e.g. registry.npmjs.org,pypi.org) or off');
  const entries = [...new Set(text.split(',').map((entry) => entry.trim().toLowerCase()).filter(Boolean))];
  if (entries.length === 0) throw new Error(`network setting ${JSON.stringify(value)}: no host in it; give off or comma-separated hosts`);
  for (const entry of entries) parseAllowEntry(entry);
  return { allow: entries };
}

/** Where the workspace appears inside the sandbox. */
export const SANDBOX_WORKSPACE = '/workspace';

/**
 * The command line that runs `bin args` under `policy` with `workspace` as its only writable
 * directory (mounted at {@link SANDBOX_WORKSPACE}, also the working directory) and exactly `env`
 * as its environment (`--clearenv`, then each variable; `HOME` and `TMPDIR` point into the
 * sandbox). Spawn it with {@link spawnSandboxed}; bubblewrap dies with its parent.
 *
 * With an allow-list network, the command starts behind the egress bridge (socat from the
 * sandbox's `127.0.0.1:3128` to `policy.egress`'s socket, bound at `/run/pitcrew-proxy.sock`) and
 * gets the proxy variables; it still has no route out.
 *
 * For `none`, `bin args` unchanged (run in `workspace`).
 *
 * @throws {Error} when the network is an allow-list and `policy.egress` is missing
 */
export function sandboxCommand(
  policy: SandboxPolicy,
  spec: { bin: string; args: readonly string[]; workspace: string; env: Record<string, string | undefined> },
): { bin: string; args: string[]; cwd: string; env: Record<string, string | undefined> } {
  if (policy.kind === 'none') return { bin: spec.bin, args: [...spec.args], cwd: spec.workspace, env: spec.env };
  const asRoot = process.getuid?.() === 0;
  const egress = typeof policy.network === 'object' ? policy.egress : undefined;
  if (typeof policy.network === 'object' && !egress) {
    throw new Error('the sandbox network is an allow-list but no egress proxy was given: start one with startEgress(allow, logger) and set policy.egress');
  }
  const bwrap = [
    // Unprivileged, bubblewrap needs a user namespace to mount; as root it mounts directly.
    ...(asRoot ? [] : ['--unshare-user']),
    '--unshare-ipc',
    '--unshare-pid',
    '--unshare-uts',
    '--unshare-cgroup-try',
    ...(policy.network === 'host' ? [] : ['--unshare-net']),
    '--die-with-parent',
    '--new-session',
    '--ro-bind', '/usr', '/usr',
    '--symlink', 'usr/bin', '/bin',
    '--symlink', 'usr/sbin', '/sbin',
    '--symlink', 'usr/lib', '/lib',
    '--symlink', 'usr/lib64', '/lib64',
    // The empty /tmp first, so a read-only path under /tmp (an agent unpacked there) is bound over it, not hidden by it.
    '--perms', '1777', '--tmpfs', '/tmp',
    // Directories bubblewrap creates for mount points are 0700 unless told: the command's user
    // must be able to walk to what is bound for it.
    ...parents(['/etc/x', ...policy.readOnlyPaths]).flatMap((dir) => ['--perms', '0755', '--dir', dir]),
    ...ETC.flatMap((name) => ['--ro-bind-try', `/etc/${name}`, `/etc/${name}`]),
    ...policy.readOnlyPaths.flatMap((path) => ['--ro-bind', path, path]),
    '--proc', '/proc',
    '--dev', '/dev',
    ...(egress ? ['--perms', '0755', '--dir', '/run', '--ro-bind', egress.socketPath, PROXY_SOCKET] : []),
    '--bind', spec.workspace, SANDBOX_WORKSPACE,
    // The checkout's git metadata is read-only inside: the worker runs git there afterwards (diff,
    // commit, push with its token), so a hook or a `core.*` setting written by an agent would run
    // as the worker. Nothing a fixer or a check does needs to write it.
    '--ro-bind-try', join(spec.workspace, '.git'), `${SANDBOX_WORKSPACE}/.git`,
    '--chdir', SANDBOX_WORKSPACE,
    '--clearenv',
    ...Object.entries({ ...spec.env, HOME: '/tmp', TMPDIR: '/tmp', ...(egress ? PROXY_ENV : {}) }).flatMap(([name, value]) => (value === undefined ? [] : ['--setenv', name, value])),
    '--',
    // As root, bubblewrap mounts with root's rights, then the command drops to the sandbox's uid
    // (setpriv, util-linux): no capabilities, no new privileges, and RLIMIT_NPROC applies to it.
    ...(asRoot ? ['/usr/bin/setpriv', `--reuid=${policy.uid}`, `--regid=${policy.uid}`, '--clear-groups', '--inh-caps=-all', '--bounding-set=-all', '--no-new-privs', '--'] : []),
    '/usr/bin/prlimit', `--data=${policy.memoryBytes}`, `--nproc=${policy.maxProcesses}`, '--',
    ...(egress ? ['/bin/sh', '-c', BRIDGE, 'pitcrew-egress-bridge'] : []),
    spec.bin,
    ...spec.args,
  ];
  return { bin: 'bwrap', args: bwrap, cwd: '/', env: { PATH: '/usr/bin:/bin' } };
}

/** Every ancestor directory of `paths` (not `/`), shortest first, once each: `/a/b/c` → `/a`, `/a/b`. */
function parents(paths: readonly string[]): string[] {
  const dirs = new Set<string>();
  for (const path of paths) {
    const parts = path.split('/').filter(Boolean);
    for (let i = 1; i < parts.length; i++) dirs.add(`/${parts.slice(0, i).join('/')}`);
  }
  return [...dirs].sort((a, b) => a.length - b.length);
}

/**
 * Spawns `bin args` in the sandbox (see {@link sandboxCommand}) with stdin, stdout and stderr
 * piped, in a process group of its own (`detached`), so a timeout can kill everything it started.
 */
export function spawnSandboxed(
  policy: SandboxPolicy,
  spec: { bin: string; args: readonly string[]; workspace: string; env: Record<string, string | undefined> },
): ChildProcessByStdio<Writable, Readable, Readable> {
  const command = sandboxCommand(policy, spec);
  return spawn(command.bin, command.args, { cwd: command.cwd, env: command.env, detached: true, stdio: ['pipe', 'pipe', 'pipe'] });
}

/**
 * Hands `workspace` (recursively) to the sandbox's uid when pitcrew runs as root, so the
 * sandboxed process can write there and nowhere else (symlinks are not followed); a no-op otherwise or for `none`.
 */
export async function prepareSandboxWorkspace(policy: SandboxPolicy, workspace: string): Promise<void> {
  if (policy.kind === 'none' || process.getuid?.() !== 0) return;
  // lchown and lstat: a symlink (committed in the repository, or linking a tool into
  // node_modules) is handed over itself, never what it points to, and never walked into.
  const walk = async (path: string): Promise<void> => {
    await lchown(path, policy.uid, policy.uid);
    if ((await lstat(path)).isDirectory()) for (const entry of await readdir(path)) await walk(join(path, entry));
  };
  await walk(workspace);
}

/**
 * Checks once that the sandbox can start here (bubblewrap present, namespaces allowed; with an
 * allow-list network, socat present and the bridge to `policy.egress` starting) by running `true` in it.
 *
 * @throws {SandboxUnavailableError} naming the fix
 */
export function assertSandboxWorks(policy: SandboxPolicy): void {
  if (policy.kind === 'none') return;
  if (typeof policy.network === 'object' && !existsSync(SOCAT)) {
    throw new SandboxUnavailableError(`socat is not installed (apt-get install socat); it bridges the sandbox to the egress proxy of the allow-list ${policy.network.allow.join(',')}`);
  }
  const command = sandboxCommand(policy, { bin: '/usr/bin/true', args: [], workspace: '/tmp', env: {} });
  try {
    execFileSync(command.bin, command.args, { cwd: command.cwd, env: command.env, stdio: ['ignore', 'ignore', 'pipe'], timeout: 10_000 });
  } catch (error) {
    const stderr = String((error as { stderr?: Buffer }).stderr ?? '').trim();
    throw new SandboxUnavailableError((error as NodeJS.ErrnoException).code === 'ENOENT' ? 'bwrap (or setpriv) is not installed' : stderr || (error as Error).message);
  }
}
