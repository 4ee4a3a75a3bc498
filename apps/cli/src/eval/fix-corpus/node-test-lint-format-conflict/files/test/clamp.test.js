import assert from 'node:assert/strict';
import { test } from 'node:test';
import { clamp } from '../src/clamp.js';

test('clamps into the range', () => {
  assert.equal(clamp(7, 1, 5), 5);
});

test('rejects an empty range', () => {
  assert.throws(() => clamp(3, 5, 1), /empty range/);
});
