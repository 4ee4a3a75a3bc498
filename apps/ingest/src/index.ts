export { createApp, type IngestDeps } from './app.ts';
export { startIngestCluster } from './cluster.ts';
export { IngestEnv } from './env.ts';
export { answerJsonErrors, IngestError, JsonError } from './errors.ts';
export { checkReadiness, READINESS_TIMEOUT_MS, type ReadinessCheck } from './readiness.ts';
export { createIntakeProducer, type FailureDelivery, type IntakeProducer, type IntakeOutcome } from './intake-producer.ts';
export { startIngest, SERVER_LIMITS, redactUrl, type IngestHandle, type ServerLimits } from './main.ts';
export { createGithubWebhookRoutes, type DeliveryDetail, type WebhookOutcome } from './webhook.ts';
export { createIngestMetrics, createMetricsRoutes, serveClusterMetrics, DELIVERY_DURATION_BUCKETS, QUEUE_STATES, QUEUE_STATS_CACHE_MS, type IngestMetrics, type IngestMetricsOptions } from './metrics.ts';
export { createRepoFilter, type RepoFilter } from './repo-filter.ts';
export { createResolutionProducer, type ResolutionProducer, type SuccessDelivery } from './resolution-producer.ts';
export { createRepoEventProducer, type RepoEventProducer } from './repo-event-producer.ts';
// The hot path's steps, for the bench's floor reference (apps/cli/src/bench/ref-floor.ts).
export { readRawBody } from './raw-body.ts';
export { signatureMatches, signingKey } from './webhook-signature.ts';
export { decideBeforeParsing } from './webhook-prefilter.ts';
