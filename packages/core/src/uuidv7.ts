import { createHash, randomBytes } from 'node:crypto';

/**
 * UUID version 7 (RFC 9562 §5.7): 48 bits of Unix time in ms, then version `7`, 74 bits of
 * randomness and the variant `10`. Time-ordered, the form TensorZero requires for inference and
 * episode ids (its gateway checks version 7 and a timestamp between 2020 and now).
 */
function format(ms: number, rest: Buffer): string {
  if (!Number.isInteger(ms) || ms < 0 || ms >= 2 ** 48) throw new RangeError(`not a UUIDv7 timestamp: ${ms} ms`);
  const bytes = Buffer.alloc(16);
  bytes.writeUIntBE(ms, 0, 6);
  rest.copy(bytes, 6, 0, 10);
  bytes[6] = 0x70 | (bytes[6]! & 0x0f);
  bytes[8] = 0x80 | (bytes[8]! & 0x3f);
  const hex = bytes.toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/** A new random UUIDv7 stamped `ms` (Unix ms, default now). */
export function createUuidv7(ms: number = Date.now()): string {
  return format(Math.floor(ms), randomBytes(10));
}

/**
 * The UUIDv7 stamped `ms` (Unix ms) whose 74 random bits are taken from sha256(`seed`): the same
 * seed and time give the same id on every host, so ids of one thing (a fix loop's TensorZero
 * episode) can be derived instead of shared.
 */
export function deriveUuidv7(ms: number, seed: string): string {
  return format(Math.floor(ms), createHash('sha256').update(seed).digest());
}

const UUIDV7 = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/i;

/** True for a UUID string of version 7 with the RFC variant. */
export function isUuidv7(value: unknown): value is string {
  return typeof value === 'string' && UUIDV7.test(value);
}

/** Unix ms a UUIDv7 is stamped with. */
export function uuidv7Time(uuid: string): number {
  return Number.parseInt(uuid.replaceAll('-', '').slice(0, 12), 16);
}
