/**
 * Thrown when no `redis-server` binary can be found (or installed). The message tells the
 * operator how to fix it; `cause` carries the underlying failure, e.g. a failed `apt-get`.
 */
export class RedisServerMissingError extends Error {
  /**
   * @param detail what was looked at, first sentence of the message
   *   (default: "redis-server was not found on PATH.")
   */
  constructor(detail = 'redis-server was not found on PATH.', options?: ErrorOptions) {
    super(
      `${detail} pitcrew needs Redis for its queues. Either install redis-server ` +
        '(Debian/Ubuntu: `sudo apt-get install redis-server`; macOS: `brew install redis`) ' +
        'and make sure it is on PATH (or set REDIS_SERVER_BIN to its absolute path), ' +
        'or set REDIS_URL to an existing Redis (configure it with maxmemory-policy noeviction ' +
        'and appendonly yes) so pitcrew does not start its own.',
      options,
    );
    this.name = 'RedisServerMissingError';
  }
}
