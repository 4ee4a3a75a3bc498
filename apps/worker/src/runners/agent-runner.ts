import { parse } from 'shell-quote';
import { buildExecutePrompt, toOutgoing, type CiFailure } from '@pitcrew/core';
import { checkoutWorkspace, cloneUrlOf, emptyWorkspace, type Workspace } from '../fix/workspace.ts';
import { DEFAULT_SANDBOX, prepareSandboxWorkspace, spawnSandboxed, type SandboxPolicy } from '../sandbox/sandbox.ts';
import type { Runner } from './runner.ts';

/** Options of {@link createAgentRunner}. */
export interface AgentRunnerOptions {
  /** The CLI and its arguments, shell-quoted: `claude -p --output-format stream-json`, `codex exec`, `aider --message-file -`. */
  command: string;
  /** ms before the agent's process group is killed. */
  timeoutMs: number;
  /** USD reserved against budgets before a run (agents report cost only at the end). */
  estimateUsd: number;
  /** Where disposable checkouts go; unset = the agent runs in an empty temp dir. */
  workspaceRoot?: string | undefined;
  /** Clone URL template with `{owner}` and `{repo}`, e.g. `https://github.com/{owner}/{repo}.git`. */
  cloneUrl?: string | undefined;
  /** Extra environment for the agent (API keys). */
  env?: Record<string, string | undefined>;
  /** How the agent is contained (default {@link DEFAULT_SANDBOX}: bubblewrap, no network). */
  sandbox?: SandboxPolicy;
}

/** The agent exited non-zero, timed out or was cancelled. */
export class AgentError extends Error {
  constructor(message: string, readonly reason: 'exit' | 'timeout' | 'aborted' | 'spawn', options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'AgentError';
  }
}

/** What an agent's stdout told us. */
export interface AgentReport {
  text: string;
  model: string | null;
  tokensIn: number;
  tokensOut: number;
  costUsd: number;
  usageReported: boolean;
}

/**
 * Reads an agent's stdout. Claude Code's `--output-format stream-json` (also `json`) writes one
 * JSON event per line; its `result` event carries the final text, `total_cost_usd` and `usage`
 * (`input_tokens`, `output_tokens`, cache tokens counted as input), and the `system` `init` event
 * the model. Any other output is taken as the diagnosis text, with no usage.
 */
export function parseAgentOutput(stdout: string): AgentReport {
  let model: string | null = null;
  let result: Record<string, any> | null = null;
  for (const line of stdout.split('\n')) {
    const trimmed = line.trim();
    if (!trimmed.startsWith('{')) continue;
    let event: Record<string, any>;
    try {
      event = JSON.parse(trimmed);
    } catch {
      continue;
    }
    if (event.type === 'system' && typeof event.model === 'string') model = event.model;
    if (event.type === 'result') result = event;
  }
  if (!result) return { text: stdout.trim(), model, tokensIn: 0, tokensOut: 0, costUsd: 0, usageReported: false };
  const usage = (result.usage ?? {}) as Record<string, number | undefined>;
  const tokensIn = (usage.input_tokens ?? 0) + (usage.cache_creation_input_tokens ?? 0) + (usage.cache_read_input_tokens ?? 0);
  return {
    text: String(result.result ?? ''),
    model: model ?? (typeof result.model === 'string' ? result.model : null),
    tokensIn,
    tokensOut: usage.output_tokens ?? 0,
    costUsd: Number(result.total_cost_usd ?? result.cost_usd ?? 0),
    usageReported: result.usage !== undefined,
  };
}

/** Largest stdout kept from an agent, bytes. */
const MAX_OUTPUT = 4 * 1024 * 1024;

/**
 * Runs a coding-agent CLI in the sandbox (`sandbox/sandbox.ts`: bubblewrap, only the workspace
 * writable, no network, no pitcrew credential in its environment) as a child process in its own
 * process group, with the diagnosis prompt (redacted and fenced, as for models) on stdin, in a
 * disposable checkout of the failing SHA when a workspace root and clone URL are configured. On timeout or cancel the whole process group
 * gets SIGTERM, then SIGKILL after 5 s, so tools the agent started die with it.
 *
 * @throws {AgentError} when the agent exits non-zero, times out or is cancelled
 */
export function createAgentRunner(options: AgentRunnerOptions): Runner {
  const argv = parse(options.command).filter((p): p is string => typeof p === 'string');
  const [bin, ...args] = argv;
  if (!bin) throw new Error('PITCREW_AGENT_COMMAND is empty');
  return {
    name: 'agent',
    model: null,
    estimateUsd: () => options.estimateUsd,
    async execute(input) {
      const prompt = buildExecutePrompt(input.failure, input.classification, input.logExcerpt)
        .map((m) => m.content)
        .join('\n\n');
      const workspace = await prepareWorkspace(input.failure, options);
      try {
        await prepareSandboxWorkspace(options.sandbox ?? DEFAULT_SANDBOX, workspace.dir);
        const { stdout } = await runAgentProcess({ bin, args, prompt, workspace: workspace.dir, timeoutMs: options.timeoutMs, sandbox: options.sandbox ?? DEFAULT_SANDBOX, env: options.env, signal: input.signal });
        const report = parseAgentOutput(stdout);
        return {
          markdown: report.text,
          model: report.model,
          tokensIn: report.tokensIn,
          tokensOut: report.tokensOut,
          usageReported: report.usageReported,
          costUsd: report.costUsd,
        };
      } finally {
        await workspace.dispose();
      }
    },
  };
}

async function prepareWorkspace(failure: CiFailure, options: AgentRunnerOptions): Promise<Workspace> {
  if (!options.workspaceRoot || !options.cloneUrl) return emptyWorkspace(options.workspaceRoot, failure.id);
  try {
    return await checkoutWorkspace({ root: options.workspaceRoot, name: failure.id, url: cloneUrlOf(options.cloneUrl, failure.owner, failure.repo), sha: failure.headSha });
  } catch (error) {
    throw new AgentError(`could not check out ${failure.owner}/${failure.repo}@${failure.headSha.slice(0, 12)}: ${(error as Error).message}`, 'spawn', { cause: error });
  }
}

/**
 * pitcrew's own credentials, never handed to an agent: it reads untrusted log text and runs
 * commands, so it gets the worker's environment minus these (its own API key still passes, e.g.
 * `ANTHROPIC_API_KEY`, or through {@link AgentRunnerOptions.env}).
 */
export const WITHHELD_FROM_AGENT = [
  'DATABASE_URL',
  'REDIS_URL',
  'GITHUB_WEBHOOK_SECRET',
  'GITHUB_TOKEN',
  'GITHUB_APP_PRIVATE_KEY',
  'LLM_API_KEY',
  'PITCREW_ADMIN_TOKEN',
  'PITCREW_METRICS_TOKEN',
  'PITCREW_SLACK_WEBHOOK_URL',
] as const;

/** The environment of an agent process: `inherited` without {@link WITHHELD_FROM_AGENT}, then `extra`. */
export function agentEnvironment(
  inherited: Record<string, string | undefined>,
  extra: Record<string, string | undefined> = {},
): Record<string, string | undefined> {
  const env = { ...inherited };
  for (const name of WITHHELD_FROM_AGENT) delete env[name];
  return { ...env, ...extra };
}

/**
 * Runs an agent CLI once in the sandbox with `prompt` (redacted here, at the outgoing boundary) on
 * stdin and `workspace` as its only writable directory; on timeout or cancel its process group
 * gets SIGTERM, then SIGKILL after 5 s.
 *
 * @param spec.timeoutMs ms before the agent is killed
 * @returns its stdout (at most 4 MiB)
 * @throws {AgentError} when it cannot start, exits non-zero, times out or is cancelled
 */
export function runAgentProcess(spec: {
  bin: string;
  args: readonly string[];
  prompt: string;
  workspace: string;
  timeoutMs: number;
  sandbox: SandboxPolicy;
  env?: Record<string, string | undefined> | undefined;
  signal: AbortSignal;
}): Promise<{ stdout: string }> {
  const { bin, prompt, signal } = spec;
  return new Promise((resolve, reject) => {
    let child: ReturnType<typeof spawnSandboxed>;
    try {
      child = spawnSandboxed(spec.sandbox, { bin, args: spec.args, workspace: spec.workspace, env: agentEnvironment(process.env, spec.env) });
    } catch (error) {
      reject(new AgentError(`could not start ${bin} in the sandbox: ${(error as Error).message}`, 'spawn', { cause: error }));
      return;
    }
    let stdout = '';
    let stderr = '';
    let ended: AgentError | null = null;
    child.stdout.on('data', (d: Buffer) => {
      if (stdout.length < MAX_OUTPUT) stdout += d.toString('utf8');
    });
    child.stderr.on('data', (d: Buffer) => {
      stderr = (stderr + d.toString('utf8')).slice(-4_000);
    });
    const killGroup = (why: AgentError) => {
      if (ended || child.exitCode !== null) return;
      ended = why;
      try {
        process.kill(-child.pid!, 'SIGTERM');
      } catch {
        /* already gone */
      }
      setTimeout(() => {
        try {
          process.kill(-child.pid!, 'SIGKILL');
        } catch {
          /* already gone */
        }
      }, 5_000).unref();
    };
    const timer = setTimeout(() => killGroup(new AgentError(`agent ran past ${spec.timeoutMs} ms and was killed`, 'timeout')), spec.timeoutMs);
    const onAbort = () => killGroup(new AgentError('agent cancelled', 'aborted'));
    signal.addEventListener('abort', onAbort, { once: true });
    child.on('error', (error) => {
      clearTimeout(timer);
      reject(new AgentError(`could not start ${bin}: ${error.message}`, 'spawn', { cause: error }));
    });
    child.on('close', (code, sig) => {
      clearTimeout(timer);
      signal.removeEventListener('abort', onAbort);
      if (ended) return reject(ended);
      if (code !== 0) return reject(new AgentError(`agent exited ${code ?? sig}: ${stderr.trim().slice(-1_000)}`, 'exit'));
      resolve({ stdout });
    });
    child.stdin.on('error', () => {}); // an agent that exits without reading stdin
    child.stdin.end(toOutgoing(prompt, 'agent').text);
  });
}
