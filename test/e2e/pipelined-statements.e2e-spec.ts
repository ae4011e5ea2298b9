/**
 * The app's pg client in pipeline mode (what a group commit's transaction uses, docs/performance.md "Group
 * commit" and "Sixth round"): statements issued in one turn of the event loop leave in one socket write, and
 * each still gets its own answer, in order, errors included.
 */
import type { Socket } from 'node:net';
import { DeadlineClient } from '../../src/database/deadline-client';
import { currentRun } from '../utils/test-database';

/** Counts the socket writes the client makes (one `_write` or `_writev` per write system call batch). */
function countWrites(client: DeadlineClient): () => number {
  const stream = (client as unknown as { connection: { stream: Socket } }).connection.stream;
  let writes = 0;
  const target = stream as unknown as Record<'_write' | '_writev', (...args: unknown[]) => unknown>;
  for (const name of ['_write', '_writev'] as const) {
    const original = target[name].bind(stream);
    target[name] = (...args: unknown[]) => {
      writes += 1;
      return original(...args);
    };
  }
  return () => writes;
}

describe('pipelined statements (DeadlineClient)', () => {
  let client: DeadlineClient;
  let writes: () => number;

  beforeEach(async () => {
    client = new DeadlineClient({ connectionString: currentRun().adminUrl, query_timeout: 10_000 });
    await client.connect();
    writes = countWrites(client);
    (client as unknown as { pipeline: boolean }).pipeline = true;
  });

  afterEach(async () => {
    (client as unknown as { pipeline: boolean }).pipeline = false;
    await client.end();
  });

  it('should send the statements of one tick in one socket write and answer each in order', async () => {
    const before = writes();
    const answers = Promise.all([
      client.query('BEGIN'),
      client.query({ name: 'pipelined_a', text: 'SELECT $1::int + 1 AS v', values: [1] }),
      client.query('SELECT 3 AS v'),
      client.query('COMMIT'),
    ]);
    const [begin, a, b, commit] = await answers;
    expect(writes() - before).toBe(1);
    expect([begin.command, a.rows, b.rows, commit.command]).toEqual([
      'BEGIN',
      [{ v: 2 }],
      [{ v: 3 }],
      'COMMIT',
    ]);
  });

  it('should share one write across the microtasks of the same tick, and write again in a later tick', async () => {
    const before = writes();
    const first = client.query('SELECT 1 AS v');
    await Promise.resolve();
    const second = client.query('SELECT 2 AS v');
    expect((await first).rows).toEqual([{ v: 1 }]);
    expect(writes() - before).toBe(1);
    const third = await client.query('SELECT 3 AS v');
    expect([(await second).rows, third.rows]).toEqual([[{ v: 2 }], [{ v: 3 }]]);
    expect(writes() - before).toBe(2);
  });

  it('should fail only the failing statement of a write and let the next sync point recover', async () => {
    const results = await Promise.allSettled([
      client.query('SELECT 1/0 AS v'),
      client.query('SELECT 5 AS v'),
    ]);
    expect(results[0].status).toBe('rejected');
    expect(results[1]).toEqual({ status: 'fulfilled', value: expect.objectContaining({ rows: [{ v: 5 }] }) });
  });
});
