import { Command, InvalidArgumentError } from 'commander';
import { runMigrate } from './commands/migrate.ts';
import { registerOperatorCommands } from './commands/operate.ts';
import { runConsole, runIngest, runWorker } from './commands/serve.ts';
import { runStart } from './commands/start.ts';
import { CLI_VERSION, documentCommands } from './help-texts.ts';
import { positiveInt } from './options.ts';

/** The `pitcrew` program; `main.ts` loads `./.env` before importing it (option defaults read the environment). */
export const program = new Command()
  .name('pitcrew')
  .description('Org-wide CI-failure intake and triage: GitHub webhooks in, diagnoses in Postgres out.')
  .version(CLI_VERSION, '-V, --version', 'print the version')
  .commandsGroup('Run pitcrew:');

program
  .command('start')
  .description('run the whole system locally: Postgres and Redis (embedded unless DATABASE_URL/REDIS_URL), migrations, ingest, workers, console')
  .option('--demo', 'send the GitHub example deliveries and print what became of them', false)
  .option('--once', 'exit after the demo: 0 when every accepted failure reached a final state and every resolution job ended', false)
  .option('--workers <n>', 'worker processes', positiveInt, 2)
  .option('--port <port>', 'ingest port (default: PORT, else a free port)', positiveInt)
  .option('--data-dir <dir>', 'where embedded Postgres, Redis and logs keep their files', process.env.PITCREW_DATA_DIR ?? '.pitcrew')
  .option('--demo-timeout <ms>', 'ms to wait for the demo failures (and resolution jobs) to finish', positiveInt, 120_000)
  .action(async (opts: { demo: boolean; once: boolean; workers: number; port?: number; dataDir: string; demoTimeout: number }) => {
    const code = await runStart({
      demo: opts.demo || opts.once,
      once: opts.once,
      workers: opts.workers,
      ...(opts.port !== undefined ? { port: opts.port } : {}),
      dataDir: opts.dataDir,
      demoTimeoutMs: opts.demoTimeout,
    });
    process.exit(code);
  });

program
  .command('ingest')
  .description('run the webhook server (POST /webhooks/github, /healthz, /readyz, /metrics)')
  .action(runIngest);

program
  .command('console')
  .description('run the operator console on PITCREW_CONSOLE_PORT (admin API /api, Bull Board /admin/queues, pages); needs PITCREW_ADMIN_TOKEN')
  .action(runConsole);

program
  .command('worker')
  .description('run the BullMQ workers (intake and triage: classify → execute → summarize)')
  .action(runWorker);

program
  .command('migrate')
  .description('bring DATABASE_URL to the latest schema')
  .action(async () => {
    const applied = await runMigrate();
    console.log(applied.length ? `applied: ${applied.join(', ')}` : 'schema up to date');
  });

program
  .command('github-app')
  .helpGroup('Set up:')
  .description("create pitcrew's GitHub App (permissions, events, webhook) and write its id, key and secret to .env")
  .command('create')
  .description("run GitHub's App manifest flow: a local page sends the manifest to GitHub, GitHub's redirect brings a code, the code becomes the App's id, private key and webhook secret in .env")
  .requiredOption('--webhook-url <url>', "where GitHub delivers webhooks: ingest's https://HOST/webhooks/github")
  .option('--org <org>', 'create the App under this organisation (you must own it); default: your account')
  .option('--name <name>', 'the App name (unique on GitHub; editable on its page)', 'pitcrew')
  .option('--homepage-url <url>', "the App's homepage (default: the webhook URL's origin)")
  .option('--public', 'let any account install the App (else only its owner)', false)
  .option('--env-file <path>', 'the dotenv file to update (other lines kept, the previous file backed up)', '.env')
  .option('--github-url <url>', 'GitHub web URL; GitHub Enterprise Server: https://HOST', 'https://github.com')
  .option('--api-url <url>', 'REST API base (default: https://api.github.com, or GHES https://HOST/api/v3)')
  .option('--port <port>', 'port of the local page on 127.0.0.1 (default: a free port)', positiveInt)
  .option('--timeout <ms>', "ms to wait for GitHub's redirect", positiveInt, 900_000)
  .action(async (opts: import('./commands/github-app.ts').GithubAppCreateOptions) => {
    const { runGithubAppCreate } = await import('./commands/github-app.ts');
    process.exit(await runGithubAppCreate(opts));
  });

program.commandsGroup('Measure (development):');

const evaluate = program
  .command('eval')
  .description('measure failure-context extraction (pitcrew vs keyword search vs tail) on LogChunks, CiDiff and LogDx-CI data sets, and the diagnosis on LogDx-CI')
  .option('--logchunks <dir>', 'LogChunks-layout directory (labels.jsonl + logs)')
  .option('--cidiff <dir>', 'CiDiff-layout directory (<case>/fail.log, pass.log, groundtruth)')
  .option('--logdx <dir>', 'LogDx-CI-layout directory (<case>/fail.log, ground_truth.json, case.json)')
  .option('--model <name>', 'also score this model\'s diagnosis on LogDx-CI (LLM_BASE_URL, LLM_API_KEY from the environment or ./.env)')
  .option('--json <file>', 'also write the report as JSON')
  .option('--max-lines <n>', 'excerpt budget in lines (2x is reported too)', positiveInt, 80)
  .option('--max-bytes <n>', 'excerpt budget in bytes (2x is reported too)', positiveInt, 8192)
  .action(async (opts: import('./commands/eval.ts').EvalCommandOptions) => {
    const { runEvalCommand } = await import('./commands/eval.ts');
    await runEvalCommand(opts);
  });

evaluate
  .command('fix')
  .description('measure the fixers on the corpus of broken repositories: real git checkouts, bubblewrap, guard and verification, dry run')
  .option('--fixer <which>', 'rules, agent or both', (v) => {
    if (!['rules', 'agent', 'both'].includes(v)) throw new InvalidArgumentError('expected rules, agent or both');
    return v;
  }, 'both')
  .option('--agent-command <cli>', 'a real coding-agent CLI run in the sandbox (e.g. "claude -p --output-format stream-json --verbose"); default: the scripted agent')
  .option('--agent-estimate-usd <usd>', 'USD recorded for an agent that reports no cost', Number, 0)
  .option('--network <mode>', 'sandbox network: off, or host (a real agent reaching its API)', (v) => {
    if (v !== 'off' && v !== 'host') throw new InvalidArgumentError('expected off or host');
    return v;
  }, 'off')
  .option('--read-only <path...>', 'extra host paths the sandbox sees read-only (an agent installed outside /usr)')
  .option('--case <name...>', 'only these cases')
  .option('--corpus <dir>', 'another corpus directory (<case>/case.json + files/)')
  .option('--timeout <ms>', 'ms a fix command, the verification or the agent may run', positiveInt, 600_000)
  .option('--max-iterations <n>', "iterations of one run at most: a case's CI failing on a fix starts the next (as PITCREW_FIX_MAX_ITERATIONS)", positiveInt, 3)
  .option('--json <file>', 'also write the runs as JSON')
  .action(async (_opts: unknown, cmd: Command) => {
    // optsWithGlobals: `--json` is also an option of `eval` itself, which would otherwise take it.
    const opts = cmd.optsWithGlobals<import('./commands/eval-fix.ts').EvalFixCommandOptions>();
    const { runEvalFixCommand } = await import('./commands/eval-fix.ts');
    const { ok } = await runEvalFixCommand(opts);
    process.exit(ok ? 0 : 1);
  });

const bench = program
  .command('bench')
  .description('benchmarks against references in the same run (real Redis and Postgres); no subcommand runs all')
  .option('--json-dir <dir>', 'with no subcommand: write ingest.json, worker.json and llm.json here')
  .option('--quick', 'tiny runs that only prove the benches work', false)
  .action(async (opts: { jsonDir?: string; quick: boolean }) => {
    const { runBenchAll } = await import('./commands/bench.ts');
    await runBenchAll(opts);
    process.exit(0);
  });

bench
  .command('ingest')
  .description('webhook throughput: pitcrew ingest vs bare Hono vs a minimal peer, failures only and a 1-in-20 mix')
  .option('--json <file>', 'also write the result as JSON')
  .option('--duration <s>', 'seconds of load per target per round (default 5)', positiveInt)
  .option('--rounds <n>', 'interleaved rounds (default 3)', positiveInt)
  .option('--connections <n>', 'autocannon connections', positiveInt, 50)
  .option('--ingest-processes <n>', 'above 1: also run a pitcrew ingest with PITCREW_INGEST_PROCESSES=n (node cluster)', positiveInt)
  .option('--quick', 'tiny runs that only prove the bench works', false)
  .action(async (_opts: unknown, cmd: Command) => {
    // optsWithGlobals: `--quick` is also an option of `bench` itself, which would otherwise take it.
    const opts = cmd.optsWithGlobals<{ json?: string; duration?: number; rounds?: number; connections: number; ingestProcesses?: number; quick: boolean }>();
    const { runBenchIngest } = await import('./commands/bench.ts');
    await runBenchIngest(opts);
    process.exit(0);
  });

bench
  .command('worker')
  .description('pipeline throughput: pitcrew workers (rules; llm against the test LLM server) vs a raw BullMQ no-op worker, 1/10/50 concurrency, 1/2/4 processes')
  .option('--json <file>', 'also write the result as JSON')
  .option('--duration <s>', 'seconds measured per run after a 1 s warm-up (default 4)', positiveInt)
  .option('--quick', 'one configuration, few jobs: proves the bench works', false)
  .action(async (_opts: unknown, cmd: Command) => {
    const opts = cmd.optsWithGlobals<{ json?: string; duration?: number; quick: boolean }>();
    const { runBenchWorker } = await import('./commands/bench.ts');
    await runBenchWorker(opts);
    process.exit(0);
  });

bench
  .command('redact')
  .description("secret redaction of an 8 KiB excerpt and a 1 MiB log: redactSecrets vs secretlint's lintSource, p50/p99 ms")
  .option('--json <file>', 'also write the result as JSON')
  .option('--runs <n>', 'measured runs on the excerpt (the log gets a tenth; default 2000)', positiveInt)
  .option('--quick', '50 runs: proves the bench works', false)
  .action(async (_opts: unknown, cmd: Command) => {
    const opts = cmd.optsWithGlobals<{ json?: string; runs?: number; quick: boolean }>();
    const { runBenchRedact } = await import('./commands/bench.ts');
    await runBenchRedact(opts);
    process.exit(0);
  });

bench
  .command('llm')
  .description('client overhead: @pitcrew/llm vs the raw openai SDK against the test LLM server, non-streaming and streaming')
  .option('--json <file>', 'also write the result as JSON')
  .option('--calls <n>', 'measured calls per variant (default 2000)', positiveInt)
  .option('--quick', '100 calls: proves the bench works', false)
  .action(async (_opts: unknown, cmd: Command) => {
    const opts = cmd.optsWithGlobals<{ json?: string; calls?: number; quick: boolean }>();
    const { runBenchLlm } = await import('./commands/bench.ts');
    await runBenchLlm(opts);
    process.exit(0);
  });

bench
  .command('e2e')
  .description('sustained deliveries at a fixed rate through ingest → workers (rules, and llm on the test LLM server) → Postgres: throughput, latencies, queue depth, CPU, lost/duplicated check')
  .option('--json <file>', 'also write the result as JSON')
  .option('--duration <s>', 'seconds of sustained deliveries', positiveInt, 60)
  .option('--rate <n>', 'deliveries per second', positiveInt, 20)
  .option('--workers <n>', 'worker processes', positiveInt, 2)
  .option('--llm-latency <ms>', 'ms the test LLM server takes per answer', positiveInt, 200)
  .option('--drain <s>', 'seconds to wait for every accepted failure to be final', positiveInt, 60)
  .action(async (_opts: unknown, cmd: Command) => {
    const opts = cmd.optsWithGlobals<{ json?: string; duration: number; rate: number; workers: number; llmLatency: number; drain: number }>();
    const { runBenchE2e } = await import('./commands/bench.ts');
    process.exit(await runBenchE2e(opts));
  });

// failures ls|show|retry, replay, spend, incidents ls|show, fixes ls|show|summary|loops|loop|breakers, breakers: over the admin API.
program.commandsGroup('Operate (over the admin API at PITCREW_API_URL):');
registerOperatorCommands(program);

// Each command's environment, examples, and one usage line on a usage error.
documentCommands(program);
