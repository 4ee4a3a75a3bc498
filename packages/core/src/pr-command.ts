import { z } from 'zod';

/** The commands a PR comment can give pitcrew (`/pitcrew <command>` at the start of a line). */
export const PR_COMMANDS = ['fix', 'rerun', 'explain', 'quiet'] as const;
export const PrCommandName = z.enum(PR_COMMANDS);
export type PrCommandName = z.infer<typeof PrCommandName>;

/** The bytes a comment body must contain to be parsed at all (ingest checks the raw body for them first). */
export const PR_COMMAND_PREFIX = '/pitcrew';
/** Characters of a comment body searched for a command; GitHub caps comment bodies at 65,536 characters. */
export const PR_COMMAND_MAX_BODY_CHARS = 65_536;
/** Lines of a comment body searched for a command. */
const MAX_LINES = 200;
const COMMAND_LINE = /^\/pitcrew[ \t]+([a-z]{1,16})[ \t]*$/;

/**
 * The command of a comment body: the first line that is exactly `/pitcrew <command>` (leading and
 * trailing blanks allowed, nothing else on the line), among the first 200 lines of the first
 * {@link PR_COMMAND_MAX_BODY_CHARS} characters. The body is untrusted: it is only matched, never
 * interpreted further; a quoted line (`> /pitcrew fix`), a code span or a mention in prose is not a
 * command.
 *
 * @returns the command, `{unknown: word}` for `/pitcrew <word>` with a word that is no command,
 *   or `null` when no line is a command
 */
export function parsePrCommand(body: string): PrCommandName | { unknown: string } | null {
  const lines = body.slice(0, PR_COMMAND_MAX_BODY_CHARS).split(/\r?\n/, MAX_LINES);
  for (const line of lines) {
    const match = COMMAND_LINE.exec(line.trim());
    if (!match) continue;
    const word = match[1]!;
    return (PR_COMMANDS as readonly string[]).includes(word) ? (word as PrCommandName) : { unknown: word };
  }
  return null;
}
