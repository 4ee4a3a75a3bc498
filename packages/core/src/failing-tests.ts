/**
 * Failing test names in a log excerpt, in the shapes test runners print them:
 * - pytest's short summary: `FAILED tests/test_cart.py::test_total - AssertionError` (pytest docs,
 *   "-r" report chars) → `tests/test_cart.py::test_total`
 * - jest/vitest: `● Cart › adds items` → `Cart › adds items`; vitest's `FAIL  src/a.test.ts > Cart > adds`
 *   → `src/a.test.ts > Cart > adds`
 * - go test: `--- FAIL: TestTotal (0.00s)` → `TestTotal` (subtests `TestTotal/empty` kept whole)
 * - cargo test: `test cart::tests::total ... FAILED` → `cart::tests::total`
 * - JUnit XML: `<testcase classname="com.example.CartTest" name="total">` followed by `<failure`
 *   or `<error` → `com.example.CartTest.total`; Maven Surefire's text:
 *   `total(com.example.CartTest)  Time elapsed: … <<< FAILURE!` → `com.example.CartTest.total`
 *
 * @returns distinct names in order of appearance, at most `limit` (default 20), each ≤ 300 chars
 */
export function failingTestNames(excerpt: string | null | undefined, limit = 20): string[] {
  if (!excerpt) return [];
  const names: string[] = [];
  const add = (name: string | undefined) => {
    const n = name?.trim();
    if (n && !names.includes(n) && names.length < limit) names.push(n.slice(0, 300));
  };
  for (const m of excerpt.matchAll(/<testcase\b([^>]*)>\s*<(?:failure|error)\b/g)) {
    const attrs = m[1]!;
    const name = /\bname="([^"]*)"/.exec(attrs)?.[1];
    const cls = /\bclassname="([^"]*)"/.exec(attrs)?.[1];
    add(name ? (cls ? `${cls}.${name}` : name) : undefined);
  }
  for (const line of excerpt.split('\n')) {
    // A GitHub Actions timestamp or an excerpt's `12 | ` line number may lead the line.
    const text = line.replace(/^\uFEFF?\d{4}-\d\d-\d\dT[\d:.]+Z\s/, '').replace(/^\s*\d+\s+\|\s/, '').trim();
    let m: RegExpExecArray | null;
    if ((m = /^FAILED\s+(\S+::\S+)/.exec(text))) add(m[1]);
    else if ((m = /^●\s+(.+?)\s*$/.exec(text)) && m[1]!.includes('›')) add(m[1]);
    else if ((m = /^(?:FAIL|×|✗)\s+(\S+\.(?:test|spec)\.[cm]?[jt]sx?\s+>\s+.+?)(?:\s+\d+ms)?$/.exec(text))) add(m[1]);
    else if ((m = /^--- FAIL:\s+(\S+)/.exec(text))) add(m[1]);
    else if ((m = /^test\s+(\S+)\s+\.\.\.\s+FAILED$/.exec(text))) add(m[1]);
    else if ((m = /^(\w+)\(([\w.$]+)\)\s+Time elapsed:.*<<<\s+(?:FAILURE|ERROR)!/.exec(text))) add(`${m[2]}.${m[1]}`);
  }
  return names;
}
