import { Logger } from '@nestjs/common';
import { COLLECT_TIMEOUT_MS, MetricsService } from './metrics.service';

describe(MetricsService.name, () => {
  beforeAll(() => {
    Logger.overrideLogger(false);
  });

  it('should render within the collect timeout when a collect never answers, keeping the other metrics', async () => {
    const sut = new MetricsService();
    sut.counter('ok_total', 'ok').inc(3);
    const stuck = sut.gauge(
      'stuck',
      'a collect that hangs (a partitioned database)',
      [],
      () => new Promise(() => {}),
    );
    stuck.set(7);
    const started = Date.now();
    const { body } = await sut.render();
    expect(Date.now() - started).toBeLessThan(COLLECT_TIMEOUT_MS + 500);
    expect(body).toContain('ok_total 3');
    expect(body).toContain('stuck 7'); // its last value
  });

  it('should render when a collect throws or rejects', async () => {
    const sut = new MetricsService();
    sut.gauge('throws', 'sync error', [], () => {
      throw new Error('boom');
    });
    sut.counter('rejects_total', 'async error', [], () => Promise.reject(new Error('boom')));
    sut.gauge('fine', 'fine', [], (g) => g.set(1));
    const { body } = await sut.render();
    expect(body).toContain('fine 1');
  });
});
