import assert from 'node:assert';
import { test } from 'node:test';
import { withTax } from '../src/price.js';

test('adds the tax, rounded to cents', () => {
  assert.equal(withTax(19.99, 0.2), 23.99);
});
