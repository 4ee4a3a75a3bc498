import assert from 'node:assert/strict';
import { test } from 'node:test';
import { total } from '../src/cart.js';

test('applies the discount', () => {
  assert.equal(total([100, 100], 0.1), 180);
});
