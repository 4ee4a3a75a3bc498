import { constants } from 'node:fs';
import { access, stat } from 'node:fs/promises';
import { delimiter, isAbsolute, join } from 'node:path';

/** Directories searched after PATH, for processes started with a reduced PATH. */
const FALLBACK_DIRS = ['/usr/local/bin', '/usr/bin', '/usr/sbin', '/opt/homebrew/bin'];

/** True when `file` is a regular file the current user may execute. */
export async function isExecutableFile(file: string): Promise<boolean> {
  try {
    const info = await stat(file);
    if (!info.isFile()) return false;
    await access(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/**
 * Looks `name` up in the PATH directories, then in a few usual install directories.
 *
 * @returns the absolute path of the first executable match, or undefined
 */
export async function findExecutable(name: string, path = process.env.PATH ?? ''): Promise<string | undefined> {
  const dirs = [...path.split(delimiter), ...FALLBACK_DIRS].filter((d) => d !== '' && isAbsolute(d));
  for (const dir of new Set(dirs)) {
    const candidate = join(dir, name);
    if (await isExecutableFile(candidate)) return candidate;
  }
  return undefined;
}
