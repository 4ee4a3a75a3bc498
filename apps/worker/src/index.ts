export { WorkerEnv } from './env.ts';
export { processIntake } from './intake.ts';
export { startWorker, type WorkerHandle } from './main.ts';
export {
  describeError,
  FailureNotFoundError,
  triageFailure,
  type ClassifyOutput,
  type ExecuteOutput,
  type SummarizeOutput,
  type TriageDeps,
  type TriageResult,
  type TriageRun,
} from './pipeline.ts';
export { createLlmRunner } from './runners/llm-runner.ts';
export { createRulesRunner } from './runners/rules-runner.ts';
export { createRunnerRegistry, type RunnerRegistry } from './runners/registry.ts';
export type { Runner, RunnerInput, RunnerOutput } from './runners/runner.ts';
export { createWorkers, type WorkerDeps, type Workers } from './worker.ts';
