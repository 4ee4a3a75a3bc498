import { Command, Option } from 'commander';
import { FIX_ATTEMPT_STATUSES, FIX_LOOP_STATUSES, parseEnv, TRIAGE_STAGES } from '@pitcrew/core';
import { AdminApiError, createAdminClient, type AdminClient } from '../admin/client.ts';
import { CliEnv } from '../cli-env.ts';
import { failuresLs, failuresRetry, failuresShow } from './failures.ts';
import { fixesBreakers, fixesLoop, fixesLoops, fixesLs, fixesShow, fixesSummary } from './fixes.ts';
import { breakers, incidentsLs, incidentsShow } from './incidents.ts';
import { flakyLs } from './flaky.ts';
import { isFile, readDeliveryFile, replayFile, replayStored } from './replay.ts';
import { spend } from './spend.ts';
import { positiveInt } from '../options.ts';

/** Prints what `work` returns; an admin API error is one line on stderr and exit code 1. */
async function print(work: () => Promise<string>): Promise<void> {
  try {
    console.log(await work());
  } catch (error) {
    if (!(error instanceof AdminApiError)) throw error;
    console.error(error.message);
    process.exitCode = 1;
  }
}

/**
 * Registers the operator commands, which talk to a running console's admin API over HTTP
 * (`PITCREW_API_URL`, `PITCREW_ADMIN_TOKEN`; `replay FILE` posts to ingest at `PITCREW_INGEST_URL`; see `cli-env.ts`): `failures ls|show|retry`,
 * `replay`, `spend`, `incidents ls|show`, `flaky ls`, `fixes ls|show|summary|loops|loop|breakers` and `breakers`. Every one prints tables, or the API's
 * JSON with `--json`.
 */
export function registerOperatorCommands(program: Command): void {
  const env = () => parseEnv(CliEnv, process.env);
  const client = (): AdminClient => {
    const e = env();
    return createAdminClient({ baseUrl: e.PITCREW_API_URL, token: e.PITCREW_ADMIN_TOKEN });
  };
  const json = () => new Option('--json', 'print the API answer as JSON').default(false);

  const failures = program.command('failures').description('list, inspect and retry failures (admin API at PITCREW_API_URL)');
  failures
    .command('ls')
    .description('failures, newest first')
    .option('--repo <repo>', 'owner/repo, or a repository name under any owner')
    .option('--category <category>', 'e.g. lint, test, build, dependency, infra, flaky')
    .addOption(new Option('--status <status>', 'triage status').choices(['queued', 'running', 'triaged', 'failed']))
    .option('--since <when>', 'ISO 8601 or relative: 90m, 24h, 7d')
    .option('--limit <n>', 'rows (max 500)', positiveInt, 50)
    .option('--cursor <cursor>', 'the next-page cursor a previous listing printed')
    .addOption(json())
    .action((opts) => print(() => failuresLs(client(), opts)));
  failures
    .command('show')
    .description('one failure: summary, executions (tokens, USD, ms), deliveries, incident')
    .argument('<id>', 'failure id, e.g. gh-job-123')
    .addOption(json())
    .action((id: string, opts: { json: boolean }) => print(() => failuresShow(client(), id, opts)));
  failures
    .command('retry')
    .description('re-run a failure from a stage on the workers; earlier stages keep their results')
    .argument('<id>', 'failure id')
    .addOption(new Option('--stage <stage>', 'stage to start from').choices([...TRIAGE_STAGES]).default('classify'))
    .option('--wait', 'wait until the retry finished and show the failure', false)
    .option('--timeout <ms>', 'ms to wait with --wait', positiveInt, 120_000)
    .addOption(json())
    .action((id: string, opts: { stage: (typeof TRIAGE_STAGES)[number]; wait: boolean; timeout: number; json: boolean }) =>
      print(() => failuresRetry(client(), id, { stage: opts.stage, wait: opts.wait, timeoutMs: opts.timeout, json: opts.json })),
    );

  program
    .command('replay')
    .description('replay a stored delivery by id (admin API), or a saved delivery file signed and POSTed to ingest (PITCREW_INGEST_URL) like GitHub would')
    .argument('<delivery>', 'a delivery id stored by pitcrew, or a JSON file: {headers, payload} or a bare payload with --event')
    .option('--event <event>', 'event of a bare payload file (workflow_job, check_run, check_suite, workflow_run)')
    .option('--delivery-id <id>', 'X-GitHub-Delivery to send for a file (default: a new UUID)')
    .option('--wait <ms>', 'ms the API waits for the worker to record a stored replay (max 30000)', (v) => Number(v))
    .addOption(json())
    .action((target: string, opts: { event?: string; deliveryId?: string; wait?: number; json: boolean }) =>
      print(async () => {
        if (!isFile(target)) return replayStored(client(), target, { json: opts.json, ...(opts.wait !== undefined ? { waitMs: opts.wait } : {}) });
        const e = env();
        const result = await replayFile({
          baseUrl: e.PITCREW_INGEST_URL,
          secret: e.GITHUB_WEBHOOK_SECRET[0],
          file: readDeliveryFile(target, opts.event),
          json: opts.json,
          ...(opts.deliveryId ? { deliveryId: opts.deliveryId } : {}),
        });
        if (result.status >= 400) process.exitCode = 1;
        return result.text;
      }),
    );

  program
    .command('spend')
    .description('model spend (USD, tokens in/out, executions) by UTC day and repository, and the budget ledger')
    .option('--since <day>', 'first UTC day, YYYY-MM-DD or relative (7d); default 6 days before --until')
    .option('--until <day>', 'last UTC day, YYYY-MM-DD; default today')
    .option('--repo <repo>', 'owner/repo, or a repository name under any owner')
    .addOption(json())
    .action((opts) => print(() => spend(client(), opts)));

  const incidents = program.command('incidents').description('breakages grouped by signature per repository');
  incidents
    .command('ls')
    .description('incidents, most recently seen first')
    .option('--repo <repo>', 'owner/repo, or a repository name under any owner')
    .option('--since <when>', 'last seen at or after: ISO 8601 or relative (24h, 7d)')
    .option('--limit <n>', 'rows (max 500)', positiveInt, 50)
    .option('--cursor <cursor>', 'the next-page cursor a previous listing printed')
    .addOption(json())
    .action((opts) => print(() => incidentsLs(client(), opts)));
  incidents
    .command('show')
    .description('one incident and its failures')
    .argument('<id>', 'incident id')
    .addOption(json())
    .action((id: string, opts: { json: boolean }) => print(() => incidentsShow(client(), id, opts)));

  program
    .command('flaky')
    .description('the flaky registry: jobs and tests that failed then passed on the same commit')
    .command('ls')
    .description('flaky jobs and tests, most flaky first')
    .option('--repo <repo>', 'owner/repo')
    .option('--jobs', 'per job only, without the per-test rows')
    .option('--limit <n>', 'rows (max 500)', positiveInt, 100)
    .addOption(json())
    .action((opts) => print(() => flakyLs(client(), opts)));

  const fixes = program.command('fixes').description('fix attempts: what the fixers changed, what the guard and verification decided, pull requests, USD');
  fixes
    .command('ls')
    .description('fix attempts, newest first, with their failure')
    .addOption(new Option('--status <status>', 'how the attempt ended').choices([...FIX_ATTEMPT_STATUSES]))
    .option('--fixer <fixer>', 'rules or agent')
    .option('--repo <repo>', 'owner/repo, or a repository name under any owner')
    .option('--since <when>', 'started at or after: ISO 8601 or relative (90m, 24h, 7d)')
    .option('--limit <n>', 'rows (max 500)', positiveInt, 50)
    .option('--cursor <cursor>', 'the next-page cursor a previous listing printed')
    .addOption(json())
    .action((opts) => print(() => fixesLs(client(), opts)));
  fixes
    .command('show')
    .description('one fix attempt: guard verdict, verification and its output, pull request, tokens, USD')
    .argument('<id>', 'fix attempt id (a number, as fixes ls prints it)')
    .addOption(json())
    .action((id: string, opts: { json: boolean }) => print(() => fixesShow(client(), id, opts)));
  fixes
    .command('summary')
    .description('fix attempts of a window (by status and guard rule, proposed, USD per proposed fix) and its fix loops (merge rate, iterations and USD per merged fix by fixer, model, category)')
    .option('--since <when>', 'started at or after: ISO 8601 or relative (24h, 7d); default 7d')
    .option('--repo <repo>', 'owner/repo, or a repository name under any owner')
    .option('--fixer <fixer>', 'rules or agent')
    .addOption(json())
    .action((opts) => print(() => fixesSummary(client(), opts)));
  fixes
    .command('loops')
    .description('fix loops (every iteration of one failure\'s fix), newest first: status, iterations, CI, PR outcome, USD')
    .addOption(new Option('--status <status>', 'open, or how the loop ended').choices([...FIX_LOOP_STATUSES]))
    .option('--fixer <fixer>', 'the latest iteration\'s fixer: rules or agent')
    .option('--repo <repo>', 'owner/repo, or a repository name under any owner')
    .option('--since <when>', 'started at or after: ISO 8601 or relative (90m, 24h, 7d)')
    .option('--limit <n>', 'rows (max 500)', positiveInt, 50)
    .option('--cursor <cursor>', 'the next-page cursor a previous listing printed')
    .addOption(json())
    .action((opts) => print(() => fixesLoops(client(), opts)));
  fixes
    .command('loop')
    .description('one fix loop and its iterations, with CI\'s verdict on each')
    .argument('<id>', 'loop id (the id of the failure it fixes, as fixes loops prints it)')
    .addOption(json())
    .action((id: string, opts: { json: boolean }) => print(() => fixesLoop(client(), id, opts)));
  fixes
    .command('breakers')
    .description('the fix-loop breaker per repository: exhausted loops in a row, open or closed, until when')
    .addOption(json())
    .action((opts: { json: boolean }) => print(() => fixesBreakers(client(), opts)));

  program
    .command('breakers')
    .description('circuit-breaker state per runner per live worker process')
    .addOption(json())
    .action((opts: { json: boolean }) => print(() => breakers(client(), opts)));
}
