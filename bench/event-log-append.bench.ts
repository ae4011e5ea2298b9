/**
 * The event log's append statement alone (docs/events.md, "Durable ingest"): the same batch of events written
 * by each candidate statement form, alternately, against a raw COPY of the same rows. Medians per form.
 * Env: BENCH_APPEND_BATCH (events per append, default 1000), BENCH_APPEND_REPS (default 15).
 */
import 'reflect-metadata';
import { loadavg } from 'node:os';
import { Client } from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { createMigratedDatabase, DEFAULT_ADMIN_URL } from '../test/utils/test-database';
import { makeEvents } from './bench-events';

const BATCH = Number(process.env.BENCH_APPEND_BATCH ?? '1000');
const REPS = Number(process.env.BENCH_APPEND_REPS ?? '15');
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/** A binary-format one-dimensional array of `oid` whose elements are the given UTF-8 texts. */
function binaryArray(texts: Buffer[], oid: number): Buffer {
  let size = 20;
  for (const t of texts) {
    size += 4 + t.length;
  }
  const out = Buffer.allocUnsafe(size);
  out.writeInt32BE(1, 0);
  out.writeInt32BE(0, 4);
  out.writeUInt32BE(oid, 8);
  out.writeInt32BE(texts.length, 12);
  out.writeInt32BE(1, 16);
  let o = 20;
  for (const t of texts) {
    out.writeInt32BE(t.length, o);
    t.copy(out, o + 4);
    o += 4 + t.length;
  }
  return out;
}

type Form = { name: string; run: (c: Client, texts: string[]) => Promise<void> };
const JSON_OID = 114;
const forms: Form[] = [
  {
    name: 'copy (baseline)',
    run: async (c, texts) => {
      const esc = (s: string) => s.replace(/\\/g, '\\\\');
      const stream = c.query(copyFrom('COPY event_log (event) FROM STDIN'));
      await new Promise<void>((resolve, reject) => {
        stream.on('finish', resolve);
        stream.on('error', reject);
        stream.end(texts.map((t) => `${esc(t)}\n`).join(''));
      });
    },
  },
  {
    name: 'json_array_elements (today)',
    run: async (c, texts) => {
      await c.query(
        `WITH ins AS (INSERT INTO event_log (event, only_group) SELECT e.value, $2::text FROM json_array_elements($1::json) AS e RETURNING position)
         SELECT pg_notify('bench', max(position)::text) AS head FROM ins`,
        [`[${texts.join(',')}]`, null],
      );
    },
  },
  {
    name: 'json_array_elements (bytes, binary json)',
    run: async (c, texts) => {
      await c.query(
        `WITH ins AS (INSERT INTO event_log (event, only_group) SELECT e.value, $2::text FROM json_array_elements($1::json) AS e RETURNING position)
         SELECT pg_notify('bench', max(position)::text) AS head FROM ins`,
        [Buffer.from(`[${texts.join(',')}]`), null],
      );
    },
  },
  {
    name: 'unnest(binary json[])',
    run: async (c, texts) => {
      await c.query(
        `WITH ins AS (INSERT INTO event_log (event, only_group) SELECT e, $2::text FROM unnest($1::json[]) AS e RETURNING position)
         SELECT pg_notify('bench', max(position)::text) AS head FROM ins`,
        [
          binaryArray(
            texts.map((t) => Buffer.from(t)),
            JSON_OID,
          ),
          null,
        ],
      );
    },
  },
];

async function main(): Promise<void> {
  const url = await createMigratedDatabase(DEFAULT_ADMIN_URL, `ptr_bench_append_${Date.now().toString(36)}`);
  const c = new Client({ connectionString: url });
  await c.connect();
  process.stdout.write(
    `# ${BATCH} events per append, ${REPS} reps; load ${loadavg()
      .map((x) => x.toFixed(2))
      .join(' ')}\n`,
  );
  const times = new Map<string, number[]>(forms.map((f) => [f.name, []]));
  for (let rep = 0; rep < REPS + 2; rep++) {
    const texts = makeEvents(BATCH).map((e) => JSON.stringify(e));
    for (const f of rep % 2 ? forms : [...forms].reverse()) {
      await c.query('TRUNCATE event_log RESTART IDENTITY');
      const t0 = performance.now();
      await f.run(c, texts);
      if (rep >= 2) {
        times.get(f.name)!.push(performance.now() - t0);
      }
    }
  }
  const base = median(times.get(forms[0].name)!);
  for (const [name, ts] of times) {
    const m = median(ts);
    process.stdout.write(
      `${name}: median ${m.toFixed(1)} ms per ${BATCH} (${((m / BATCH) * 1000).toFixed(1)} µs/event), ${(m / base).toFixed(2)}× COPY\n`,
    );
  }
  process.stdout.write(`# load after ${loadavg()[0].toFixed(2)}\n`);
  await c.end();
}

void main();
