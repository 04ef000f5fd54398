/** redis-server processes (tools/dev-servers/redis.ts), re-exported for the tests. */
export {
  assertRedisServerInstalled,
  restartRedis,
  startRedis,
  stopRedis,
  type RedisInstance,
} from '../../tools/dev-servers/redis';
