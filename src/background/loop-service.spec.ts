import { Logger } from '@nestjs/common';
import { LoopService } from './loop-service';

class FlakyLoop extends LoopService {
  protected readonly logger = new Logger('FlakyLoop');
  calls: number[] = [];
  failuresLeft = 0;

  constructor(private readonly interval: number) {
    super();
  }

  protected loopSeconds(): number {
    return this.interval;
  }

  runOnce(): Promise<void> {
    this.calls.push(Date.now());
    if (this.failuresLeft > 0) {
      this.failuresLeft -= 1;
      return Promise.reject(new Error('database unavailable'));
    }
    return Promise.resolve();
  }
}

describe(LoopService.name, () => {
  beforeAll(() => {
    Logger.overrideLogger(false);
  });
  beforeEach(() => jest.useFakeTimers({ now: 0 }));
  afterEach(() => jest.useRealTimers());

  it('should retry a failed iteration after 1, 2, 4 … s rather than a whole long interval, then clear the problem', async () => {
    const sut = new FlakyLoop(3600);
    sut.failuresLeft = 3;
    await sut.start();
    await jest.advanceTimersByTimeAsync(0);
    expect(sut.health()).toMatchObject({
      status: 'running',
      // eslint-disable-next-line @typescript-eslint/no-unsafe-assignment -- @types/jest types asymmetric matchers as any
      detail: expect.stringContaining('database unavailable'),
    });
    await jest.advanceTimersByTimeAsync(1000 + 2000 + 4000);
    expect(sut.calls).toEqual([0, 1000, 3000, 7000]);
    expect(sut.health()).toEqual({ status: 'running' });
    // Back to the interval once it succeeds.
    await jest.advanceTimersByTimeAsync(3_599_000);
    expect(sut.calls).toHaveLength(4);
    await jest.advanceTimersByTimeAsync(1000);
    expect(sut.calls).toHaveLength(5);
    await sut.stop();
  });

  it('should cap the retry delay at 30 s', async () => {
    const sut = new FlakyLoop(3600);
    sut.failuresLeft = 100;
    await sut.start();
    await jest.advanceTimersByTimeAsync(0 + 1000 + 2000 + 4000 + 8000 + 16000 + 30000 + 30000);
    expect(sut.calls.slice(-3)).toEqual([31_000, 61_000, 91_000]);
    await sut.stop();
  });

  it('should never wait longer than its own short interval after a failure', async () => {
    const sut = new FlakyLoop(0.1);
    sut.failuresLeft = 5;
    await sut.start();
    await jest.advanceTimersByTimeAsync(500);
    expect(sut.calls).toEqual([0, 100, 200, 300, 400, 500]);
    await sut.stop();
  });
});
