import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { DatabaseEnv, LlmEnv, RedisEnv } from '@pitcrew/core';
import { ConsoleEnv } from '@pitcrew/console';
import { IngestEnv } from '@pitcrew/ingest';
import { WorkerEnv } from '@pitcrew/worker';
import { CliEnv } from './cli-env.ts';
import { describeEnv, describeExamples, shortUsageErrors, type EnvHelp } from './help.ts';

/** The CLI's version, from apps/cli/package.json. */
export const CLI_VERSION: string = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')).version;

/** What each top-level command reads from the environment (its subcommands read the same). */
export const COMMAND_ENV: Record<string, EnvHelp> = {
  start: {
    schemas: [IngestEnv, WorkerEnv, ConsoleEnv],
    extra: ['PITCREW_DATA_DIR'],
    optional: ['DATABASE_URL', 'REDIS_URL', 'GITHUB_WEBHOOK_SECRET', 'PITCREW_ADMIN_TOKEN'],
    note: 'Unset DATABASE_URL / REDIS_URL: embedded Postgres and a redis-server; unset GITHUB_WEBHOOK_SECRET, PITCREW_ADMIN_TOKEN: generated. The rest goes to ingest, the workers and the console.',
  },
  ingest: { schemas: [IngestEnv] },
  worker: { schemas: [WorkerEnv] },
  console: { schemas: [ConsoleEnv] },
  migrate: { schemas: [DatabaseEnv] },
  'github-app': {
    schemas: [],
    note: 'It reads none; it writes GITHUB_APP_ID, GITHUB_APP_PRIVATE_KEY, GITHUB_WEBHOOK_SECRET (and GITHUB_API_URL off github.com) to --env-file.',
  },
  eval: { schemas: [LlmEnv.pick({ LLM_BASE_URL: true, LLM_API_KEY: true })], note: 'Only with --model (eval) or --fixer agent and a real agent (eval fix, which reads what the agent reads).' },
  bench: {
    schemas: [RedisEnv.pick({ REDIS_URL: true, PITCREW_QUEUE_PREFIX: true }), DatabaseEnv.pick({ DATABASE_URL: true })],
    optional: ['REDIS_URL', 'DATABASE_URL'],
    note: 'Unset REDIS_URL / DATABASE_URL: a redis-server and an embedded Postgres in a temporary directory.',
  },
  failures: { schemas: [CliEnv] },
  replay: { schemas: [CliEnv] },
  spend: { schemas: [CliEnv] },
  incidents: { schemas: [CliEnv] },
  flaky: { schemas: [CliEnv] },
  fixes: { schemas: [CliEnv] },
  breakers: { schemas: [CliEnv] },
};

/** Examples per command path. */
const EXAMPLES: Record<string, string[]> = {
  pitcrew: ['pitcrew start --demo', 'pitcrew github-app create --org my-org --webhook-url https://pitcrew.example.com/webhooks/github', 'pitcrew failures ls --since 24h'],
  start: ['pitcrew start --demo --once          # the demo, then exit 0 when every failure is final', 'DATABASE_URL=postgres://… REDIS_URL=redis://… pitcrew start --workers 4'],
  ingest: ['GITHUB_WEBHOOK_SECRET=… REDIS_URL=redis://redis:6379 DATABASE_URL=postgres://… pitcrew ingest'],
  worker: ['REDIS_URL=redis://redis:6379 DATABASE_URL=postgres://… LLM_BASE_URL=http://localhost:11434/v1 pitcrew worker'],
  console: ['PITCREW_ADMIN_TOKEN=… REDIS_URL=redis://redis:6379 DATABASE_URL=postgres://… pitcrew console   # then open http://127.0.0.1:3001/login'],
  migrate: ['DATABASE_URL=postgres://pitcrew:secret@db:5432/pitcrew pitcrew migrate'],
  'github-app create': [
    'pitcrew github-app create --webhook-url https://pitcrew.example.com/webhooks/github',
    'pitcrew github-app create --org my-org --name pitcrew-my-org --webhook-url https://pitcrew.example.com/webhooks/github',
    'pitcrew github-app create --github-url https://ghe.example.com --webhook-url https://pitcrew.example.com/webhooks/github   # GHES',
  ],
  eval: ['pitcrew eval --logchunks data/logchunks --cidiff data/cidiff --json eval.json', 'LLM_BASE_URL=http://localhost:11434/v1 pitcrew eval --logdx data/logdx --model qwen2.5:7b'],
  'eval fix': ['pitcrew eval fix --fixer rules', 'pitcrew eval fix --fixer agent --agent-command "claude -p --output-format stream-json --verbose" --network host'],
  bench: ['pitcrew bench --quick', 'pitcrew bench ingest --json bench-ingest.json'],
  'failures ls': ['pitcrew failures ls --repo my-org/api --since 24h', 'pitcrew failures ls --status failed --json'],
  'failures retry': ['pitcrew failures retry gh-job-123 --stage execute --wait'],
  replay: ['pitcrew replay 8c1e6c20-…                     # a stored delivery', 'pitcrew replay delivery.json --event workflow_job  # a saved payload, signed'],
  spend: ['pitcrew spend --since 7d --repo my-org/api'],
  'fixes summary': ['pitcrew fixes summary --since 30d'],
};

/**
 * The help conventions of every command: its environment ({@link COMMAND_ENV}, which every
 * top-level command must have an entry in), examples, and short usage errors.
 *
 * @throws {Error} naming a top-level command without an {@link COMMAND_ENV} entry
 */
export function documentCommands(program: Command): void {
  for (const command of program.commands) {
    const spec = COMMAND_ENV[command.name()];
    if (!spec) throw new Error(`apps/cli/src/help-texts.ts: COMMAND_ENV has no entry for "${command.name()}" (what it reads from the environment)`);
    describeEnv(command, spec);
  }
  const visit = (command: Command, path: string) => {
    const examples = EXAMPLES[path];
    if (examples) describeExamples(command, examples);
    for (const sub of command.commands) visit(sub, path === 'pitcrew' ? sub.name() : `${path} ${sub.name()}`);
  };
  visit(program, 'pitcrew');
  shortUsageErrors(program);
}
