export { stopChild } from './child-process.ts';
export { findFreePort } from './ports.ts';
export { pingRedis } from './redis-ping.ts';
export {
  ensureRedisServer,
  startRedisServer,
  RedisServerMissingError,
  type EnsureRedisServerOptions,
  type RedisServerHandle,
  type StartRedisServerOptions,
} from './redis-server.ts';
export {
  ensureDatabase,
  startEmbeddedPostgres,
  type PostgresHandle,
  type StartEmbeddedPostgresOptions,
} from './embedded-postgres.ts';
export { ensureBubblewrap } from './bubblewrap.ts';
export { ensureSocat } from './socat.ts';
