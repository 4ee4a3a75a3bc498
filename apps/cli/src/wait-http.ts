/**
 * Polls `url` every 100 ms until it answers 2xx (a readiness or health endpoint).
 *
 * @param exited tells, between polls, why waiting is pointless (the server process ended), or undefined
 * @throws {Error} after `timeoutMs`, with the last answer or connection error, or at once with
 *   what `exited` says
 */
export async function waitForHttp(url: string, timeoutMs: number, exited: () => string | undefined = () => undefined): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  while (Date.now() < deadline) {
    const gone = exited();
    if (gone) throw new Error(gone);
    try {
      const response = await fetch(url);
      if (response.ok) return;
      last = `${response.status} ${(await response.text()).slice(0, 200)}`;
    } catch (error) {
      last = (error as Error).message;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${url} not ready within ${timeoutMs} ms (${last})`);
}
