/**
 * `promise`, or a rejection with `no answer within <ms> ms` if it has not settled by then. The
 * timer is cleared either way; `promise` itself is not cancelled.
 *
 * @param ms time allowed, in ms
 */
export function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout;
  return Promise.race([
    promise,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}
