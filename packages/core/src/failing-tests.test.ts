import { describe, expect, it } from 'vitest';
import { failingTestNames } from './failing-tests.ts';

describe('failingTestNames', () => {
  it('reads the shapes test runners print failing tests in', () => {
    const excerpt = [
      'FAILED tests/test_cart.py::test_total - AssertionError: assert 90 == 81',
      '  ● Cart › applies the discount once',
      ' FAIL  src/cart.test.ts > Cart > keeps its promise',
      '--- FAIL: TestTotal/empty (0.00s)',
      'test cart::tests::total ... FAILED',
      'total(com.example.CartTest)  Time elapsed: 0.01 s  <<< FAILURE!',
      '<testcase classname="com.example.TaxTest" name="rounds" time="0.1"><failure message="x"/></testcase>',
      '2024-06-01T10:00:05.1234567Z --- FAIL: TestStamped (0.01s)',
      ' 12 | FAILED tests/test_b.py::test_c',
    ].join('\n');
    expect(failingTestNames(excerpt)).toEqual([
      'com.example.TaxTest.rounds',
      'tests/test_cart.py::test_total',
      'Cart › applies the discount once',
      'src/cart.test.ts > Cart > keeps its promise',
      'TestTotal/empty',
      'cart::tests::total',
      'com.example.CartTest.total',
      'TestStamped',
      'tests/test_b.py::test_c',
    ]);
  });

  it('names nothing in a log without failing tests, and each name once', () => {
    expect(failingTestNames('npm ERR! 404 Not Found\nerror TS2322: nope')).toEqual([]);
    expect(failingTestNames(null)).toEqual([]);
    expect(failingTestNames('--- FAIL: TestA (0.1s)\n--- FAIL: TestA (0.1s)')).toEqual(['TestA']);
  });
});
