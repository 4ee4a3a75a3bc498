/** Keeps the last lines of a child process's output, for error messages. */
export interface OutputTail {
  /** Splits `chunk` into lines, keeps them and passes each non-empty one to `onLine`. */
  push(chunk: string): void;
  /** The kept lines, oldest first, joined with newlines. */
  text(): string;
}

/**
 * Creates an {@link OutputTail} holding at most `max` lines.
 *
 * @param max number of lines kept
 * @param onLine called once per complete, non-empty line (already trimmed of the line ending)
 */
export function createOutputTail(max: number, onLine: (line: string) => void = () => {}): OutputTail {
  const lines: string[] = [];
  let partial = '';
  const keep = (line: string): void => {
    const trimmed = line.replace(/\r$/, '').trimEnd();
    if (trimmed === '') return;
    lines.push(trimmed);
    if (lines.length > max) lines.shift();
    onLine(trimmed);
  };
  return {
    push(chunk) {
      const parts = (partial + chunk).split('\n');
      partial = parts.pop() ?? '';
      for (const part of parts) keep(part);
    },
    text() {
      return [...lines, partial.trimEnd()].filter((l) => l !== '').join('\n');
    },
  };
}
