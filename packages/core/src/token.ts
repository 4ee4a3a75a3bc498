import { createHash, timingSafeEqual } from 'node:crypto';

/**
 * A constant-time check of a presented secret against `token` (admin and metrics tokens). Both
 * sides are hashed to equal-length SHA-256 digests first, so `timingSafeEqual` never throws on a
 * length difference and the comparison time says nothing about the token's length.
 *
 * @param token the expected secret
 * @returns `(given) => true` exactly when `given === token`
 */
export function tokenMatcher(token: string): (given: string) => boolean {
  const expected = digest(token);
  return (given) => timingSafeEqual(digest(given), expected);
}

function digest(value: string): Buffer {
  return createHash('sha256').update(value).digest();
}
