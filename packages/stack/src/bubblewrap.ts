import { access, constants } from 'node:fs/promises';
import { aptInstall, canAptInstall } from './apt-install.ts';

/** Where Debian's `bubblewrap` package puts `bwrap`. */
const BWRAP = '/usr/bin/bwrap';

/**
 * Makes sure bubblewrap (`bwrap`, the sandbox of agents and fix verification) is installed: when
 * missing and this process may (root on Debian/Ubuntu), `apt-get install bubblewrap`.
 *
 * @param log progress lines (`apt: ...`)
 * @returns whether `bwrap` is present afterwards; a caller that needs it says what to do when not
 *   (the worker refuses to run an agent without it unless `PITCREW_SANDBOX=none`)
 */
export async function ensureBubblewrap(opts: { install?: boolean; log?: (line: string) => void } = {}): Promise<boolean> {
  const present = () => access(BWRAP, constants.X_OK).then(() => true, () => false);
  if (await present()) return true;
  if (opts.install === false || !canAptInstall()) return false;
  await aptInstall(['bubblewrap'], opts.log ?? (() => {}));
  return present();
}
