import { ensureDebianTool } from './apt-install.ts';

/**
 * Makes sure socat (`/usr/bin/socat`) is installed, like `ensureBubblewrap`: it bridges a
 * sandbox whose network is an allow-list (`PITCREW_FIX_NETWORK`) to the worker's egress proxy.
 *
 * @returns whether `socat` is present afterwards (without it such a sandbox refuses to start)
 */
export function ensureSocat(opts: { install?: boolean; log?: (line: string) => void } = {}): Promise<boolean> {
  return ensureDebianTool('/usr/bin/socat', 'socat', opts);
}
