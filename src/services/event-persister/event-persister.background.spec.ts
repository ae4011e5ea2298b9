import { DeadLettersService } from '../../background/dead-letters/dead-letters.service';
import { MetricsService } from '../../common/metrics/metrics.service';
import { FakeClock } from '../../common/time/clock';
import { AppConfig } from '../../config/app-config';
import { InMemoryEventBus } from '../../events/bus/in-memory-event-bus';
import { ReceivedEvent } from '../../events/event.types';
import { EventsRepository, InsertResult } from '../../events/events.repository';
import { EventPersister } from './event-persister.background';

let n = 0;
function ev(): ReceivedEvent {
  n += 1;
  return {
    id: `00000000-0000-4000-8000-${String(n).padStart(12, '0')}`,
    occurred: '2026-01-01T00:00:00.000000Z',
    received: '2026-01-01T00:00:00.000000Z',
    event: 'e',
    resource: { 'prefect.resource.id': 'r' },
    related: [],
    payload: {},
    follows: null,
  };
}

/** A repository that stores in memory and fails on demand. */
class FakeRepository {
  stored: string[] = [];
  calls: number[] = [];
  inFlight = 0;
  maxInFlight = 0;
  failWhen: (batch: readonly ReceivedEvent[]) => Error | undefined = () => undefined;

  async insertMany(events: readonly ReceivedEvent[]): Promise<InsertResult> {
    this.calls.push(events.length);
    this.inFlight += 1;
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
    await new Promise((r) => setImmediate(r));
    this.inFlight -= 1;
    const error = this.failWhen(events);
    if (error) {
      throw error;
    }
    const fresh = events.filter((e) => !this.stored.includes(e.id));
    this.stored.push(...fresh.map((e) => e.id));
    return { events: fresh.length, resources: fresh.length };
  }
}

class FakeDeadLetters {
  letters: { source: string; reason: string; items: { payload: unknown; attempts: number }[] }[] = [];
  registerReplayHandler(): void {}
  record(source: string, reason: string, items: { payload: unknown; attempts: number }[]): Promise<void> {
    this.letters.push({ source, reason, items });
    return Promise.resolve();
  }
}

function setup(env: Record<string, string> = {}) {
  const bus = new InMemoryEventBus();
  const repo = new FakeRepository();
  const deadLetters = new FakeDeadLetters();
  const config = AppConfig.fromEnv({
    PREFECT_SERVER_SERVICES_EVENT_PERSISTER_BATCH_SIZE: '1000',
    PREFECT_SERVER_SERVICES_EVENT_PERSISTER_FLUSH_INTERVAL: '3600',
    PREFECT_SERVER_SERVICES_EVENT_PERSISTER_MAX_FLUSH_RETRIES: '3',
    ...env,
  });
  const sut = new EventPersister(
    bus,
    repo as unknown as EventsRepository,
    deadLetters as unknown as DeadLettersService,
    config,
    new FakeClock(),
    new MetricsService(),
  );
  return { bus, repo, deadLetters, sut };
}

const tick = () => new Promise((r) => setImmediate(r));

describe(EventPersister.name, () => {
  it('should resolve a handler only once the batch holding its event is written', async () => {
    const { repo, sut } = setup();
    let done = false;
    const handled = sut.handle(ev()).then(() => (done = true));
    await tick();
    expect(done).toBe(false);
    await sut.flush();
    await handled;
    expect(repo.stored).toHaveLength(1);
  });

  it('should flush by size, taking everything buffered', async () => {
    const { repo, sut } = setup({ PREFECT_SERVER_SERVICES_EVENT_PERSISTER_BATCH_SIZE: '3' });
    const handled = [ev(), ev(), ev()].map((e) => sut.handle(e));
    await Promise.all(handled);
    expect(repo.calls).toEqual([3]);
  });

  it('should write in statements of at most 2000 events, CONCURRENT_FLUSHES of them in flight', async () => {
    const one = setup({ PREFECT_SERVER_SERVICES_EVENT_PERSISTER_BATCH_SIZE: '10000' });
    const handled = Array.from({ length: 4500 }, ev).map((e) => one.sut.handle(e));
    await one.sut.flush();
    await Promise.all(handled);
    expect(one.repo.calls).toEqual([2000, 2000, 500]);
    expect(one.repo.maxInFlight).toBe(1);

    const two = setup({
      PREFECT_SERVER_SERVICES_EVENT_PERSISTER_BATCH_SIZE: '10000',
      PREFECT_SERVER_SERVICES_EVENT_PERSISTER_CONCURRENT_FLUSHES: '2',
    });
    const handled2 = Array.from({ length: 4500 }, ev).map((e) => two.sut.handle(e));
    await two.sut.flush();
    await Promise.all(handled2);
    expect(two.repo.stored).toHaveLength(4500);
    expect(two.repo.maxInFlight).toBe(2);
  });

  it('should isolate a poisonous event by bisecting, store the rest, and dead-letter it after its retries', async () => {
    const { repo, deadLetters, sut } = setup();
    const events = Array.from({ length: 8 }, ev);
    const poison = events[5];
    repo.failWhen = (batch) =>
      batch.some((e) => e.id === poison.id) ? new Error('invalid input syntax') : undefined;
    const handled = events.map((e) => sut.handle(e));
    await sut.flush();
    expect(repo.stored).toHaveLength(7);
    expect(sut.depth).toBe(1);
    await sut.flush();
    await sut.flush();
    await Promise.all(handled);
    expect(sut.depth).toBe(0);
    expect(deadLetters.letters).toHaveLength(1);
    expect(deadLetters.letters[0]).toMatchObject({
      source: 'event-persister',
      items: [{ payload: poison, attempts: 3 }],
    });
    expect(deadLetters.letters[0].reason).toContain('invalid input syntax');
  });

  it('should retry a whole batch during a database outage, without bisecting', async () => {
    const { repo, sut } = setup();
    let down = true;
    repo.failWhen = () =>
      down ? Object.assign(new Error('connection refused'), { code: 'ECONNREFUSED' }) : undefined;
    const handled = Array.from({ length: 4 }, ev).map((e) => sut.handle(e));
    await sut.flush();
    expect(repo.calls).toEqual([4]);
    expect(sut.depth).toBe(4);
    down = false;
    await sut.flush();
    await Promise.all(handled);
    expect(repo.stored).toHaveLength(4);
  });

  it('should keep events through an outage longer than MAX_FLUSH_RETRIES, dead-lettering none', async () => {
    const { repo, deadLetters, sut } = setup();
    let down = true;
    repo.failWhen = () =>
      down ? Object.assign(new Error('terminating connection'), { code: '57P01' }) : undefined;
    const handled = Array.from({ length: 3 }, ev).map((e) => sut.handle(e));
    for (let i = 0; i < 10; i++) {
      await sut.flush();
    } // 10 failed attempts > MAX_FLUSH_RETRIES=3
    expect(sut.depth).toBe(3);
    expect(deadLetters.letters).toHaveLength(0);
    expect(sut.health().detail).toContain('database unavailable, 3 events buffered');
    down = false;
    await sut.flush();
    await Promise.all(handled);
    expect(repo.stored).toHaveLength(3);
    expect(sut.health().detail).toBeUndefined();
  });

  it('should stop promptly during an outage, handing buffered events back to the bus (handlers reject)', async () => {
    const { repo, deadLetters, sut } = setup();
    repo.failWhen = () => Object.assign(new Error('connection refused'), { code: 'ECONNREFUSED' });
    await sut.start();
    const handled = [ev(), ev()].map((e) =>
      sut.handle(e).then(
        () => 'stored',
        () => 'rejected',
      ),
    );
    await sut.stop();
    expect(await Promise.all(handled)).toEqual(['rejected', 'rejected']);
    expect(deadLetters.letters).toHaveLength(0);
    expect(sut.depth).toBe(0);
  });

  it('should store events the bus hands over while it closes (no deadlock between close and flush)', async () => {
    const { bus, repo, sut } = setup();
    await sut.start();
    await bus.publish([ev(), ev(), ev()]);
    await sut.stop();
    expect(repo.stored).toHaveLength(3);
  });

  it('should reject the handlers (so the bus redelivers) when even the dead-letter table fails', async () => {
    const { repo, deadLetters, sut } = setup({
      PREFECT_SERVER_SERVICES_EVENT_PERSISTER_MAX_FLUSH_RETRIES: '1',
    });
    repo.failWhen = () => new Error('boom');
    deadLetters.record = () => Promise.reject(new Error('dead letters down'));
    const handled = sut.handle(ev());
    await sut.flush();
    await expect(handled).rejects.toThrow('dead letters down');
  });

  it('should take events from the bus group event-persister and report itself full at the queue size', async () => {
    const { bus, repo, sut } = setup({ PREFECT_SERVER_SERVICES_EVENT_PERSISTER_QUEUE_MAX_SIZE: '2' });
    await sut.start();
    try {
      await bus.publish([ev(), ev(), ev()]);
      await tick();
      expect(sut.depth).toBe(2);
      expect(sut.isFull()).toBe(true);
      expect(await bus.backlog()).toEqual({ 'event-persister': 3 }); // 1 waiting + 2 buffered, unsettled
      await sut.flush();
      for (let i = 0; i < 10 && repo.stored.length < 3; i++) {
        await tick();
        await sut.flush();
      }
      expect(repo.stored).toHaveLength(3);
      expect(sut.isFull()).toBe(false);
    } finally {
      await sut.stop();
    }
  });
});
