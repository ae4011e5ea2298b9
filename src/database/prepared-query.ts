import type { PoolClient } from 'pg';
import type { EntityManager } from 'typeorm';

/**
 * A fixed statement: on a transaction's own pg connection, a named prepared statement (parsed and planned once
 * per connection, not per call) sent at once, so statements of a pipelined transaction share round trips
 * (docs/performance.md, "Group commit"); without a transaction's connection, through the EntityManager. The
 * connection's `query_timeout` and the server's `statement_timeout` bound it as they bound every query.
 * Statement names are per connection: give each fixed text its own.
 */
export async function preparedQuery<T>(
  em: EntityManager,
  name: string,
  text: string,
  values: unknown[],
): Promise<T[]> {
  // TypeORM's PostgresQueryRunner holds the pg connection it acquired (not in its public typings).
  const client = (em.queryRunner as unknown as { databaseConnection?: PoolClient } | undefined)
    ?.databaseConnection;
  if (!client) {
    return em.query(text, values);
  }
  return (await client.query({ name, text, values })).rows as T[];
}
