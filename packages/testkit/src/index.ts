export { createTestDatabase, type TestDatabase } from './db.ts';
export { createTestRedis, deleteKeysWithPrefix, testPrefix } from './redis.ts';
export { TEMPLATE_DATABASE } from './provided-context.ts';
export { parseExposition, sampleValue, type Sample } from './prometheus.ts';
export { findFreePort, startRedisServer, type RedisServerHandle } from '@pitcrew/stack';
export { createTestRepository, startGitHttpServer, type GitHttpServer, type TestRepository } from './git-repository.ts';
export { startRedisCluster, type RedisClusterHandle, type RedisClusterNode, type StartRedisClusterOptions } from './redis-cluster.ts';
export { signedWebhookRequest, type SignedWebhookOptions } from './webhook.ts';
