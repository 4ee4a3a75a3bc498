import { describe, expect, it } from 'vitest';
import { createUuidv7, deriveUuidv7, isUuidv7, uuidv7Time } from './uuidv7.ts';

describe('UUIDv7', () => {
  it('stamps the time in the first 48 bits, with version 7 and the RFC variant', () => {
    const at = Date.UTC(2026, 11, 3, 1, 0, 0, 123);
    const id = createUuidv7(at);
    expect(isUuidv7(id)).toBe(true);
    expect(uuidv7Time(id)).toBe(at);
    expect(createUuidv7(at)).not.toBe(id);
    // RFC 9562 appendix A.6: Tuesday, February 22, 2022 2:22:22.00 PM GMT-05:00 is 0x017F22E279B0.
    expect(createUuidv7(0x017f22e279b0)).toMatch(/^017f22e2-79b0-7[0-9a-f]{3}-[89ab]/);
  });
  it('derives the same id from the same seed and time, another from another seed', () => {
    const at = Date.UTC(2026, 0, 1);
    const a = deriveUuidv7(at, 'pitcrew-fix-loop:f1');
    expect(deriveUuidv7(at, 'pitcrew-fix-loop:f1')).toBe(a);
    expect(deriveUuidv7(at, 'pitcrew-fix-loop:f2')).not.toBe(a);
    expect(isUuidv7(a)).toBe(true);
    expect(uuidv7Time(a)).toBe(at);
  });
  it('rejects other versions and times outside 48 bits', () => {
    expect(isUuidv7('00000000-0000-4000-8000-000000000000')).toBe(false);
    expect(isUuidv7('not a uuid')).toBe(false);
    expect(() => createUuidv7(-1)).toThrow(RangeError);
  });
});
