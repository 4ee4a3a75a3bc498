export { createApp, type IngestDeps } from './app.ts';
export { createBoard, BOARD_PATH } from './board.ts';
export { IngestEnv } from './env.ts';
export { IngestError } from './errors.ts';
export { createIntakeProducer, type FailureDelivery, type IntakeProducer, type IntakeOutcome } from './intake-producer.ts';
export { startIngest, SERVER_LIMITS, redactUrl, type IngestHandle, type ServerLimits } from './main.ts';
export { createGithubWebhookRoutes, type WebhookOutcome } from './webhook.ts';
export { createRepoFilter, type RepoFilter } from './repo-filter.ts';
