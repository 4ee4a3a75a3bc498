/** One zod issue, as far as {@link describeIssues} reads it (zod 4 `$ZodIssue` has more). */
export type ShapeIssue = { path: readonly PropertyKey[]; message: string };

/**
 * zod issues as one readable line, `path: message` joined by `; `, for error bodies, job errors
 * and logs: `failure.headSha: Invalid input: expected string; v: Invalid input: expected 1`.
 *
 * @param options.root what to call an issue at the root (empty path); default `(root)`
 * @param options.max issues listed before `; N more` (default 5)
 */
export function describeIssues(issues: readonly ShapeIssue[], options: { root?: string; max?: number } = {}): string {
  const max = options.max ?? 5;
  const listed = issues.slice(0, max).map((i) => `${i.path.map(String).join('.') || (options.root ?? '(root)')}: ${i.message}`);
  return `${listed.join('; ')}${issues.length > max ? `; ${issues.length - max} more` : ''}`;
}
