/**
 * Events benchmark: events with 1 primary + 2 related resources, on a fresh database of the local PostgreSQL.
 *
 *   node -r @swc-node/register bench/events.bench.ts
 *
 * Env: BENCH_SCALE (default 1) scales the event counts; TEST_DATABASE_URL (else the local server) is where the
 * bench database is created and dropped. Prints `name: value unit` lines, medians of 3 repetitions, each on
 * emptied tables, with the baseline measured right before each measurement and ratios taken per repetition:
 * - baseline: raw `pg` COPY of the same rows (events + event_resources) in the same run;
 * - write strategies for one batch statement (what EventsRepository does vs the alternatives): JSON parameter
 *   expanded with jsonb_to_recordset (chosen), UNNEST of arrays, multi-row VALUES, COPY into a temp table then
 *   INSERT … SELECT; each with ON CONFLICT DO NOTHING and resource rows only for inserted events;
 * - end to end: events published on the in-memory bus (as ingestion does) and stored by the EventPersister
 *   service with its default settings (batch 20, flush 5 s, queue 50000, 1 statement in flight): sustained
 *   persisted events/s, ratio to the COPY baseline, and received → committed p50/p99 under that saturation;
 *   the same with two statements in flight; then p50/p99 at a steady offered load below capacity.
 * - durable ingest (the default PostgreSQL broker): `POST /api/events` over HTTP (8 clients, 500 events per
 *   request, services off), acknowledged = committed to `event_log`, ÷ raw COPY of the same rows into
 *   `event_log`; then the acknowledgement latency p50/p99 at 5 000 events/s offered (50 events every 10 ms)
 *   with the persister and the recorder running. `BENCH_EVENTS_PARTS=ingest` runs only this part,
 *   `BENCH_EVENTS_PARTS=throughput` or `latency` only one half. The server runs in its own process (src/main.ts,
 *   as deployed), the clients in this one; `BENCH_INGEST_SERVER=inprocess` runs it inside the bench process
 *   instead (createTestApp: clients and server then share one event loop), for comparison. The clients send
 *   with node:http on kept-alive connections (`BENCH_INGEST_CLIENT=fetch`: undici's fetch, as before
 *   2026-12-06 09:50); the throughput phase is warmed up with one repetition's worth of requests first.
 *   `BENCH_SERVER_ENV='NAME=value,…'` adds settings to the server's environment. Per repetition:
 *   append statistics (in-process from the bus's appendTimer, exact; in child mode from the server's
 *   `prefect_event_log_append_*` histograms, quantiles interpolated in buckets) and, in child mode, the server's
 *   CPU time (/proc). `BENCH_CPU_PROF=<dir>` profiles the child server (bench/cpu-prof-hook.ts).
 */
import 'reflect-metadata';
import { Agent, request } from 'node:http';
import { loadavg } from 'node:os';
import { monitorEventLoopDelay, PerformanceObserver } from 'node:perf_hooks';
import { Client } from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { TooManyRequestsError } from '../src/common/errors/domain.error';
import { Clock, SystemClock } from '../src/common/time/clock';
import { fromMicros, toMicros } from '../src/common/time/timestamp';
import { AppConfig } from '../src/config/app-config';
import { EventBus, EventHandler, SubscribeOptions, Subscription } from '../src/events/bus/event-bus';
import { InMemoryEventBus } from '../src/events/bus/in-memory-event-bus';
import { PostgresEventBus } from '../src/events/bus/postgres-event-bus';
import { PrefectEvent, ReceivedEvent } from '../src/events/event.types';
import { EventsIngestService } from '../src/events/events-ingest.service';
import { INSERT_EVENTS_SQL, serializeBatch } from '../src/events/events.repository';
import { EVENT_PERSISTER_GROUP } from '../src/services/event-persister/event-persister.background';
import { createTestApp } from '../test/utils/create-test-app';
import { startServer } from '../test/utils/server-process';
import { adminQuery, createMigratedDatabase, DEFAULT_ADMIN_URL } from '../test/utils/test-database';
import { makeEvents } from './bench-events';
import { processCpuMs } from './process-stats';

const SCALE = Number(process.env.BENCH_SCALE ?? '1');
const REPS = 3;
const N_WRITE = Math.round(5_000 * SCALE);
const N_E2E = Math.round(10_000 * SCALE);
const STEADY_RATE = 5000; // events/s offered in the latency phase
const STEADY_SECONDS = 2 * Math.min(1, SCALE);
const BATCH = 5000;
const INGEST_CLIENTS = Number(process.env.BENCH_INGEST_CLIENTS ?? '8');
const INGEST_SERVER = process.env.BENCH_INGEST_SERVER === 'inprocess' ? 'inprocess' : 'child';
/**
 * How the bench's clients send `POST /api/events`: `http` (default) with node:http on kept-alive connections and
 * the bodies as ready bytes, or `fetch` (undici's WHATWG layer, what the bench used before 2026-12-06 09:50,
 * for comparison). The clients share this process and the machine's 2 cores with the server: what they spend
 * per request is not what a user's own client costs the server, so the lighter one is the default.
 */
const INGEST_CLIENT = process.env.BENCH_INGEST_CLIENT === 'fetch' ? 'fetch' : 'http';
const agent = new Agent({ keepAlive: true, maxSockets: Infinity });

/** One `POST /api/events` of a serialised body; resolves with the status once the answer is read. */
async function postEvents(baseUrl: string, body: string | Buffer): Promise<number> {
  if (INGEST_CLIENT === 'fetch') {
    const res = await fetch(`${baseUrl}/api/events`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body,
    });
    await res.arrayBuffer();
    return res.status;
  }
  const bytes = typeof body === 'string' ? Buffer.from(body) : body;
  return new Promise<number>((resolve, reject) => {
    const req = request(
      `${baseUrl}/api/events`,
      {
        method: 'POST',
        agent,
        headers: { 'content-type': 'application/json', 'content-length': String(bytes.length) },
      },
      (res) => {
        res.on('data', () => undefined);
        res.on('end', () => resolve(res.statusCode ?? 0));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(bytes);
  });
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const percentile = (xs: number[], p: number): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? NaN;
};
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const print = (name: string, value: number, unit: string) =>
  process.stdout.write(
    `${name}: ${Number.isFinite(value) ? +value.toFixed(value < 10 ? 3 : 1) : value} ${unit}\n`,
  );

// ---------------------------------------------------------------------------------------------------------------
// Writers, each given a connected client and a batch of events.

const esc = (s: string) =>
  s.replace(/\\/g, '\\\\').replace(/\t/g, '\\t').replace(/\n/g, '\\n').replace(/\r/g, '\\r');
const strip = (labels: Record<string, string>) => {
  const { 'prefect.resource.id': _id, 'prefect.resource.role': _role, ...rest } = labels;
  return rest;
};

async function copy(client: Client, sql: string, text: string): Promise<void> {
  const stream = client.query(copyFrom(sql));
  await new Promise<void>((resolve, reject) => {
    stream.on('finish', () => resolve());
    stream.on('error', reject);
    stream.end(text);
  });
}

const EVENT_COLS =
  'id, occurred, event, resource_id, resource, related_resource_ids, related, payload, received, recorded, follows';

function eventLines(events: ReceivedEvent[], recorded: string): string {
  let out = '';
  for (const e of events) {
    out += `${e.id}\t${e.occurred}\t${esc(e.event)}\t${esc(e.resource['prefect.resource.id'])}\t${esc(JSON.stringify(e.resource))}\t${esc(
      JSON.stringify(e.related.map((r) => r['prefect.resource.id'])),
    )}\t${esc(JSON.stringify(e.related))}\t${esc(JSON.stringify(e.payload))}\t${e.received}\t${recorded}\t${e.follows ?? '\\N'}\n`;
  }
  return out;
}

function resourceLines(events: ReceivedEvent[]): string {
  let out = '';
  for (const e of events) {
    out += `${e.occurred}\t${esc(e.resource['prefect.resource.id'])}\t\t${esc(JSON.stringify(strip(e.resource)))}\t${e.id}\n`;
    for (const r of e.related) {
      out += `${e.occurred}\t${esc(r['prefect.resource.id'])}\t${esc(r['prefect.resource.role'])}\t${esc(JSON.stringify(strip(r)))}\t${e.id}\n`;
    }
  }
  return out;
}

/** Baseline: raw COPY of the same rows, no conflict handling. */
async function rawCopy(client: Client, events: ReceivedEvent[], recorded: string): Promise<void> {
  await copy(client, `COPY events (${EVENT_COLS}) FROM STDIN`, eventLines(events, recorded));
  await copy(
    client,
    `COPY event_resources (occurred, resource_id, resource_role, resource, event_id) FROM STDIN`,
    resourceLines(events),
  );
}

async function viaJson(client: Client, events: ReceivedEvent[], recorded: string): Promise<void> {
  await client.query(INSERT_EVENTS_SQL, [serializeBatch(events), recorded]);
}

const UNNEST_SQL = `
WITH ins AS (
  INSERT INTO events (${EVENT_COLS})
  SELECT * FROM unnest($1::uuid[], $2::timestamptz[], $3::text[], $4::text[], $5::jsonb[], $6::jsonb[], $7::jsonb[],
                       $8::jsonb[], $9::timestamptz[], $10::timestamptz[], $11::uuid[])
  ON CONFLICT (id) DO NOTHING RETURNING id
)
INSERT INTO event_resources (occurred, resource_id, resource_role, resource, event_id)
SELECT r.occurred, r.resource_id, r.resource_role, r.resource, r.event_id
FROM unnest($12::timestamptz[], $13::text[], $14::text[], $15::jsonb[], $16::uuid[])
     AS r(occurred, resource_id, resource_role, resource, event_id)
JOIN ins ON ins.id = r.event_id`;

async function viaUnnest(client: Client, events: ReceivedEvent[], recorded: string): Promise<void> {
  const cols: unknown[][] = Array.from({ length: 16 }, () => []);
  for (const e of events) {
    const v = [
      e.id,
      e.occurred,
      e.event,
      e.resource['prefect.resource.id'],
      JSON.stringify(e.resource),
      JSON.stringify(e.related.map((r) => r['prefect.resource.id'])),
      JSON.stringify(e.related),
      JSON.stringify(e.payload),
      e.received,
      recorded,
      e.follows,
    ];
    v.forEach((x, i) => cols[i].push(x));
    for (const r of [e.resource, ...e.related]) {
      cols[11].push(e.occurred);
      cols[12].push(r['prefect.resource.id']);
      cols[13].push(r === e.resource ? '' : r['prefect.resource.role']);
      cols[14].push(JSON.stringify(strip(r)));
      cols[15].push(e.id);
    }
  }
  await client.query(UNNEST_SQL, cols);
}

async function viaValues(client: Client, events: ReceivedEvent[], recorded: string): Promise<void> {
  for (let c = 0; c < events.length; c += 1000) {
    const chunk = events.slice(c, c + 1000);
    const params: unknown[] = [];
    const p = (v: unknown) => `$${params.push(v)}`;
    const ev = chunk.map(
      (e) =>
        `(${p(e.id)}::uuid, ${p(e.occurred)}::timestamptz, ${p(e.event)}, ${p(e.resource['prefect.resource.id'])}, ${p(JSON.stringify(e.resource))}::jsonb, ${p(
          JSON.stringify(e.related.map((r) => r['prefect.resource.id'])),
        )}::jsonb, ${p(JSON.stringify(e.related))}::jsonb, ${p(JSON.stringify(e.payload))}::jsonb, ${p(e.received)}::timestamptz, ${p(recorded)}::timestamptz, ${p(e.follows)}::uuid)`,
    );
    const res = chunk.flatMap((e) =>
      [e.resource, ...e.related].map(
        (r) =>
          `(${p(e.occurred)}::timestamptz, ${p(r['prefect.resource.id'])}, ${p(r === e.resource ? '' : r['prefect.resource.role'])}, ${p(JSON.stringify(strip(r)))}::jsonb, ${p(e.id)}::uuid)`,
      ),
    );
    await client.query(
      `WITH ins AS (INSERT INTO events (${EVENT_COLS}) VALUES ${ev.join(',')} ON CONFLICT (id) DO NOTHING RETURNING id)
       INSERT INTO event_resources (occurred, resource_id, resource_role, resource, event_id)
       SELECT r.* FROM (VALUES ${res.join(',')}) AS r(occurred, resource_id, resource_role, resource, event_id) JOIN ins ON ins.id = r.event_id`,
      params,
    );
  }
}

async function viaTempCopy(client: Client, events: ReceivedEvent[], recorded: string): Promise<void> {
  await client.query('BEGIN');
  await client.query(
    `CREATE TEMP TABLE IF NOT EXISTS tmp_events (LIKE events INCLUDING DEFAULTS) ON COMMIT DELETE ROWS`,
  );
  await copy(client, `COPY tmp_events (${EVENT_COLS}) FROM STDIN`, eventLines(events, recorded));
  await client.query(`
    WITH ins AS (
      INSERT INTO events (${EVENT_COLS}) SELECT ${EVENT_COLS} FROM tmp_events ON CONFLICT (id) DO NOTHING RETURNING id
    )
    INSERT INTO event_resources (occurred, resource_id, resource_role, resource, event_id)
    SELECT t.occurred, t.resource_id, '', t.resource - 'prefect.resource.id' - 'prefect.resource.role', t.id
    FROM tmp_events t JOIN ins ON ins.id = t.id
    UNION ALL
    SELECT t.occurred, r->>'prefect.resource.id', r->>'prefect.resource.role', r - 'prefect.resource.id' - 'prefect.resource.role', t.id
    FROM tmp_events t JOIN ins ON ins.id = t.id CROSS JOIN LATERAL jsonb_array_elements(t.related) r`);
  await client.query('COMMIT');
}

type Writer = (client: Client, events: ReceivedEvent[], recorded: string) => Promise<void>;

async function measureWriter(client: Client, writer: Writer, events: ReceivedEvent[]): Promise<number> {
  await client.query('TRUNCATE events, event_resources');
  const recorded = fromMicros(Date.now() * 1000);
  const started = performance.now();
  for (let i = 0; i < events.length; i += BATCH) {
    await writer(client, events.slice(i, i + BATCH), recorded);
  }
  const rate = events.length / ((performance.now() - started) / 1000);
  const { rows } = await client.query<{ e: number; r: number }>(
    'SELECT (SELECT count(*) FROM events)::int AS e, (SELECT count(*) FROM event_resources)::int AS r',
  );
  if (rows[0].e !== events.length || rows[0].r !== events.length * 3) {
    throw new Error(`writer stored ${JSON.stringify(rows[0])}`);
  }
  return rate;
}

// ---------------------------------------------------------------------------------------------------------------
// End to end: the real app (in-memory bus + EventPersister), with a bus that times each event's durable handling.

class TimedBus extends InMemoryEventBus {
  latencies: number[] = [];
  stored = 0;
  constructor(private readonly clock: Clock) {
    super({ queueSize: 1_000_000 });
  }

  override subscribe(handler: EventHandler, options: SubscribeOptions): Promise<Subscription> {
    if (options.group !== EVENT_PERSISTER_GROUP) {
      return super.subscribe(handler, options);
    }
    return super.subscribe(async (event) => {
      await handler(event);
      this.latencies.push((this.clock.nowMicros() - toMicros(event.received)) / 1000);
      this.stored += 1;
    }, options);
  }

  reset(): void {
    this.latencies = [];
    this.stored = 0;
  }
}

async function publish(ingest: EventsIngestService, events: PrefectEvent[]): Promise<void> {
  for (;;) {
    try {
      await ingest.publish(events);
      return;
    } catch (err) {
      if (!(err instanceof TooManyRequestsError)) {
        throw err;
      }
      await sleep(2);
    }
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Durable ingest through the default PostgreSQL broker.

const wire = (events: ReceivedEvent[]): PrefectEvent[] => events.map(({ received: _received, ...e }) => e);

/** Baseline: raw COPY of the same rows the broker writes (one `event_log` row per event, its JSON). */
async function rawCopyLog(client: Client, events: ReceivedEvent[]): Promise<void> {
  for (let i = 0; i < events.length; i += BATCH) {
    const text = events
      .slice(i, i + BATCH)
      .map((e) => `${esc(JSON.stringify(e))}\n`)
      .join('');
    await copy(client, `COPY event_log (event) FROM STDIN`, text);
  }
}

/**
 * Request bodies serialised before the clock starts: a real client serialises on its own machine, and this
 * one shares the server's process and cores, so its JSON.stringify is not the server's ingest cost.
 */
function bodies(events: PrefectEvent[], perRequest: number): (string | Buffer)[] {
  const out: (string | Buffer)[] = [];
  for (let i = 0; i < events.length; i += perRequest) {
    const text = JSON.stringify(events.slice(i, i + perRequest));
    out.push(INGEST_CLIENT === 'fetch' ? text : Buffer.from(text));
  }
  return out;
}

async function postAll(baseUrl: string, requests: (string | Buffer)[], clients: number): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < requests.length) {
      const body = requests[next++];
      for (;;) {
        const status = await postEvents(baseUrl, body);
        if (status === 204) {
          break;
        }
        if (status !== 429) {
          throw new Error(`POST /api/events answered ${status}`);
        }
        await sleep(5);
      }
    }
  };
  await Promise.all(Array.from({ length: clients }, worker));
}

/**
 * The server under test: by default its own process (src/main.ts, as deployed), so the clients' CPU (request
 * sending, response parsing, timers) is not charged to it; `BENCH_INGEST_SERVER=inprocess` boots it inside this
 * process with createTestApp, and only then is the bus (its appendTimer) reachable.
 */
interface IngestServer {
  baseUrl: string;
  /** The in-process bus, for append statistics; undefined for a child process. */
  bus?: PostgresEventBus;
  commitWindowMs: number;
  /** The server's CPU time so far (user + system), in ms; undefined in-process (it would include the clients). */
  cpuMs(): number | undefined;
  /** The append histograms scraped from the child's `GET /api/metrics`; undefined in-process. */
  appendSnapshot(): Promise<AppendSnapshot | undefined>;
  close(): Promise<void>;
}

/** Cumulative `prefect_event_log_append_*` histograms: count, sums, and the duration buckets (le in s → count). */
interface AppendSnapshot {
  count: number;
  seconds: number;
  events: number;
  buckets: [number, number][];
}

async function scrapeAppends(baseUrl: string): Promise<AppendSnapshot> {
  const text = await (await fetch(`${baseUrl}/api/metrics`)).text();
  const value = (series: string): number => {
    const line = text.split('\n').find((l) => l.startsWith(`${series} `));
    return line === undefined ? 0 : Number(line.slice(series.length + 1));
  };
  const buckets: [number, number][] = [];
  for (const m of text.matchAll(
    /^prefect_event_log_append_duration_seconds_bucket\{le="([^"]+)"\} (\S+)$/gm,
  )) {
    buckets.push([m[1] === '+Inf' ? Infinity : Number(m[1]), Number(m[2])]);
  }
  return {
    count: value('prefect_event_log_append_duration_seconds_count'),
    seconds: value('prefect_event_log_append_duration_seconds_sum'),
    events: value('prefect_event_log_append_events_sum'),
    buckets,
  };
}

/**
 * The appends between two snapshots: count, events per append, mean, and p50/p99 interpolated linearly inside
 * the histogram bucket that holds them (so only as fine as the buckets: 1, 2, 5, 10, 20, 50, 100, 200 ms …).
 */
function appendsBetween(before: AppendSnapshot | undefined, after: AppendSnapshot | undefined): string {
  if (!before || !after) {
    return '';
  }
  const count = after.count - before.count;
  if (count <= 0) {
    return '; no appends';
  }
  const quantile = (q: number): number => {
    const rank = q * count;
    let lowLe = 0;
    let lowCount = 0;
    for (const [le, cumulative] of after.buckets) {
      const c = cumulative - (before.buckets.find(([l]) => l === le)?.[1] ?? 0);
      if (c >= rank) {
        const upper = Number.isFinite(le) ? le : lowLe;
        return (lowLe + ((rank - lowCount) / Math.max(1, c - lowCount)) * (upper - lowLe)) * 1000;
      }
      lowLe = le;
      lowCount = c;
    }
    return NaN;
  };
  return `; ${count} appends of ${((after.events - before.events) / count).toFixed(0)} events on average, mean ${(((after.seconds - before.seconds) / count) * 1000).toFixed(1)} ms, p50 ≈ ${quantile(0.5).toFixed(1)} / p99 ≈ ${quantile(0.99).toFixed(1)} ms (server metrics)`;
}

/**
 * `BENCH_SERVER_ENV='NAME=value,NAME2=value2'`: settings added to the server's environment in both phases (for
 * A/B runs of a setting, e.g. `PREFECT_SERVER_EVENTS_COMMIT_WINDOW=0.001`).
 */
const SERVER_ENV: Record<string, string> = Object.fromEntries(
  (process.env.BENCH_SERVER_ENV ?? '')
    .split(',')
    .filter((kv) => kv.includes('='))
    .map((kv) => [kv.slice(0, kv.indexOf('=')).trim(), kv.slice(kv.indexOf('=') + 1).trim()]),
);

async function startIngestServer(url: string, phaseEnv: Record<string, string>): Promise<IngestServer> {
  const env = { ...phaseEnv, ...SERVER_ENV };
  const commitWindowMs = AppConfig.fromEnv({ DATABASE_URL: url, ...env }).events.commitWindow * 1000;
  if (INGEST_SERVER === 'inprocess') {
    const t = await createTestApp({ databaseUrl: url, env });
    const bus = t.app.get(EventBus);
    if (!(bus instanceof PostgresEventBus)) {
      throw new Error('the default broker is not the PostgreSQL log');
    }
    return {
      baseUrl: t.baseUrl,
      bus,
      commitWindowMs,
      cpuMs: () => undefined,
      appendSnapshot: () => Promise.resolve(undefined),
      close: () => t.close(),
    };
  }
  const profile = process.env.BENCH_CPU_PROF;
  const server = await startServer({
    DATABASE_URL: url,
    DATABASE_MIGRATE_ON_START: 'false',
    ...env,
    ...(profile
      ? {
          NODE_OPTIONS: `--require @swc-node/register --require ${require.resolve('./cpu-prof-hook.ts')}`,
          BENCH_CPU_PROF: profile,
        }
      : {}),
  });
  const pid = server.child.pid!;
  return {
    baseUrl: server.baseUrl,
    commitWindowMs,
    cpuMs: () => processCpuMs(pid),
    appendSnapshot: () => scrapeAppends(server.baseUrl),
    close: async () => {
      if (profile) {
        server.child.kill('SIGUSR2'); // the hook writes the profile
        await sleep(3000);
      }
      const code = await server.stop();
      if (code !== 0) {
        process.stderr.write(`# server exited with ${code}:\n${server.output().slice(-4000)}\n`);
      }
    },
  };
}

async function durableIngest(url: string, client: Client): Promise<void> {
  process.stdout.write(
    `# durable ingest: server ${INGEST_SERVER === 'child' ? 'in its own process (src/main.ts)' : 'inside the bench process (createTestApp)'}; BENCH_INGEST_SERVER=${INGEST_SERVER}, BENCH_INGEST_CLIENT=${INGEST_CLIENT}\n`,
  );
  if (process.env.BENCH_EVENTS_PARTS !== 'latency') {
    await ingestThroughput(url, client);
  }
  if (process.env.BENCH_EVENTS_PARTS !== 'throughput') {
    await ackLatency(url, client);
  }
}

/** What the server spent between two readings, for the per-repetition lines (child mode only). */
function cpuLine(server: IngestServer, before: number | undefined, wallMs: number): string {
  const after = server.cpuMs();
  if (before === undefined || after === undefined) {
    return '';
  }
  return `; server CPU ${(after - before).toFixed(0)} ms (${(((after - before) / wallMs) * 100).toFixed(0)}% of a core)`;
}

async function ingestThroughput(url: string, client: Client): Promise<void> {
  const n = Math.round(20_000 * SCALE);
  const server = await startIngestServer(url, {
    PREFECT_SERVER_SERVICES_DB_VACUUM_ENABLED: 'false',
    PREFECT_SERVER_SERVICES_EVENT_PERSISTER_ENABLED: 'false',
    PREFECT_SERVER_SERVICES_TASK_RUN_RECORDER_ENABLED: 'false',
  });
  const rates: number[] = [];
  const copies: number[] = [];
  const ratios: number[] = [];
  let appends: { n: number; ms: number }[] = [];
  if (server.bus) {
    server.bus.appendTimer = (n, ms) => appends.push({ n, ms });
  }
  try {
    // Warm-up as long as one repetition: with 2 000 events (before 2026-12-06 09:50) the first repetition
    // still ran partly unoptimised code (25-50 % more server CPU than the next two), i.e. measured start-up,
    // not the long-running server a user has.
    await postAll(server.baseUrl, bodies(wire(makeEvents(n)), 500), 8);
    await client.query('TRUNCATE event_log, event_log_group RESTART IDENTITY');
    for (let rep = 0; rep < REPS; rep++) {
      const events = makeEvents(n);
      const requests = bodies(wire(events), 500);
      await client.query('TRUNCATE event_log, event_log_group RESTART IDENTITY');
      let started = performance.now();
      await rawCopyLog(client, events);
      const copyRate = n / ((performance.now() - started) / 1000);
      await client.query('TRUNCATE event_log, event_log_group RESTART IDENTITY');
      appends = [];
      const snapshot = await server.appendSnapshot();
      const cpuBefore = server.cpuMs();
      started = performance.now();
      await postAll(server.baseUrl, requests, INGEST_CLIENTS);
      const wallMs = performance.now() - started;
      const rate = n / (wallMs / 1000);
      const appendMs = appends.map((a) => a.ms);
      const { rows } = await client.query<{ n: number }>('SELECT count(*)::int AS n FROM event_log');
      if (rows[0].n !== n) {
        throw new Error(`event_log holds ${rows[0].n} of ${n}`);
      }
      copies.push(copyRate);
      rates.push(rate);
      ratios.push(rate / copyRate);
      const cpu = cpuLine(server, cpuBefore, wallMs);
      const appendStats = server.bus
        ? `; ${appends.length} appends of ${(n / appends.length).toFixed(0)} events on average, p50 ${percentile(appendMs, 50).toFixed(1)} / p99 ${percentile(appendMs, 99).toFixed(1)} ms`
        : appendsBetween(snapshot, await server.appendSnapshot());
      process.stdout.write(
        `# ingest rep ${rep + 1}/${REPS}: ${rate.toFixed(0)} vs COPY ${copyRate.toFixed(0)} events/s${appendStats}${cpu}; load ${loadavg()[0].toFixed(2)}\n`,
      );
    }
  } finally {
    await server.close();
  }
  print('durable_ingest_baseline_raw_copy_event_log_events_per_s', median(copies), 'events/s');
  print('durable_ingest_http_events_per_s', median(rates), 'events/s');
  print('durable_ingest_ratio_to_raw_copy', median(ratios), 'x');
}

async function ackLatency(url: string, client: Client): Promise<void> {
  // Acknowledgement latency at 5 000 events/s offered, with the persister and the recorder consuming.
  await client.query('TRUNCATE event_log, event_log_group, events, event_resources RESTART IDENTITY');
  const server = await startIngestServer(url, { PREFECT_SERVER_SERVICES_DB_VACUUM_ENABLED: 'false' });
  try {
    for (const rate of [1000, STEADY_RATE]) {
      const p50s: number[] = [];
      const p99s: number[] = [];
      for (let rep = 0; rep < REPS; rep++) {
        const total = Math.round(rate * 2 * Math.min(1, SCALE));
        const perTick = rate / 100;
        const requests = bodies(wire(makeEvents(total)), perTick);
        const latencies: number[] = [];
        const loopDelay = monitorEventLoopDelay({ resolution: 5 });
        const gcPauses: number[] = [];
        const appendMs: number[] = [];
        if (server.bus) {
          server.bus.appendTimer = (_n, ms) => appendMs.push(ms);
        }
        const gcObserver = new PerformanceObserver((list) => {
          for (const entry of list.getEntries()) {
            gcPauses.push(entry.duration);
          }
        });
        gcObserver.observe({ entryTypes: ['gc'] });
        loopDelay.enable();
        const inFlight: Promise<void>[] = [];
        const snapshot = await server.appendSnapshot();
        const cpuBefore = server.cpuMs();
        const started = performance.now();
        for (let i = 0; i < total; i += perTick) {
          const body = requests[i / perTick];
          const t0 = performance.now();
          inFlight.push(
            postEvents(server.baseUrl, body).then((status) => {
              if (status !== 204) {
                throw new Error(`POST /api/events answered ${status}`);
              }
              latencies.push(performance.now() - t0);
            }),
          );
          const due = started + ((i + perTick) / rate) * 1000;
          const wait = due - performance.now();
          if (wait > 0) {
            await sleep(wait);
          }
        }
        await Promise.all(inFlight);
        const wallMs = performance.now() - started;
        loopDelay.disable();
        gcObserver.disconnect();
        p50s.push(percentile(latencies, 50));
        p99s.push(percentile(latencies, 99));
        // Where a tail can come from in the bench process (the server's too when in-process): event-loop stalls
        // (any synchronous work, GC included).
        const cpu = cpuLine(server, cpuBefore, wallMs);
        const appendStats = server.bus
          ? `; append (serialise + commit) p50 ${percentile(appendMs, 50).toFixed(1)} / p99 ${percentile(appendMs, 99).toFixed(1)} ms over ${appendMs.length}`
          : appendsBetween(snapshot, await server.appendSnapshot());
        process.stdout.write(
          `# ack latency at ${rate}/s rep ${rep + 1}/${REPS}: p50 ${percentile(latencies, 50).toFixed(1)} ms, p99 ${percentile(latencies, 99).toFixed(1)} ms, max ${Math.max(...latencies).toFixed(1)} ms; bench event-loop delay p99 ${(loopDelay.percentile(99) / 1e6).toFixed(1)} ms, max ${(loopDelay.max / 1e6).toFixed(1)} ms; bench GC ${gcPauses.length} pauses, longest ${Math.max(0, ...gcPauses).toFixed(1)} ms${appendStats}${cpu}; load ${loadavg()[0].toFixed(2)}\n`,
        );
      }
      print(`ack_latency_at_${rate}_per_s_p50`, median(p50s), 'ms');
      print(`ack_latency_at_${rate}_per_s_p99`, median(p99s), 'ms');
    }
  } finally {
    await server.close();
  }
  print('commit_window', server.commitWindowMs, 'ms');
}

async function main(): Promise<void> {
  const adminUrl = process.env.TEST_DATABASE_URL ?? DEFAULT_ADMIN_URL;
  const name = `ptr_bench_events_${Date.now().toString(36)}`;
  const url = await createMigratedDatabase(adminUrl, name);
  const client = new Client({ connectionString: url });
  await client.connect();
  try {
    process.stdout.write(
      `# load average: ${(await import('node:os'))
        .loadavg()
        .map((x) => x.toFixed(2))
        .join(' ')}\n`,
    );
    if (['ingest', 'latency', 'throughput'].includes(process.env.BENCH_EVENTS_PARTS ?? '')) {
      await durableIngest(url, client);
      return;
    }
    process.stdout.write(
      `# events bench: ${N_WRITE} events × (1 primary + 2 related) per write run, ${N_E2E} end to end, median of ${REPS}\n`,
    );
    const writeEvents = makeEvents(N_WRITE);
    // Warm-up (untimed): catalog caches, index roots and the first relation extensions do not count against
    // whichever strategy happens to run first.
    await measureWriter(client, rawCopy, writeEvents.slice(0, 2000));
    await measureWriter(client, viaJson, writeEvents.slice(0, 2000));
    const strategies: [string, Writer][] = [
      ['write_json_recordset', viaJson],
      ['write_unnest', viaUnnest],
      ['write_multirow_values', viaValues],
      ['write_temp_copy_insert', viaTempCopy],
    ];
    // The machine is shared: each repetition measures the baseline right before each strategy, and the ratio
    // is taken per repetition.
    const copyRates: number[] = [];
    const results = new Map<string, { rates: number[]; ratios: number[] }>(
      strategies.map(([label]) => [label, { rates: [], ratios: [] }]),
    );
    for (let rep = 0; rep < REPS; rep++) {
      for (const [label, writer] of strategies) {
        const copyRate = await measureWriter(client, rawCopy, writeEvents);
        const rate = await measureWriter(client, writer, writeEvents);
        copyRates.push(copyRate);
        results.get(label)!.rates.push(rate);
        results.get(label)!.ratios.push(rate / copyRate);
      }
    }
    print('baseline_raw_copy_events_per_s', median(copyRates), 'events/s');
    for (const [label] of strategies) {
      print(`${label}_events_per_s`, median(results.get(label)!.rates), 'events/s');
      print(`${label}_ratio_to_copy`, median(results.get(label)!.ratios), 'x');
    }

    // End to end through the app: the default settings, and for comparison two write statements in flight
    // (CONCURRENT_FLUSHES=2); both apps live on the same database, measured alternately.
    const clock = new SystemClock();
    const boot = async (env: Record<string, string>) => {
      const bus = new TimedBus(clock);
      const t = await createTestApp({
        databaseUrl: url,
        listen: false,
        env: {
          PREFECT_SERVER_SERVICES_DB_VACUUM_ENABLED: 'false',
          PREFECT_SERVER_SERVICES_TASK_RUN_RECORDER_ENABLED: 'false',
          ...env,
        },
        override: (b) => b.overrideProvider(Clock).useValue(clock).overrideProvider(EventBus).useValue(bus),
      });
      return { t, bus, ingest: t.app.get(EventsIngestService) };
    };
    const apps = [
      await boot({}),
      await boot({ PREFECT_SERVER_SERVICES_EVENT_PERSISTER_CONCURRENT_FLUSHES: '2' }),
    ];
    try {
      const runs = apps.map(() => ({
        rates: [] as number[],
        ratios: [] as number[],
        p50: [] as number[],
        p99: [] as number[],
      }));
      const baseline: number[] = [];
      for (let rep = 0; rep < REPS; rep++) {
        for (const [k, { bus, ingest }] of apps.entries()) {
          const events = makeEvents(N_E2E);
          const copyRate = await measureWriter(client, rawCopy, events);
          await client.query('TRUNCATE events, event_resources');
          bus.reset();
          const started = performance.now();
          for (let i = 0; i < events.length; i += 500) {
            await publish(ingest, events.slice(i, i + 500));
          }
          while (bus.stored < events.length) {
            await sleep(2);
          }
          const rate = events.length / ((performance.now() - started) / 1000);
          if (k === 0) {
            baseline.push(copyRate);
          }
          runs[k].rates.push(rate);
          runs[k].ratios.push(rate / copyRate);
          runs[k].p50.push(percentile(bus.latencies, 50));
          runs[k].p99.push(percentile(bus.latencies, 99));
        }
      }
      print('e2e_baseline_raw_copy_events_per_s', median(baseline), 'events/s');
      print('persisted_events_per_s', median(runs[0].rates), 'events/s');
      print('persisted_ratio_to_raw_copy', median(runs[0].ratios), 'x');
      print('saturated_received_to_committed_p50', median(runs[0].p50), 'ms');
      print('saturated_received_to_committed_p99', median(runs[0].p99), 'ms');
      print('persisted_events_per_s_two_statements_in_flight', median(runs[1].rates), 'events/s');
      print('persisted_ratio_to_raw_copy_two_statements_in_flight', median(runs[1].ratios), 'x');

      const { t, bus, ingest } = apps[0];
      const sp50: number[] = [];
      const sp99: number[] = [];
      for (let rep = 0; rep < REPS; rep++) {
        bus.reset();
        const total = Math.round(STEADY_RATE * STEADY_SECONDS);
        const events = makeEvents(total);
        const perTick = STEADY_RATE / 100; // every 10 ms
        const started = performance.now();
        for (let i = 0; i < total; i += perTick) {
          await publish(ingest, events.slice(i, i + perTick));
          const due = started + ((i + perTick) / STEADY_RATE) * 1000;
          const wait = due - performance.now();
          if (wait > 0) {
            await sleep(wait);
          }
        }
        while (bus.stored < total) {
          await sleep(5);
        }
        sp50.push(percentile(bus.latencies, 50));
        sp99.push(percentile(bus.latencies, 99));
      }
      print(`steady_${STEADY_RATE}_per_s_received_to_committed_p50`, median(sp50), 'ms');
      print(`steady_${STEADY_RATE}_per_s_received_to_committed_p99`, median(sp99), 'ms');
      print('persister_flush_interval', t.config.eventPersister.flushInterval * 1000, 'ms');
      print('persister_batch_size', t.config.eventPersister.batchSize, 'events');
      print('persister_concurrent_flushes', t.config.eventPersister.concurrentFlushes, 'statements');
    } finally {
      for (const { t } of apps) {
        await t.close();
      }
    }
    await durableIngest(url, client);
  } finally {
    await client.end();
    await adminQuery(adminUrl, `DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
  }
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(`${err instanceof Error ? err.stack : String(err)}\n`);
    process.exit(1);
  },
);
