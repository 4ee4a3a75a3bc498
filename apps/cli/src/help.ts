import { existsSync, readFileSync } from 'node:fs';
import type { Command } from 'commander';
import type { z } from 'zod';

/** What a command reads from the environment, for its `--help`. */
export interface EnvHelp {
  /** The zod schemas the command parses (their keys are the variables; one can never be left out). */
  schemas: z.ZodObject[];
  /** Variables read outside a schema (e.g. `PITCREW_DATA_DIR` by `pitcrew start`). */
  extra?: string[];
  /** Variables the schemas require that this command does not (e.g. `start` starts its own databases). */
  optional?: string[];
  /** One more line under the list. */
  note?: string;
}

/** Help lines are wrapped at this many columns. */
const WIDTH = 100;

/**
 * The first sentence of each variable's comment in `.env.example`, for the variables a comment
 * block describes alone (a block over several variables describes them together, and is left
 * out); `{}` when the file is not there (an image that left it out). `.env.example` lists exactly
 * the schemas' variables (apps/cli/src/env-example.test.ts).
 */
export function envExampleDescriptions(path: string | URL = new URL('../../../.env.example', import.meta.url)): Record<string, string> {
  if (!existsSync(path)) return {};
  const descriptions: Record<string, string> = {};
  let comment: string[] = [];
  let keys: string[] = [];
  const flush = () => {
    const sentence = comment.join(' ').split(/(?<=\.)\s/)[0]?.replace(/\.$/, '');
    if (keys.length === 1 && sentence) descriptions[keys[0]!] = sentence.length > 90 ? `${sentence.slice(0, 89)}…` : sentence;
    comment = [];
    keys = [];
  };
  for (const line of readFileSync(path, 'utf8').split('\n')) {
    const text = line.trim();
    if (text === '' || text.startsWith('# ---')) flush();
    else if (text.startsWith('#')) {
      if (keys.length) flush();
      comment.push(text.replace(/^#\s?/, ''));
    } else {
      const key = /^([A-Z0-9_]+)=/.exec(text)?.[1];
      if (key) keys.push(key);
    }
  }
  flush();
  return descriptions;
}

/** Whether a schema field has no default and cannot be left unset. */
function isRequired(field: z.ZodType): boolean {
  return !field.safeParse(undefined).success;
}

/** `words` joined with `, ` and wrapped at {@link WIDTH} under `indent`. */
function wrap(words: string[], indent: string): string[] {
  const lines: string[] = [];
  let line = '';
  for (const [i, word] of words.entries()) {
    const piece = i < words.length - 1 ? `${word},` : word;
    if (line && indent.length + line.length + 1 + piece.length > WIDTH) {
      lines.push(indent + line);
      line = piece;
    } else line = line ? `${line} ${piece}` : piece;
  }
  if (line) lines.push(indent + line);
  return lines;
}

/**
 * The `Environment:` section of a command's help: that `./.env` is loaded, the variables it
 * requires (each with its `.env.example` description), and every other variable it reads — one
 * per line with its description when there are few, else as a list of names.
 */
export function renderEnvHelp(spec: EnvHelp, descriptions: Record<string, string> = envExampleDescriptions()): string {
  const fields = new Map<string, z.ZodType>();
  for (const schema of spec.schemas) for (const [key, field] of Object.entries(schema.shape)) fields.set(key, field as z.ZodType);
  const optional = new Set(spec.optional ?? []);
  const required = [...fields].filter(([key, field]) => !optional.has(key) && isRequired(field)).map(([key]) => key);
  const others = [...new Set([...fields.keys(), ...(spec.extra ?? [])])].filter((key) => !required.includes(key));
  const few = others.length <= 8;
  const listed = [...required, ...(few ? others : [])];
  const width = Math.max(0, ...listed.map((key) => key.length + (required.includes(key) ? ' (required)'.length : 0)));
  const described = (key: string) => {
    const name = required.includes(key) ? `${key} (required)` : key;
    const description = fields.get(key)?.description ?? descriptions[key];
    return `  ${description ? `${name.padEnd(width)}  ${description}` : name}`;
  };
  const lines = ['', 'Environment (./.env in the working directory is loaded first when present; variables already set win):'];
  lines.push(...required.map(described));
  if (few) lines.push(...others.map(described));
  else lines.push(`  ${required.length ? 'also read' : 'read'} (each described in .env.example and the README's Configuration):`, ...wrap(others, '    '));
  if (others.length === 0 && required.length === 0 && !spec.note) lines.push('  none');
  if (spec.note) lines.push(`  ${spec.note}`);
  return lines.join('\n');
}

/** Adds the `Environment:` section to `command` and every subcommand of it. */
export function describeEnv(command: Command, spec: EnvHelp): void {
  // Rendered when the help is shown, not at every start.
  command.addHelpText('after', () => renderEnvHelp(spec));
  for (const sub of command.commands) describeEnv(sub, spec);
}

/** Adds an `Examples:` section (one `$ …` line each, with an optional `# why` after it). */
export function describeExamples(command: Command, examples: string[]): Command {
  return command.addHelpText('after', `\nExamples:\n${examples.map((e) => `  $ ${e}`).join('\n')}`);
}

/** `pitcrew failures ls`: the command's name after its parents'. */
export function commandPath(command: Command): string {
  const names: string[] = [];
  for (let c: Command | null = command; c; c = c.parent) names.unshift(c.name());
  return names.join(' ');
}

/**
 * On a usage error (unknown option or command, missing argument, bad option value), every command
 * of the tree prints commander's error line and one usage line naming its `--help` — not the whole
 * help (`showHelpAfterError(false)`); "did you mean" suggestions stay on.
 */
export function shortUsageErrors(command: Command): void {
  command.showHelpAfterError(false).showSuggestionAfterError(true);
  command.configureOutput({
    outputError: (message, write) => write(`${message}usage: ${commandPath(command)} ${command.usage()}   (see ${commandPath(command)} --help)\n`),
  });
  for (const sub of command.commands) shortUsageErrors(sub);
}
