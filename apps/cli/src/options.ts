import { InvalidArgumentError } from 'commander';

/**
 * Commander parser of an option that must be a positive integer (ports, counts, ms).
 *
 * @throws {InvalidArgumentError} for anything else, which commander prints with the option name
 */
export function positiveInt(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError('expected a positive integer');
  return n;
}
