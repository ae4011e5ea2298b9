/**
 * Preloaded with NODE_OPTIONS=--require by the benches when BENCH_CPU_PROF is set (`--cpu-prof` itself is not
 * allowed in NODE_OPTIONS). Two modes:
 * - default (bench/task-runs.bench.ts): profiles the server from start-up and writes a .cpuprofile into
 *   BENCH_CPU_PROF on SIGUSR2;
 * - `BENCH_CPU_PROF_TOGGLE=1` (bench/server-cpu.ts): each SIGUSR2 starts or stops the profiler, and every stop
 *   writes `server-<pid>-<n>.cpuprofile` (n = 1, 2, …), so a profile covers exactly one phase of a bench.
 * Open a profile in Chrome DevTools, or summarise it with bench/cpu-prof-summary.ts.
 */
import fs from 'node:fs';
import inspector from 'node:inspector';
import path from 'node:path';

const dir = process.env.BENCH_CPU_PROF;
if (dir) {
  const session = new inspector.Session();
  session.connect();
  const toggle = process.env.BENCH_CPU_PROF_TOGGLE === '1';
  let running = !toggle;
  let written = 0;
  session.post('Profiler.enable', () => {
    if (running) {
      session.post('Profiler.start');
    }
  });
  process.on('SIGUSR2', () => {
    if (!running) {
      running = true;
      session.post('Profiler.start');
      return;
    }
    running = !toggle;
    session.post('Profiler.stop', (err, result) => {
      if (err) {
        return;
      }
      fs.mkdirSync(dir, { recursive: true });
      const name = toggle
        ? `server-${process.pid}-${++written}.cpuprofile`
        : `server-${process.pid}.cpuprofile`;
      fs.writeFileSync(path.join(dir, name), JSON.stringify(result.profile));
    });
  });
}
