import { describe, expect, it } from 'vitest';
import { FixBreakerEnv, fixBreakerState } from './fix-breaker.ts';
import { parseEnv } from './config.ts';

const HOUR = 3_600_000;
const ended = new Date('2026-12-03T10:00:00.000Z');
const settings = { threshold: 3, cooldownMs: HOUR };
const at = (ms: number) => new Date(ended.getTime() + ms);

describe('fixBreakerState', () => {
  it('is closed below the threshold, however recent the last loop', () => {
    expect(fixBreakerState({ count: 2, lastEndedAt: ended }, settings, at(0))).toEqual({ open: false, until: null });
    expect(fixBreakerState({ count: 0, lastEndedAt: null }, settings, at(0))).toEqual({ open: false, until: null });
  });

  it('opens at the threshold until the cool-down after the latest exhausted loop, then closes', () => {
    const open = { open: true, until: at(HOUR) };
    expect(fixBreakerState({ count: 3, lastEndedAt: ended }, settings, at(0))).toEqual(open);
    expect(fixBreakerState({ count: 3, lastEndedAt: ended }, settings, at(HOUR - 1))).toEqual(open);
    expect(fixBreakerState({ count: 3, lastEndedAt: ended }, settings, at(HOUR))).toEqual({ open: false, until: null });
    expect(fixBreakerState({ count: 3, lastEndedAt: ended }, settings, at(2 * HOUR))).toEqual({ open: false, until: null });
  });

  it('follows its settings: a threshold of 1, and a cool-down of 0 that never opens it', () => {
    expect(fixBreakerState({ count: 1, lastEndedAt: ended }, { threshold: 1, cooldownMs: 60_000 }, at(59_999))).toEqual({ open: true, until: at(60_000) });
    expect(fixBreakerState({ count: 5, lastEndedAt: ended }, { threshold: 3, cooldownMs: 0 }, at(0))).toEqual({ open: false, until: null });
  });

  it('has the documented defaults: 3 in a row, 1 h', () => {
    expect(parseEnv(FixBreakerEnv, {})).toEqual({ PITCREW_FIX_BREAKER_THRESHOLD: 3, PITCREW_FIX_BREAKER_COOLDOWN_MS: HOUR });
    expect(parseEnv(FixBreakerEnv, { PITCREW_FIX_BREAKER_THRESHOLD: '5', PITCREW_FIX_BREAKER_COOLDOWN_MS: '60000' })).toEqual({ PITCREW_FIX_BREAKER_THRESHOLD: 5, PITCREW_FIX_BREAKER_COOLDOWN_MS: 60_000 });
    expect(() => parseEnv(FixBreakerEnv, { PITCREW_FIX_BREAKER_THRESHOLD: '0' })).toThrow(/PITCREW_FIX_BREAKER_THRESHOLD/);
  });
});
