import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { CommanderError, type Command } from 'commander';
import { describe, expect, it } from 'vitest';
import { DatabaseEnv } from '@pitcrew/core';
import { IngestEnv } from '@pitcrew/ingest';
import { WorkerEnv } from '@pitcrew/worker';
import { program } from './cli.ts';
import { CliEnv } from './cli-env.ts';
import { commandPath, envExampleDescriptions, renderEnvHelp } from './help.ts';
import { COMMAND_ENV } from './help-texts.ts';

const VERSION = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')).version as string;

/** Every command of the tree, depth first. */
function allCommands(command: Command): Command[] {
  return [command, ...command.commands.flatMap(allCommands)];
}

/**
 * Parses `args` with the real program, in process: output captured, exits thrown as
 * {@link CommanderError} (commander's `exitOverride`) and returned with what was written.
 */
async function run(...args: string[]): Promise<{ out: string; err: string; exitCode: number | null }> {
  let out = '';
  let err = '';
  for (const command of allCommands(program)) {
    command.exitOverride().configureOutput({ writeOut: (s) => (out += s), writeErr: (s) => (err += s) });
  }
  try {
    await program.parseAsync(['node', 'pitcrew', ...args]);
    return { out, err, exitCode: null };
  } catch (error) {
    if (!(error instanceof CommanderError)) throw error;
    return { out, err, exitCode: error.exitCode };
  }
}

describe('pitcrew --version', () => {
  it('prints the version of apps/cli/package.json', async () => {
    expect(await run('--version')).toEqual({ out: `${VERSION}\n`, err: '', exitCode: 0 });
  });

  it('works from the real binary', async () => {
    const bin = fileURLToPath(new URL('../bin/pitcrew.mjs', import.meta.url));
    const { stdout } = await promisify(execFile)(process.execPath, [bin, '--version'], { timeout: 20_000 });
    expect(stdout.trim()).toBe(VERSION);
  });
});

describe('each command help', () => {
  it('names every variable of the schemas it parses and says ./.env is loaded', async () => {
    const cases: [string[], string[]][] = [
      [['ingest'], Object.keys(IngestEnv.shape)],
      [['worker'], Object.keys(WorkerEnv.shape)],
      [['migrate'], Object.keys(DatabaseEnv.shape)],
      [['start'], [...Object.keys(IngestEnv.shape), ...Object.keys(WorkerEnv.shape), 'PITCREW_DATA_DIR']],
      [['failures', 'ls'], Object.keys(CliEnv.shape)],
      [['replay'], Object.keys(CliEnv.shape)],
    ];
    for (const [args, variables] of cases) {
      const { out, exitCode } = await run(...args, '--help');
      expect(exitCode, args.join(' ')).toBe(0);
      expect(out, args.join(' ')).toContain('./.env in the working directory is loaded first when present');
      // Names are separated by spaces or commas: a prefix of another name does not count.
      const names = new Set(out.split(/[\s,]+/));
      expect(variables.filter((v) => !names.has(v)), args.join(' ')).toEqual([]);
    }
  });

  it('marks the variables a command requires and describes them from .env.example', async () => {
    const { out } = await run('ingest', '--help');
    expect(out).toMatch(/^ {2}REDIS_URL \(required\)/m);
    expect(out).toMatch(/^ {2}GITHUB_WEBHOOK_SECRET \(required\) +Required for `pitcrew ingest`: the secret set on the GitHub webhook$/m);
    // start runs its own databases and generates a secret: nothing is required there.
    expect((await run('start', '--help')).out).not.toContain('(required)');
  });

  it('has an environment section in every command, so a new command cannot leave it out', async () => {
    const names = program.commands.map((c) => c.name());
    expect(names.filter((n) => !(n in COMMAND_ENV))).toEqual([]);
    for (const command of allCommands(program).slice(1)) {
      const path = commandPath(command).split(' ').slice(1);
      expect((await run(...path, '--help')).out, path.join(' ')).toContain('\nEnvironment (./.env');
    }
  });

  it('shows examples', async () => {
    const { out } = await run('github-app', 'create', '--help');
    expect(out).toMatch(/Examples:\n {2}\$ pitcrew github-app create --webhook-url https:\/\/pitcrew\.example\.com\/webhooks\/github/);
    expect((await run('--help')).out).toContain('Examples:\n  $ pitcrew start --demo');
  });

  it('groups the top-level commands: running, setting up, measuring, operating', async () => {
    const { out } = await run('--help');
    const section = (heading: string) => out.split(`${heading}\n`)[1]?.split('\n\n')[0] ?? '';
    const commandsOf = (heading: string) => [...section(heading).matchAll(/^ {2}(\S+)/gm)].map((m) => m[1]);
    expect(commandsOf('Run pitcrew:')).toEqual(['start', 'ingest', 'console', 'worker', 'migrate']);
    expect(commandsOf('Set up:')).toEqual(['github-app']);
    expect(commandsOf('Measure (development):')).toEqual(['eval', 'bench']);
    expect(commandsOf('Operate (over the admin API at PITCREW_API_URL):')).toEqual(['failures', 'replay', 'spend', 'incidents', 'flaky', 'fixes', 'breakers']);
  });
});

describe('a usage error', () => {
  it('prints the error and one usage line, not the whole help', async () => {
    const { err, out, exitCode } = await run('start', '--frob');
    expect(exitCode).toBe(1);
    expect(out).toBe('');
    expect(err).toBe("error: unknown option '--frob'\nusage: pitcrew start [options]   (see pitcrew start --help)\n");
  });

  it('of a subcommand names the subcommand', async () => {
    const { err } = await run('failures', 'ls', '--limit', 'many');
    expect(err).toBe("error: option '--limit <n>' argument 'many' is invalid. expected a positive integer\nusage: pitcrew failures ls [options]   (see pitcrew failures ls --help)\n");
  });

  it('of an unknown command suggests the nearest one', async () => {
    const { err, exitCode } = await run('strat');
    expect(exitCode).toBe(1);
    expect(err).toBe("error: unknown command 'strat'\n(Did you mean start?)\nusage: pitcrew [options] [command]   (see pitcrew --help)\n");
  });

  it('of a missing required option names it', async () => {
    const { err } = await run('github-app', 'create');
    expect(err).toBe("error: required option '--webhook-url <url>' not specified\nusage: pitcrew github-app create [options]   (see pitcrew github-app create --help)\n");
  });
});

describe('renderEnvHelp', () => {
  it('lists few variables one per line, many as names, from any schema', () => {
    const text = renderEnvHelp({ schemas: [DatabaseEnv] }, { DATABASE_URL: 'the Postgres URL' });
    expect(text.split('\n').slice(2)).toEqual(['  DATABASE_URL (required)  the Postgres URL', '  PITCREW_DB_POOL_SIZE']);
    expect(renderEnvHelp({ schemas: [WorkerEnv] }, {})).toContain('  also read (each described in .env.example');
  });

  it('describes a variable only when a comment block of .env.example is its alone', () => {
    const descriptions = envExampleDescriptions();
    expect(descriptions.PITCREW_DB_POOL_SIZE).toBe("Connections in each process's Postgres pool");
    // One comment over REDIS_URL and DATABASE_URL describes neither alone.
    expect(descriptions.REDIS_URL).toBeUndefined();
  });
});
