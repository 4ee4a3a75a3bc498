export { WorkerEnv } from './env.ts';
export { processIntake } from './jobs/intake.ts';
export { startWorker, type WorkerHandle } from './main.ts';
export { BudgetExceededError, describeError, FailureNotFoundError, InvalidFailureDataError, LeaderPendingError, RateLimitedError } from './errors.ts';
export {
  classifyStage,
  executeStage,
  summarizeStage,
  triageFailure,
  ModelVerdict,
  ClassifyOutput,
  ExecuteOutput,
  SummarizeOutput,
  type ModelClassifier,
  type StageDefinition,
  type StageDeps,
  type TriageResult,
  type TriageRun,
} from './stages/index.ts';
export { DEGRADE_AFTER_MS, type Guards } from './guards/guarded.ts';
export { createLlmRunner } from './runners/llm-runner.ts';
export { AgentError, createAgentRunner, parseAgentOutput, type AgentRunnerOptions } from './runners/agent-runner.ts';
export { createRulesRunner } from './runners/rules-runner.ts';
export { createRunnerRegistry, Strategy, StrategyEntry, type RunnerRegistry } from './runners/registry.ts';
export { createBreakers, type Breakers, type BreakerState } from './guards/breakers.ts';
export { createBreakerPublisher, BREAKER_REFRESH_MS, type BreakerPublisher, type BreakerPublisherOptions } from './guards/breaker-publisher.ts';
export { createWorkerMetrics, serveMetrics, BREAKER_STATE_VALUES, FIX_DURATION_BUCKETS, FIX_LOOP_ITERATION_BUCKETS, STAGE_DURATION_BUCKETS, type ExecutionObservation, type FixAttemptObservation, type FixLoopObservation, type FixLoopOutcome, type FixObservationStatus, type MetricsServer, type PipelineObserver, type WorkerMetrics } from './metrics.ts';
export { createBudget, utcDay, type Budget, type BudgetLimits, type Reservation } from './guards/budget.ts';
export type { Runner, RunnerInput, RunnerOutput } from './runners/runner.ts';
export { createWorkers, type RunnerLimits, type WorkerDeps, type Workers } from './worker.ts';
export { attemptFix, verifyFix, type FixOutcome, type FixStatus, type Verification } from './fix/pipeline.ts';
export { agentFixer, rulesFixer, type FixContext, type Fixer, type FixerName, type FixerResult } from './fix/fixer.ts';
export { checkoutWorkspace, type Workspace } from './fix/workspace.ts';
export { iterationLine, type IterationSummary } from './fix/loop.ts';
export { assertSandboxWorks, DEFAULT_SANDBOX, prepareSandboxWorkspace, type SandboxPolicy } from './sandbox/sandbox.ts';
export { createRepoConfigSource, repoConfigKey, type RepoConfigRead, type RepoConfigSource } from './repo-config/repo-config.ts';
export { CONFIG_CHECK_NAME, reportRepoConfig } from './repo-config/config-report.ts';
export { commandMemoKey, runPrCommand, COMMAND_ROLES, type PrCommandDeps, type PrCommandResult } from './commands/pr-commands.ts';
export { rerunCounterKeys } from './rerun/rerun.ts';
