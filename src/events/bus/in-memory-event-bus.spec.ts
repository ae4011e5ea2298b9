import { deferred } from '../../common/async/deferred';
import { TooManyRequestsError } from '../../common/errors/domain.error';
import { ReceivedEvent } from '../event.types';
import { InMemoryEventBus } from './in-memory-event-bus';

let n = 0;
function ev(): ReceivedEvent {
  n += 1;
  const id = `00000000-0000-4000-8000-${String(n).padStart(12, '0')}`;
  return {
    id,
    occurred: '2026-01-01T00:00:00.000000Z',
    received: '2026-01-01T00:00:00.000001Z',
    event: 'test.event',
    resource: { 'prefect.resource.id': `r.${n}` },
    related: [],
    payload: {},
    follows: null,
  };
}

const flush = () => new Promise((r) => setImmediate(r));

async function until(cond: () => boolean): Promise<void> {
  for (let i = 0; i < 500 && !cond(); i++) {
    await new Promise((r) => setTimeout(r, 2));
  }
  expect(cond()).toBe(true);
}

describe(InMemoryEventBus.name, () => {
  it('should deliver every event to every group, and each event to one consumer within a group', async () => {
    const sut = new InMemoryEventBus();
    const persister: string[] = [];
    const recorderA: string[] = [];
    const recorderB: string[] = [];
    await sut.subscribe((e) => Promise.resolve(void persister.push(e.id)), {
      group: 'event-persister',
      maxInFlight: 100,
    });
    await sut.subscribe((e) => Promise.resolve(void recorderA.push(e.id)), { group: 'task-run-recorder' });
    await sut.subscribe((e) => Promise.resolve(void recorderB.push(e.id)), { group: 'task-run-recorder' });
    const events = Array.from({ length: 50 }, ev);
    await sut.publish(events);
    await until(() => persister.length === 50 && recorderA.length + recorderB.length === 50);
    expect(new Set(persister)).toEqual(new Set(events.map((e) => e.id)));
    expect(new Set([...recorderA, ...recorderB])).toEqual(new Set(events.map((e) => e.id)));
    expect(recorderA.length).toBeGreaterThan(0);
    expect(recorderB.length).toBeGreaterThan(0);
  });

  it('should hand a consumer at most maxInFlight unsettled events', async () => {
    const sut = new InMemoryEventBus();
    const pending: (() => void)[] = [];
    await sut.subscribe(() => new Promise<void>((r) => pending.push(r)), { group: 'g', maxInFlight: 3 });
    await sut.publish(Array.from({ length: 10 }, ev));
    await flush();
    expect(pending.length).toBe(3);
    expect(await sut.backlog()).toEqual({ g: 10 }); // 7 waiting + 3 in flight, none settled
    pending[0]();
    await until(() => pending.length === 4);
  });

  it('should redeliver an event whose handler rejected, then dead-letter it after maxRetries', async () => {
    const deadLetters: [string, string, number][] = [];
    const sut = new InMemoryEventBus(
      { maxRetries: 2, retryDelayMs: 1 },
      { deadLetter: (group, e, attempts) => Promise.resolve(void deadLetters.push([group, e.id, attempts])) },
    );
    const calls: string[] = [];
    await sut.subscribe(
      (e) => {
        calls.push(e.id);
        return Promise.reject(new Error('boom'));
      },
      { group: 'g' },
    );
    const e = ev();
    await sut.publish([e]);
    await until(() => deadLetters.length === 1);
    expect(calls).toEqual([e.id, e.id, e.id]);
    expect(deadLetters).toEqual([['g', e.id, 3]]);
  });

  it('should dedupe published events by id', async () => {
    const sut = new InMemoryEventBus();
    const got: string[] = [];
    await sut.subscribe((e) => Promise.resolve(void got.push(e.id)), { group: 'g', maxInFlight: 10 });
    const e = ev();
    await sut.publish([e, e]);
    await sut.publish([e]);
    await flush();
    expect(got).toEqual([e.id]);
  });

  it('should refuse a publish that would overflow a group queue, without dropping what it holds', async () => {
    const sut = new InMemoryEventBus({ queueSize: 5 });
    const gate = deferred<void>();
    const got: string[] = [];
    await sut.subscribe(
      async (e) => {
        await gate.promise;
        got.push(e.id);
      },
      { group: 'g' },
    );
    await sut.publish(Array.from({ length: 6 }, ev)); // 1 in flight + 5 waiting
    await expect(sut.publish([ev()])).rejects.toBeInstanceOf(TooManyRequestsError);
    gate.resolve();
    await until(() => got.length === 6);
  });

  it('should wait for handlers in flight when a subscription closes, and stop delivering', async () => {
    const sut = new InMemoryEventBus();
    const gate = deferred<void>();
    const got: string[] = [];
    const sub = await sut.subscribe(
      async (e) => {
        await gate.promise;
        got.push(e.id);
      },
      { group: 'g' },
    );
    await sut.publish([ev(), ev()]);
    await flush();
    let closed = false;
    const closing = sub.close().then(() => (closed = true));
    await flush();
    expect(closed).toBe(false);
    gate.resolve();
    await closing;
    expect(got.length).toBe(1);
    expect(await sut.backlog()).toEqual({ g: 1 });
  });
});
