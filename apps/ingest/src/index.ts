export { createApp, type IngestDeps } from './app.ts';
export { createBoard, BOARD_PATH } from './board.ts';
export { IngestEnv } from './env.ts';
export { IngestError } from './errors.ts';
export { createIntakeProducer, type FailureDelivery, type IntakeProducer, type IntakeOutcome } from './intake-producer.ts';
export { startIngest, SERVER_LIMITS, redactUrl, type IngestHandle, type ServerLimits } from './main.ts';
export { createGithubWebhookRoutes, type DeliveryDetail, type WebhookOutcome } from './webhook.ts';
export { createIngestMetrics, createMetricsRoutes, DELIVERY_DURATION_BUCKETS, QUEUE_STATES, QUEUE_STATS_CACHE_MS, type IngestMetrics, type IngestMetricsOptions } from './metrics.ts';
export { createRepoFilter, type RepoFilter } from './repo-filter.ts';
