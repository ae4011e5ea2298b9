/**
 * Task run recorder benchmark: runs × 3 client events (Pending, Running, Completed) published to the event bus
 * and recorded by the TaskRunRecorder service, on a fresh database of the local PostgreSQL.
 *
 *   node -r @swc-node/register bench/recorder.bench.ts
 *
 * Env: BENCH_SCALE (default 1) scales the number of runs; BENCH_BATCH_SIZES (default 1,100,500,1000);
 * BENCH_BROKERS (default postgres,memory: the durable log, publish = committed append, against the in-process bus);
 * BENCH_PUBLISHERS (default 1) concurrent appends in the saturated phase;
 * PREFECT_SERVER_SERVICES_TASK_RUN_RECORDER_CONCURRENT_FLUSHES is passed to the app when set; TEST_DATABASE_URL
 * (else the local server) is where the bench database is created and dropped. Prints `name: value unit` lines, medians of REPS repetitions:
 * - baseline: a raw `pg` multi-row INSERT of the equivalent final rows (1 task_run + 3 task_run_state rows per
 *   run), same database, measured right before each recorder repetition (the ratio is taken per repetition);
 * - per batch size (TASK_RUN_RECORDER_BATCH_SIZE 1, 100, 500, 1000): events/s recorded when the bus is fed as
 *   fast as it takes them (saturated; event-received → row committed p50/p99 under that backlog), the ratio to
 *   the baseline, and event-received → row p50/p99 at a fixed offered load below capacity.
 * The event stream interleaves BENCH_IN_FLIGHT_RUNS (default 1000) runs in flight, so the three events of a run
 * fall into different batches (no coalescing helps the recorder): the pessimistic case. With fewer runs in
 * flight (e.g. 100) a run's events often share a batch and are written as one upsert.
 * Each ratio prints a `goal` line (≥ 1.0, issue 12); at the default batch size (500) a missed goal is followed by
 * the CPU profile of one more saturated repetition (bench/profile.ts).
 */
import 'reflect-metadata';
import { randomUUID } from 'node:crypto';
import { loadavg } from 'node:os';
import { Client } from 'pg';
import { DataSource } from 'typeorm';
import { fromMicros, toMicros } from '../src/common/time/timestamp';
import { EventBus } from '../src/events/bus/event-bus';
import { ReceivedEvent } from '../src/events/event.types';
import { TaskRunBulkWriter } from '../src/task-runs/bulk/task-run-bulk.writer';
import { RecordableTaskRun } from '../src/task-runs/bulk/task-run-event.mapper';
import { runLifecycle } from '../test/factories/task-run-event.factory';
import { createTestApp, TestApp } from '../test/utils/create-test-app';
import { adminQuery, createMigratedDatabase, DEFAULT_ADMIN_URL } from '../test/utils/test-database';
import { CpuProfile, goal, printProfile, profileInProcess } from './profile';

const SCALE = Number(process.env.BENCH_SCALE ?? '1');
const REPS = 3;
const RUNS = Math.max(100, Math.round(1000 * SCALE));
const FLUSH_INTERVAL_S = 1;
/** The server's default batch size: its phase is profiled when it misses the goal (BENCH_PROFILE=always|missed|never). */
const DEFAULT_BATCH_SIZE = 500;
const PROFILE = process.env.BENCH_PROFILE ?? 'missed';
const BATCH_SIZES = (process.env.BENCH_BATCH_SIZES ?? '1,100,500,1000').split(',').map(Number);
/** Passed through to the app when set (e.g. to compare 1 and 2). */
const CONCURRENT_FLUSHES = process.env.PREFECT_SERVER_SERVICES_TASK_RUN_RECORDER_CONCURRENT_FLUSHES;
/**
 * Brokers to compare (BENCH_BROKERS, default `postgres,memory`): the default durable log (publish = committed
 * append, the recorder reads the log) against the in-process bus (the recorder's direct figure).
 */
const BROKERS = (process.env.BENCH_BROKERS ?? 'postgres,memory').split(',');
/** Runs in flight in the stream: a run's three events sit about this many events apart. */
const IN_FLIGHT_RUNS = Number(process.env.BENCH_IN_FLIGHT_RUNS ?? '1000');
/**
 * Concurrent publishers of the saturated phase (BENCH_PUBLISHERS, default 1: one append of 1 000 events at a
 * time). With N > 1, N appends are in flight at once, as N HTTP clients would send them; the figures are then
 * printed with a `_publishers_N` suffix (docs/task-run-recorder.md, "One statement per write").
 */
const PUBLISHERS = Number(process.env.BENCH_PUBLISHERS ?? '1');

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const percentile = (xs: number[], p: number): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? NaN;
};
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const nowMicros = () => Date.now() * 1000;

/** A writer that notes, per recorded event, received → committed (ms). */
class TimedWriter extends TaskRunBulkWriter {
  latencies: number[] = [];
  recorded = 0;

  override async recordBulkTaskRunEvents(events: ReceivedEvent[], mapped?: readonly RecordableTaskRun[]) {
    const result = await super.recordBulkTaskRunEvents(events, mapped);
    const now = nowMicros();
    for (const e of events) {
      this.latencies.push((now - toMicros(e.received)) / 1000);
    }
    this.recorded += events.length;
    return result;
  }
}

/** `runs` runs × 3 events, IN_FLIGHT_RUNS runs in flight: run i's events sit ~that many events apart. */
function stream(runs: number, flowRunId: string, tag: string): ReceivedEvent[] {
  const keyed: { e: ReceivedEvent; k: number }[] = [];
  for (let i = 0; i < runs; i++) {
    runLifecycle(randomUUID(), flowRunId, i * 10, tag, String(i)).forEach((e, j) =>
      keyed.push({ e, k: i + (j * IN_FLIGHT_RUNS) / 3 + j / 10 }),
    );
  }
  return keyed.sort((a, b) => a.k - b.k).map((x) => x.e);
}

/**
 * Publishes `events` in chunks of `chunk`; `publishers` chunks are in flight at once (each publisher takes the
 * next chunk when its previous append answered), as concurrent HTTP clients would append.
 */
async function publishAll(
  bus: EventBus,
  events: ReceivedEvent[],
  chunk = 1000,
  publishers = 1,
): Promise<void> {
  let next = 0;
  const publisher = async (): Promise<void> => {
    while (next < events.length) {
      const i = next;
      next += chunk;
      const stamped = events.slice(i, i + chunk).map((e) => ({ ...e, received: fromMicros(nowMicros()) }));
      for (;;) {
        try {
          await bus.publish(stamped);
          break;
        } catch (err) {
          if ((err as Error).name !== 'TooManyRequestsError') {
            throw err;
          }
          await sleep(2);
        }
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, publishers) }, () => publisher()));
}

async function waitFor(cond: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) {
      throw new Error('timed out waiting for the recorder');
    }
    await sleep(2);
  }
}

async function insertFlowRun(ds: {
  query(sql: string, params: unknown[]): Promise<unknown>;
}): Promise<string> {
  const flowId = randomUUID();
  const id = randomUUID();
  await ds.query(`INSERT INTO flow (id, name) VALUES ($1, $2)`, [flowId, `flow-${flowId}`]);
  await ds.query(`INSERT INTO flow_run (id, name, flow_id) VALUES ($1, 'bench', $2)`, [id, flowId]);
  return id;
}

/** The same final rows with a raw multi-row INSERT (1000 rows per statement), one transaction per chunk. */
async function baseline(url: string, runs: number): Promise<number> {
  const client = new Client({ connectionString: url });
  await client.connect();
  try {
    const flowRunId = await insertFlowRun(client);
    const events = stream(runs, flowRunId, `base-${randomUUID()}`);
    const completed = events.filter((e) => e.event.endsWith('Completed'));
    const started = performance.now();
    for (let i = 0; i < completed.length; i += 1000) {
      const chunk = completed.slice(i, i + 1000);
      const params: unknown[] = [];
      const rows = chunk.map((e) => {
        const tr = e.payload.task_run as Record<string, unknown>;
        const b = params.length;
        params.push(
          e.resource['prefect.resource.id'].slice('prefect.task-run.'.length),
          tr.name,
          flowRunId,
          tr.task_key,
          tr.dynamic_key,
          JSON.stringify(tr.empirical_policy),
          JSON.stringify(tr.tags),
          JSON.stringify(tr.labels),
          e.id,
          e.occurred,
          tr.start_time,
          tr.end_time,
        );
        return `($${b + 1}::uuid, $${b + 2}, $${b + 3}::uuid, $${b + 4}, $${b + 5}, $${b + 6}::jsonb, $${b + 7}::jsonb, $${b + 8}::jsonb, $${b + 9}::uuid, 'COMPLETED', 'Completed', $${b + 10}::timestamptz, $${b + 11}::timestamptz, $${b + 12}::timestamptz, 1)`;
      });
      await client.query('BEGIN');
      await client.query(
        `INSERT INTO task_run (id, name, flow_run_id, task_key, dynamic_key, empirical_policy, tags, labels, state_id, state_type, state_name, state_timestamp, start_time, end_time, run_count) VALUES ${rows.join(', ')}`,
        params,
      );
      await client.query('COMMIT');
    }
    for (let i = 0; i < events.length; i += 1000) {
      const chunk = events.slice(i, i + 1000);
      const params: unknown[] = [];
      const rows = chunk.map((e) => {
        const vs = e.payload.validated_state as Record<string, unknown>;
        const b = params.length;
        params.push(
          e.id,
          e.resource['prefect.resource.id'].slice('prefect.task-run.'.length),
          vs.type,
          e.occurred,
          vs.name,
          JSON.stringify({
            task_run_id: e.resource['prefect.resource.id'].slice(17),
            flow_run_id: flowRunId,
          }),
        );
        return `($${b + 1}::uuid, $${b + 2}::uuid, $${b + 3}::state_type, $${b + 4}::timestamptz, $${b + 5}, $${b + 6}::jsonb)`;
      });
      await client.query('BEGIN');
      await client.query(
        `INSERT INTO task_run_state (id, task_run_id, type, timestamp, name, state_details) VALUES ${rows.join(', ')}`,
        params,
      );
      await client.query('COMMIT');
    }
    return events.length / ((performance.now() - started) / 1000);
  } finally {
    await client.end();
  }
}

interface RecorderFigures {
  eventsPerSecond: number;
  saturatedP50: number;
  saturatedP99: number;
  offeredRate: number;
  p50: number;
  p99: number;
}

async function recorderRun(
  t: TestApp,
  writer: TimedWriter,
  batchSize: number,
  around = (work: () => Promise<void>) => work(),
): Promise<RecorderFigures> {
  const bus = t.app.get(EventBus);
  const runs = batchSize === 1 ? Math.max(50, Math.round(RUNS / 10)) : RUNS;
  const flowRunId = await insertFlowRun(t.dataSource);

  // 1. saturated: publish everything as fast as the bus takes it
  const events = stream(runs, flowRunId, `sat-${randomUUID()}`);
  writer.latencies = [];
  writer.recorded = 0;
  const started = performance.now();
  await around(async () => {
    await publishAll(bus, events, 1000, PUBLISHERS);
    await waitFor(() => writer.recorded >= events.length, 120_000);
  });
  const eventsPerSecond = events.length / ((performance.now() - started) / 1000);
  const saturated = writer.latencies;

  // 2. latency at a fixed offered load: half the saturated rate (at most 5000/s), for ~1 s
  const offeredRate = Math.min(5000, Math.round(eventsPerSecond / 2));
  const perTick = Math.max(1, Math.round(offeredRate / 100));
  const paced = stream(Math.ceil(offeredRate / 3), flowRunId, `paced-${randomUUID()}`);
  writer.latencies = [];
  writer.recorded = 0;
  for (let i = 0; i < paced.length; i += perTick) {
    const tick = performance.now();
    await publishAll(bus, paced.slice(i, i + perTick));
    await sleep(Math.max(0, 10 - (performance.now() - tick)));
  }
  await waitFor(() => writer.recorded >= paced.length, 60_000);
  return {
    eventsPerSecond,
    saturatedP50: percentile(saturated, 50),
    saturatedP99: percentile(saturated, 99),
    offeredRate,
    p50: percentile(writer.latencies, 50),
    p99: percentile(writer.latencies, 99),
  };
}

async function main(): Promise<void> {
  const adminUrl = process.env.TEST_DATABASE_URL ?? DEFAULT_ADMIN_URL;
  const name = `ptr_bench_recorder_${Date.now().toString(36)}`;
  const url = await createMigratedDatabase(adminUrl, name);
  const line = (key: string, value: number, unit: string, digits = 0) =>
    console.log(`${key}: ${value.toFixed(digits)} ${unit}`);
  try {
    console.log(
      `# recorder bench: ${IN_FLIGHT_RUNS} runs in flight, ${RUNS} runs × 3 events per repetition (batch size 1: ${Math.max(50, Math.round(RUNS / 10))} runs), ${REPS} repetitions, medians; flush interval ${FLUSH_INTERVAL_S} s`,
    );
    for (const broker of BROKERS) {
      for (const batchSize of BATCH_SIZES) {
        let writer!: TimedWriter;
        const t = await createTestApp({
          listen: false,
          databaseUrl: url,
          env: {
            PREFECT_SERVER_SERVICES_TASK_RUN_RECORDER_BATCH_SIZE: String(batchSize),
            PREFECT_SERVER_SERVICES_TASK_RUN_RECORDER_FLUSH_INTERVAL: String(FLUSH_INTERVAL_S),
            PREFECT_SERVER_SERVICES_EVENT_PERSISTER_ENABLED: 'false',
            PREFECT_SERVER_EVENTS_MESSAGING_BROKER: broker,
            ...(CONCURRENT_FLUSHES
              ? { PREFECT_SERVER_SERVICES_TASK_RUN_RECORDER_CONCURRENT_FLUSHES: CONCURRENT_FLUSHES }
              : {}),
          },
          override: (b) =>
            b.overrideProvider(TaskRunBulkWriter).useFactory({
              factory: (ds: DataSource) => (writer = new TimedWriter(ds)),
              inject: [DataSource],
            }),
        });
        try {
          // Each repetition measures the baseline right before the recorder: the machine is shared and its load
          // drifts, so the ratio is taken per repetition.
          const reps: (RecorderFigures & { baseline: number; ratio: number })[] = [];
          for (let r = 0; r < REPS; r++) {
            const base = await baseline(url, batchSize === 1 ? Math.max(50, Math.round(RUNS / 10)) : RUNS);
            const figures = await recorderRun(t, writer, batchSize);
            reps.push({ ...figures, baseline: base, ratio: figures.eventsPerSecond / base });
          }
          const m = (k: keyof (typeof reps)[number]) => median(reps.map((x) => x[k]));
          const key = `recorder_${broker}_batch_${batchSize}${PUBLISHERS > 1 ? `_publishers_${PUBLISHERS}` : ''}`;
          line(`${key}_events_per_s`, m('eventsPerSecond'), 'events/s');
          line(`${key}_baseline_raw_insert`, m('baseline'), 'events/s');
          line(`${key}_ratio_to_baseline`, m('ratio'), '', 3);
          line(`${key}_saturated_received_to_row_p50`, m('saturatedP50'), 'ms');
          line(`${key}_saturated_received_to_row_p99`, m('saturatedP99'), 'ms');
          line(`${key}_offered_rate`, m('offeredRate'), 'events/s');
          line(`${key}_received_to_row_p50`, m('p50'), 'ms');
          line(`${key}_received_to_row_p99`, m('p99'), 'ms');
          const met = goal(`${key}_vs_raw_insert`, m('ratio'), '>=', 1.0);
          if (batchSize === DEFAULT_BATCH_SIZE && (PROFILE === 'always' || (PROFILE === 'missed' && !met))) {
            let profile: CpuProfile | null = null;
            await recorderRun(t, writer, batchSize, async (work) => {
              profile = await profileInProcess(work);
            });
            printProfile(
              `profile of this process (the app with its recorder, and the bench publishing to its bus) while the recorder takes one more saturated batch${met ? '' : ' (the goal was not met)'}:`,
              profile!,
              "what would close it: one task_run row version per run (a run's events coalesced across batches), fewer indexes per version (docs/task-run-recorder.md)",
            );
          }
          console.log(
            `# ${key}: load ${loadavg()
              .map((x) => x.toFixed(2))
              .join(' ')}`,
          );
        } finally {
          await t.close();
        }
      }
    }
  } finally {
    await adminQuery(adminUrl, `DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
