import { BrokenCircuitError } from 'cockatiel';
import { describe, expect, it } from 'vitest';
import { createBreakers, type BreakerState } from './breakers.ts';

describe('createBreakers', () => {
  it('opens after the threshold of consecutive failures, half-opens after the cool-down, closes on success', async () => {
    const changes: [string, BreakerState][] = [];
    const breakers = createBreakers({ threshold: 2, cooldownMs: 150, onStateChange: (r, s) => changes.push([r, s]) });
    const llm = breakers.get('llm');
    const fail = () => llm.execute(async () => { throw new Error('model down'); });
    await expect(fail()).rejects.toThrow('model down');
    expect(breakers.states()).toEqual({ llm: 'closed' });
    await expect(fail()).rejects.toThrow('model down');
    expect(breakers.states()).toEqual({ llm: 'open' });
    await expect(llm.execute(async () => 'never called')).rejects.toBeInstanceOf(BrokenCircuitError);
    await new Promise((r) => setTimeout(r, 200));
    // One trial call is let through (half-open); its success closes the circuit.
    expect(await llm.execute(async () => 'ok')).toBe('ok');
    expect(breakers.states()).toEqual({ llm: 'closed' });
    expect(changes).toEqual([
      ['llm', 'open'],
      ['llm', 'half-open'],
      ['llm', 'closed'],
    ]);
    // Runners have their own circuits.
    expect(breakers.get('agent')).not.toBe(llm);
  });

  it('a failed trial call opens the circuit again', async () => {
    const breakers = createBreakers({ threshold: 1, cooldownMs: 100 });
    const llm = breakers.get('llm');
    await expect(llm.execute(async () => { throw new Error('x'); })).rejects.toThrow('x');
    await new Promise((r) => setTimeout(r, 150));
    await expect(llm.execute(async () => { throw new Error('still down'); })).rejects.toThrow('still down');
    expect(breakers.states().llm).toBe('open');
  });
});
