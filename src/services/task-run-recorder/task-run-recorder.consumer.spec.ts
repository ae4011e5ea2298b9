import { randomUUID } from 'node:crypto';
import { Logger } from '@nestjs/common';
import { at, runLifecycle, taskRunEvent } from '../../../test/factories/task-run-event.factory';
import { FakeClock } from '../../common/time/clock';
import { toMicros } from '../../common/time/timestamp';
import { ReceivedEvent } from '../../events/event.types';
import { RecordableTaskRun } from '../../task-runs/bulk/task-run-event.mapper';
import { RecorderConsumerOptions, TaskRunRecorderConsumer } from './task-run-recorder.consumer';

/** A bus that hands each published event to the handler and records whether it was acked or nacked. */
class FakeBus {
  acked: string[] = [];
  nacked: string[] = [];
  constructor(private readonly handler: (e: ReceivedEvent) => Promise<void>) {}
  /** Resolves once every handler has settled. */
  publish(events: ReceivedEvent[]): Promise<void> {
    return this.settle(events);
  }

  private async settle(events: ReceivedEvent[]): Promise<void> {
    await Promise.all(
      events.map((e) =>
        this.handler(e).then(
          () => void this.acked.push(e.id),
          () => void this.nacked.push(e.id),
        ),
      ),
    );
  }
}

const dbError = (code: string) => Object.assign(new Error(`db error ${code}`), { code });
const tick = () => new Promise((r) => setImmediate(r));

describe(TaskRunRecorderConsumer.name, () => {
  let clock: FakeClock;
  let written: ReceivedEvent[][];
  let write: jest.Mock<Promise<unknown>, [ReceivedEvent[], RecordableTaskRun[]]>;
  let deadLetters: { items: { event: ReceivedEvent; attempts: number }[]; reason: string }[];
  let deadLetter: jest.Mock<Promise<void>, [{ event: ReceivedEvent; attempts: number }[], string]>;
  let flushed: { ok: boolean; events: number; lagSeconds?: number }[];
  let problems: (string | undefined)[];

  const make = (options: Partial<RecorderConsumerOptions> = {}) => {
    const sut = new TaskRunRecorderConsumer(
      { batchSize: 3, flushIntervalMs: 1000, maxPersistRetries: 3, ...options },
      {
        write,
        deadLetter,
        clock,
        onFlushed: (o) => flushed.push(o),
        onProblem: (p) => problems.push(p),
      },
    );
    return { sut, bus: new FakeBus(sut.handle) };
  };

  const event = (i = 0) => taskRunEvent({ taskRunId: randomUUID(), type: 'RUNNING', occurred: at(i) });

  beforeAll(() => {
    Logger.overrideLogger(false);
  }); // failures are expected here; keep the output quiet

  beforeEach(() => {
    clock = new FakeClock();
    written = [];
    write = jest.fn((events: ReceivedEvent[], _records: RecordableTaskRun[]) =>
      Promise.resolve(void written.push(events)),
    );
    deadLetters = [];
    deadLetter = jest.fn((items, reason) => Promise.resolve(void deadLetters.push({ items, reason })));
    flushed = [];
    problems = [];
  });

  it('should flush when the batch is full and settle the handlers only after the write', async () => {
    const { bus } = make();
    let release!: () => void;
    write.mockImplementationOnce(async (events) => {
      written.push(events);
      await new Promise<void>((r) => (release = r));
    });
    const events = [event(), event(), event()];
    void bus.publish(events.slice(0, 2));
    await tick();
    expect(write).not.toHaveBeenCalled();
    void bus.publish(events.slice(2));
    await tick();
    expect(written).toEqual([events]);
    expect(bus.acked).toEqual([]);
    release();
    await tick();
    expect(bus.acked.sort()).toEqual(events.map((e) => e.id).sort());
  });

  it('should hand the writer each event with its mapping, made once when it arrived', async () => {
    const { sut, bus } = make({ batchSize: 2 });
    const records: unknown[][] = [];
    write.mockImplementation((events, mapped) => {
      written.push(events);
      records.push(mapped);
      return Promise.resolve();
    });
    const events = [event(0), event(1)];
    await bus.publish(events);
    await sut.close();
    expect(written).toEqual([events]);
    const seen = (records[0] as RecordableTaskRun[]).map((r) => [r.eventId, r.stateMicros]);
    expect(seen).toEqual(events.map((e) => [e.id, toMicros(e.occurred)]));
  });

  it('should write at most concurrentFlushes batches at once', async () => {
    const { sut, bus } = make({ batchSize: 2, concurrentFlushes: 2 });
    const releases: (() => void)[] = [];
    write.mockImplementation(async (events) => {
      written.push(events);
      await new Promise<void>((r) => releases.push(r));
    });
    const events = Array.from({ length: 6 }, (_, i) => event(i));
    const settled = bus.publish(events);
    await tick();
    expect(written).toHaveLength(2);
    releases.shift()!();
    await tick();
    expect(written).toHaveLength(3);
    while (releases.length) {
      releases.shift()!();
      await tick();
    }
    await settled;
    expect(bus.acked).toHaveLength(6);
    await sut.close();
  });

  it('should flush what is queued every interval', async () => {
    jest.useFakeTimers();
    try {
      const { sut, bus } = make({ batchSize: 100 });
      sut.start();
      const events = [event(), event()];
      void bus.publish(events);
      await jest.advanceTimersByTimeAsync(999);
      expect(write).not.toHaveBeenCalled();
      await jest.advanceTimersByTimeAsync(1);
      expect(written).toEqual([events]);
      expect(bus.acked).toHaveLength(2);
      await sut.close();
    } finally {
      jest.useRealTimers();
    }
  });

  it('should ack events that are not client task-run events without writing them', async () => {
    const { sut, bus } = make({ batchSize: 1 });
    const other = { ...event(), event: 'prefect.flow-run.Running' };
    const server = event();
    server.resource['prefect.orchestration'] = 'server';
    await bus.publish([other, server]);
    await sut.flush();
    expect(write).not.toHaveBeenCalled();
    expect(bus.acked).toEqual([other.id, server.id]);
  });

  it('should dead-letter an event that cannot be mapped at once, without writing it', async () => {
    const { sut, bus } = make({ batchSize: 1 });
    const bad = event();
    delete bad.payload.task_run;
    await bus.publish([bad]);
    await sut.flush();
    expect(write).not.toHaveBeenCalled();
    expect(deadLetters).toHaveLength(1);
    expect(deadLetters[0].items[0]).toMatchObject({ event: bad, attempts: 1 });
    expect(deadLetters[0].reason).toMatch(/payload.task_run is missing/);
    expect(bus.acked).toEqual([bad.id]);
  });

  it('should re-queue failed events and record them at the next flush', async () => {
    const { sut, bus } = make({ batchSize: 10 });
    write.mockRejectedValueOnce(dbError('08006'));
    const events = [event(), event()];
    const settled = bus.publish(events);
    await sut.flush();
    expect(sut.depth).toBe(2);
    expect(problems.at(-1)).toMatch(/database unavailable, 2 events buffered/);
    await sut.flush();
    await settled;
    expect(bus.acked).toHaveLength(2);
    expect(problems.at(-1)).toBeUndefined();
    expect(flushed.map((f) => f.ok)).toEqual([false, true]);
  });

  it('should dead-letter events with the error once they reach maxPersistRetries', async () => {
    const { sut, bus } = make({ batchSize: 10, maxPersistRetries: 3 });
    write.mockRejectedValue(dbError('23503'));
    const e = event();
    const settled = bus.publish([e]);
    await sut.flush();
    await sut.flush();
    expect(deadLetters).toHaveLength(0);
    await sut.flush();
    await settled;
    expect(write).toHaveBeenCalledTimes(3);
    expect(deadLetters).toEqual([{ items: [{ event: e, attempts: 3 }], reason: 'Error: db error 23503' }]);
    expect(bus.acked).toEqual([e.id]);
    expect(sut.depth).toBe(0);
  });

  it('should isolate a poison event so that the rest of its batch is recorded', async () => {
    const { sut, bus } = make({ batchSize: 5, maxPersistRetries: 3 });
    const poison = event(2);
    write.mockImplementation((events) => {
      if (events.some((e) => e.id === poison.id)) {
        return Promise.reject(dbError('23503'));
      }
      written.push(events);
      return Promise.resolve();
    });
    const good = [event(0), event(1), event(3), event(4)];
    const settled = bus.publish([good[0], good[1], poison, good[2], good[3]]);
    await tick();
    await sut.flush();
    expect(
      written
        .flat()
        .map((e) => e.id)
        .sort(),
    ).toEqual(good.map((e) => e.id).sort());
    expect(bus.acked.sort()).toEqual(good.map((e) => e.id).sort());
    expect(sut.depth).toBe(1); // the poison event: the size flush and this one failed it
    await sut.flush();
    await settled;
    expect(deadLetters).toHaveLength(1);
    expect(deadLetters[0].items).toEqual([{ event: poison, attempts: 3 }]);
    expect(bus.acked).toContain(poison.id);
    expect(problems.filter(Boolean)).toEqual([]); // a poison event does not make the service unready
  });

  it('should hand events back to the bus when even the dead-letter table fails, and keep flushing', async () => {
    const { sut, bus } = make({ batchSize: 10, maxPersistRetries: 1 });
    write.mockRejectedValueOnce(dbError('23503'));
    deadLetter.mockRejectedValueOnce(dbError('08006'));
    const lost = event();
    await sut.flush();
    const settled = bus.publish([lost]);
    await sut.flush();
    await settled;
    expect(bus.nacked).toEqual([lost.id]);
    const next = event();
    const settledNext = bus.publish([next]);
    await sut.flush();
    await settledNext;
    expect(bus.acked).toEqual([next.id]);
  });

  it('should pause size-triggered flushes after a transient failure until the next periodic flush', async () => {
    const { sut, bus } = make({ batchSize: 1 });
    write.mockRejectedValueOnce(dbError('ECONNREFUSED'));
    void bus.publish([event()]);
    await tick();
    expect(write).toHaveBeenCalledTimes(1);
    void bus.publish([event(), event()]);
    await tick();
    expect(write).toHaveBeenCalledTimes(1);
    await sut.flush();
    expect(written.flat()).toHaveLength(3);
  });

  it('should report the lag of the last flush (now − received of its oldest event)', async () => {
    const { sut, bus } = make({ batchSize: 10 });
    const [p, r] = runLifecycle(randomUUID(), null);
    clock.set(toMicros(p.received) + 2_500_000);
    void bus.publish([p, r]);
    await sut.flush();
    expect(flushed.at(-1)).toMatchObject({ ok: true, events: 2, lagSeconds: 2.5 });
  });

  it('should record what is queued on close and refuse events after it', async () => {
    const { sut, bus } = make({ batchSize: 10 });
    sut.start();
    const events = [event(), event()];
    const settled = bus.publish(events);
    await sut.close();
    await settled;
    expect(written).toEqual([events]);
    const late = event();
    await bus.publish([late]);
    expect(bus.nacked).toEqual([late.id]);
  });

  it('should keep events through a database outage longer than maxPersistRetries, dead-lettering none', async () => {
    const { sut, bus } = make({ batchSize: 10, maxPersistRetries: 2 });
    let down = true;
    write.mockImplementation((events) => {
      if (down) {
        return Promise.reject(dbError('08006'));
      }
      written.push(events);
      return Promise.resolve();
    });
    const e = event();
    const settled = bus.publish([e]);
    for (let i = 0; i < 5; i++) {
      await sut.flush();
    }
    expect(deadLetters).toEqual([]);
    expect(sut.depth).toBe(1);
    down = false;
    await sut.flush();
    await settled;
    expect(bus.acked).toEqual([e.id]);
  });

  it('should hand events back to the bus on close while the database is down (no dead letters)', async () => {
    const { sut, bus } = make({ batchSize: 10, maxPersistRetries: 2 });
    write.mockRejectedValue(dbError('08006'));
    const e = event();
    const settled = bus.publish([e]);
    await sut.close();
    await settled;
    expect(bus.nacked).toEqual([e.id]);
    expect(deadLetters).toEqual([]);
  });

  it('should dead-letter on close what still fails after its retries', async () => {
    const { sut, bus } = make({ batchSize: 10, maxPersistRetries: 2 });
    write.mockRejectedValue(dbError('23503'));
    const e = event();
    const settled = bus.publish([e]);
    await sut.close();
    await settled;
    expect(deadLetters.map((d) => d.items)).toEqual([[{ event: e, attempts: 2 }]]);
  });
});
