import { Injectable, Logger, Module } from '@nestjs/common';
import request from 'supertest';
import { DeadLettersService } from '../../src/background/dead-letters/dead-letters.service';
import { LoopService } from '../../src/background/loop-service';
import { BackgroundService } from '../../src/background/managed-service';
import { wireEvent } from '../factories/event.factory';
import { createTestApp, TestApp } from '../utils/create-test-app';
import { expectEventually } from '../utils/expect-eventually';
import { ProbeModule } from '../utils/probe.module';

/** A loop service that fails every other iteration, to observe the loop counters. */
@BackgroundService({
  name: 'MetricsProbeLoop',
  settingsPrefix: 'PREFECT_SERVER_SERVICES_DB_VACUUM',
  description: 'test only',
})
@Injectable()
class MetricsProbeLoop extends LoopService {
  protected readonly logger = new Logger('MetricsProbeLoop');
  private calls = 0;
  protected loopSeconds(): number {
    return 0.01;
  }
  runOnce(): Promise<void> {
    this.calls += 1;
    if (this.calls % 2 === 0) {
      return Promise.reject(new Error('every other iteration fails'));
    }
    return Promise.resolve();
  }
}

@Module({ providers: [MetricsProbeLoop] })
class MetricsProbeModule {}

/** The value of one sample line of the exposition, e.g. `name{a="b"}`; undefined if absent. */
function sample(text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

describe('GET /api/metrics', () => {
  let t: TestApp;

  beforeAll(async () => {
    t = await createTestApp({ imports: [MetricsProbeModule, ProbeModule], env: { LOG_LEVEL: 'fatal' } });
  });

  afterAll(async () => {
    await t.close();
  });

  const scrape = async (): Promise<string> => {
    const res = await request(t.baseUrl).get('/api/metrics').expect(200);
    expect(res.headers['content-type']).toMatch(/^text\/plain; version=0\.0\.4/);
    return res.text;
  };

  it('should include the default process metrics', async () => {
    const text = await scrape();
    expect(text).toContain('# TYPE process_cpu_user_seconds_total counter');
    expect(text).toContain('nodejs_heap_size_used_bytes');
    expect(text).toContain('nodejs_eventloop_lag_seconds');
  });

  it('should count requests by route template and status, never by raw URL', async () => {
    const id = 'c0ffee00-1234-4abc-8def-0123456789ab';
    await request(t.baseUrl).get(`/api/admin/dead_letters/${id}`).expect(404);
    await request(t.baseUrl).get(`/api/admin/dead_letters/${id}`).expect(404);
    await request(t.baseUrl).get('/api/admin/dead_letters').expect(200);
    await request(t.baseUrl).get('/api/no/such/thing/c0ffee').expect(404);
    const text = await scrape();
    expect(
      sample(text, 'http_requests_total{method="GET",route="/api/admin/dead_letters/:id",status="404"}'),
    ).toBe(2);
    expect(
      sample(text, 'http_requests_total{method="GET",route="/api/admin/dead_letters",status="200"}'),
    ).toBe(1);
    expect(
      sample(text, 'http_requests_total{method="GET",route="unmatched",status="404"}'),
    ).toBeGreaterThanOrEqual(1);
    expect(text).not.toContain(id);
    expect(text).not.toContain('c0ffee');
    expect(
      sample(
        text,
        'http_request_duration_seconds_count{method="GET",route="/api/admin/dead_letters/:id",status="404"}',
      ),
    ).toBe(2);
    expect(text).toContain(
      'http_request_duration_seconds_bucket{le="+Inf",method="GET",route="/api/admin/dead_letters/:id",status="404"} 2',
    );
  });

  it('should count requests the body parser refused', async () => {
    await request(t.baseUrl)
      .post('/api/admin/dead_letters/00000000-0000-0000-0000-000000000000/replay')
      .set('content-type', 'application/json')
      .send('{"nope":')
      .expect(422);
    const text = await scrape();
    const refused = text
      .split('\n')
      .filter((l) => l.startsWith('http_requests_total{method="POST"') && l.includes('status="422"'));
    expect(refused).toHaveLength(1);
  });

  it('should count a request whose client went away first as 499', async () => {
    const aborted = new AbortController();
    const pending = fetch(`${t.baseUrl}/api/test-probe/slow?ms=1000`, { signal: aborted.signal }).catch(
      () => 'aborted',
    );
    await expectEventually(async () => {
      expect(sample(await scrape(), 'http_requests_in_flight')).toBeGreaterThanOrEqual(2); // slow + scrape
    });
    aborted.abort();
    expect(await pending).toBe('aborted');
    await expectEventually(async () => {
      expect(
        sample(await scrape(), 'http_requests_total{method="GET",route="/api/test-probe/slow",status="499"}'),
      ).toBe(1);
    });
  });

  it('should report each service as enabled and up, with loop iterations and failures', async () => {
    await expectEventually(async () => {
      const text = await scrape();
      expect(sample(text, 'prefect_service_enabled{service="MetricsProbeLoop"}')).toBe(1);
      expect(sample(text, 'prefect_service_up{service="MetricsProbeLoop"}')).toBe(1);
      const iterations =
        sample(text, 'prefect_service_loop_iterations_total{service="MetricsProbeLoop"}') ?? 0;
      const failures = sample(text, 'prefect_service_loop_failures_total{service="MetricsProbeLoop"}') ?? 0;
      expect(iterations).toBeGreaterThanOrEqual(4);
      expect(failures).toBeGreaterThanOrEqual(2);
      expect(failures).toBeLessThan(iterations);
    });
  });

  it('should time each append to the event log and count its events (default postgres broker)', async () => {
    const before = await scrape();
    const appends = sample(before, 'prefect_event_log_append_duration_seconds_count') ?? 0;
    const events = sample(before, 'prefect_event_log_append_events_sum') ?? 0;
    await request(t.baseUrl).post('/api/events').send([wireEvent(), wireEvent(), wireEvent()]).expect(204);
    const after = await scrape();
    // The 204 means the append committed, so it is already observed.
    expect(sample(after, 'prefect_event_log_append_duration_seconds_count')).toBeGreaterThan(appends);
    expect(sample(after, 'prefect_event_log_append_duration_seconds_sum')).toBeGreaterThan(0);
    expect(sample(after, 'prefect_event_log_append_events_sum')! - events).toBeGreaterThanOrEqual(3);
    expect(sample(after, 'prefect_event_log_append_duration_seconds_bucket{le="+Inf"}')).toBe(
      sample(after, 'prefect_event_log_append_duration_seconds_count'),
    );
  });

  it('should count dead letters not yet replayed, by source', async () => {
    const deadLetters = t.app.get(DeadLettersService);
    await deadLetters.record('metrics-test', 'could not store', [
      { payload: { a: 1 }, attempts: 3 },
      { payload: { a: 2 }, attempts: 3 },
    ]);
    await deadLetters.record('other-source', 'could not store', [{ payload: { b: 1 }, attempts: 1 }]);
    const text = await scrape();
    expect(sample(text, 'prefect_dead_letters{source="metrics-test"}')).toBe(2);
    expect(sample(text, 'prefect_dead_letters{source="other-source"}')).toBe(1);
  });
});

describe('GET /api/metrics on an API-only replica (SERVER_RUN_SERVICES=false)', () => {
  let t: TestApp;

  beforeAll(async () => {
    t = await createTestApp({ imports: [MetricsProbeModule], env: { SERVER_RUN_SERVICES: 'false' } });
  });

  afterAll(async () => {
    await t.close();
  });

  it('should report the services as neither enabled nor up here', async () => {
    const res = await request(t.baseUrl).get('/api/metrics').expect(200);
    expect(sample(res.text, 'prefect_service_enabled{service="MetricsProbeLoop"}')).toBe(0);
    expect(sample(res.text, 'prefect_service_up{service="MetricsProbeLoop"}')).toBe(0);
    expect(sample(res.text, 'prefect_service_loop_iterations_total{service="MetricsProbeLoop"}')).toBe(0);
  });
});
