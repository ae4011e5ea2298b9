import Redis from 'ioredis';

/** Deletes a test's Redis stream and its keys (`<stream>:…`): tests share the Redis server. */
export async function dropRedisStream(url: string, stream: string): Promise<void> {
  const redis = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1 });
  try {
    await redis.connect();
    const keys = [stream];
    let cursor = '0';
    do {
      const [next, found] = await redis.scan(cursor, 'MATCH', `${stream}:*`, 'COUNT', 1000);
      cursor = next;
      keys.push(...found);
    } while (cursor !== '0');
    await redis.del(...keys);
  } catch {
    // best effort
  } finally {
    redis.disconnect();
  }
}
