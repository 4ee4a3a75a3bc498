import { ensureDebianTool } from './apt-install.ts';

/**
 * Makes sure bubblewrap (`/usr/bin/bwrap`, the sandbox of agents and fix verification) is
 * installed: when missing and this process may (root on Debian/Ubuntu), `apt-get install bubblewrap`.
 *
 * @param log progress lines (`apt: ...`)
 * @returns whether `bwrap` is present afterwards; a caller that needs it says what to do when not
 *   (the worker refuses to run an agent without it unless `PITCREW_SANDBOX=none`)
 */
export function ensureBubblewrap(opts: { install?: boolean; log?: (line: string) => void } = {}): Promise<boolean> {
  return ensureDebianTool('/usr/bin/bwrap', 'bubblewrap', opts);
}
