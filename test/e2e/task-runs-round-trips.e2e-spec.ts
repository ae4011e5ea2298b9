/**
 * Round trips to PostgreSQL per write request (docs/performance.md, "Group commit" and "Seventh round"): what a
 * create or a state change costs the database in socket writes, counted on every connection of the server's
 * process while one request at a time is served. Each figure is the fewest writes seen over a few requests, so a
 * background service's occasional query does not count against the request.
 */
import { randomUUID } from 'node:crypto';
import { Socket } from 'node:net';
import request from 'supertest';
import { createTestApp, TestApp } from '../utils/create-test-app';

jest.setTimeout(60_000);

/** Counts writes on sockets connected to `port` (PostgreSQL), from `start()` on. */
function pgWrites(port: number): { start(): void; count(): number; restore(): void } {
  const proto = Socket.prototype as unknown as Record<
    '_write' | '_writev',
    (this: Socket, ...args: unknown[]) => unknown
  >;
  const originals = { _write: proto._write, _writev: proto._writev };
  let writes = 0;
  for (const name of ['_write', '_writev'] as const) {
    const original = originals[name];
    proto[name] = function (this: Socket, ...args: unknown[]) {
      if (this.remotePort === port) {
        writes += 1;
      }
      return original.apply(this, args);
    };
  }
  return {
    start: () => {
      writes = 0;
    },
    count: () => writes,
    restore: () => Object.assign(proto, originals),
  };
}

describe('round trips to PostgreSQL per write request', () => {
  let t: TestApp;
  let writes: ReturnType<typeof pgWrites>;

  beforeAll(async () => {
    t = await createTestApp();
    writes = pgWrites(Number(new URL(t.databaseUrl).port || 5432));
  });

  afterAll(async () => {
    writes.restore();
    await t.close();
  });

  /** The fewest PostgreSQL writes over `n` requests made by `send` one after another. */
  async function fewest(n: number, send: (i: number) => Promise<void>): Promise<number> {
    let min = Infinity;
    for (let i = 0; i < n; i++) {
      writes.start();
      await send(i);
      min = Math.min(min, writes.count());
    }
    return min;
  }

  const create = (body: Record<string, unknown>, status = 201) =>
    request(t.baseUrl).post('/api/task_runs/').send(body).expect(status);

  it('should create a run under a server-generated id in one round trip', async () => {
    const key = `rt.${randomUUID()}`;
    expect(await fewest(5, async (i) => void (await create({ task_key: key, dynamic_key: String(i) })))).toBe(
      1,
    );
  });

  it('should create and queue a deferred SCHEDULED run in two round trips (the enqueue carries the COMMIT)', async () => {
    const key = `rt.${randomUUID()}`;
    const n = await fewest(5, async (i) => {
      await create({
        task_key: key,
        dynamic_key: String(i),
        state: { type: 'SCHEDULED', state_details: { deferred: true } },
      });
    });
    expect(n).toBe(2);
    const admin = await request(t.baseUrl).get('/api/admin/task_queues').expect(200);
    expect(JSON.stringify(admin.body)).toContain(key);
  });

  it('should queue a run made deferred by set_state in three round trips (locks, writes, enqueue + COMMIT)', async () => {
    const key = `rt.${randomUUID()}`;
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) {
      ids.push((await create({ task_key: key, dynamic_key: String(i) })).body.id as string);
    }
    const n = await fewest(5, async (i) => {
      await request(t.baseUrl)
        .post(`/api/task_runs/${ids[i]}/set_state`)
        .send({ state: { type: 'SCHEDULED', state_details: { deferred: true } }, force: true })
        .expect(201);
    });
    expect(n).toBe(3);
  });
});
