import assert from 'node:assert/strict';
import { test } from 'node:test';
import { page } from '../src/page.js';

test('returns a full page', () => {
  assert.deepEqual(page([1, 2, 3, 4, 5], 2, 2), [3, 4]);
});
