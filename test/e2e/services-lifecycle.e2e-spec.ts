import { Injectable, Logger, Module } from '@nestjs/common';
import request from 'supertest';
import { DataSource } from 'typeorm';
import { DeadLettersService } from '../../src/background/dead-letters/dead-letters.service';
import { LoopService } from '../../src/background/loop-service';
import { BackgroundService } from '../../src/background/managed-service';
import { ServicesRegistry } from '../../src/background/services.registry';
import { createTestApp, TestApp } from '../utils/create-test-app';
import { expectEventually } from '../utils/expect-eventually';

/** A real (if trivial) service: buffers items and writes them to the database in its loop and at shutdown. */
@Injectable()
@BackgroundService({
  name: 'TestBuffering',
  settingsPrefix: 'TEST_SERVICES_BUFFERING',
  description: 'test-only: buffers items, flushes them to the dead_letter table',
})
class BufferingService extends LoopService {
  protected readonly logger = new Logger('TestBuffering');
  readonly buffer: string[] = [];
  failNext = 0;

  constructor(
    private readonly deadLetters: DeadLettersService,
    private readonly dataSource: DataSource,
  ) {
    super();
  }

  protected loopSeconds(): number {
    return 0.05;
  }

  async runOnce(): Promise<void> {
    if (this.failNext > 0) {
      this.failNext -= 1;
      throw new Error('simulated failure');
    }
    await this.flush('loop');
  }

  protected override async drain(): Promise<void> {
    // The database must still be open here: this write proves the lifecycle order.
    if (!this.dataSource.isInitialized) {
      throw new Error('database closed before drain');
    }
    await this.flush('drain');
  }

  private async flush(reason: string): Promise<void> {
    const items = this.buffer.splice(0);
    if (items.length) {
      await this.deadLetters.record(
        'test-buffering',
        reason,
        items.map((payload) => ({ payload, attempts: 0 })),
      );
    }
  }
}

@Module({ providers: [BufferingService] })
class BufferingModule {}

async function countFlushed(dataSource: DataSource, reason: string): Promise<number> {
  const [{ n }] = await dataSource.query<{ n: number }[]>(
    `SELECT count(*)::int AS n FROM dead_letter WHERE source = 'test-buffering' AND reason = $1`,
    [reason],
  );
  return n;
}

describe('services framework', () => {
  let t: TestApp | undefined;

  afterEach(async () => {
    await t?.close();
    t = undefined;
  });

  it('should start an enabled service with the app, list it, and report it ready', async () => {
    t = await createTestApp({ imports: [BufferingModule] });
    const service = t.app.get(BufferingService);
    await service.started;
    expect(service.status).toBe('running');
    const report = t.app
      .get(ServicesRegistry)
      .report()
      .find((s) => s.name === 'TestBuffering');
    expect(report).toMatchObject({
      env_var: 'TEST_SERVICES_BUFFERING_ENABLED',
      enabled: true,
      status: 'running',
    });
    const ready = await request(t.baseUrl).get('/api/ready').expect(200);
    expect(ready.body.services).toEqual(
      expect.arrayContaining([expect.objectContaining({ name: 'TestBuffering', status: 'running' })]),
    );
  });

  it('should not start a service disabled by its _ENABLED setting', async () => {
    t = await createTestApp({
      imports: [BufferingModule],
      env: { TEST_SERVICES_BUFFERING_ENABLED: 'false' },
    });
    const service = t.app.get(BufferingService);
    expect(service.status).toBe('stopped');
    const ready = await request(t.baseUrl).get('/api/ready').expect(200);
    expect((ready.body.services as { name: string }[]).find((s) => s.name === 'TestBuffering')).toMatchObject(
      {
        enabled: false,
        status: 'stopped',
      },
    );
  });

  it('should not start services in an API-only process (SERVER_RUN_SERVICES=false)', async () => {
    t = await createTestApp({ imports: [BufferingModule], env: { SERVER_RUN_SERVICES: 'false' } });
    expect(t.app.get(BufferingService).status).toBe('stopped');
    await request(t.baseUrl).get('/api/ready').expect(200);
  });

  it('should keep looping after a failing iteration and count the failure', async () => {
    t = await createTestApp({ imports: [BufferingModule] });
    const service = t.app.get(BufferingService);
    service.failNext = 2;
    await expectEventually(() => expect(service.failures).toBe(2));
    service.buffer.push('after-failures');
    await expectEventually(async () => expect(await countFlushed(t!.dataSource, 'loop')).toBe(1));
    expect(service.status).toBe('running');
  });

  it('should report a failing service on /api/ready with 503', async () => {
    t = await createTestApp({ imports: [BufferingModule] });
    const service = t.app.get(BufferingService);
    service.failNext = 1_000_000;
    await expectEventually(async () => {
      const res = await request(t!.baseUrl).get('/api/ready').expect(503);
      expect((res.body as { down: string[] }).down.join('\n')).toContain(
        'TestBuffering: last iteration failed: simulated failure',
      );
    });
    service.failNext = 0;
    await expectEventually(() => request(t!.baseUrl).get('/api/ready').expect(200));
  });

  it('should run the final flush on shutdown while the database is still open', async () => {
    t = await createTestApp({ imports: [BufferingModule], env: {} });
    const databaseUrl = t.databaseUrl;
    const service = t.app.get(BufferingService);
    await service.started;
    service.failNext = 1_000_000; // the loop never flushes: only the drain can
    service.buffer.push('a', 'b', 'c');
    await t.close();
    expect(service.status).toBe('stopped');
    const check = new DataSource({ type: 'postgres', url: databaseUrl });
    await check.initialize();
    try {
      expect(await countFlushed(check, 'drain')).toBe(3);
    } finally {
      await check.destroy();
    }
  });
});
