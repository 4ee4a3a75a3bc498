import assert from 'node:assert/strict';
import { test } from 'node:test';
import { total } from '../src/cart.js';

test('applies the discount', () => {
  assert.equal(total([{ price: 100, qty: 2 }], 0.1), 180);
});
