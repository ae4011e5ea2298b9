/**
 * Preloaded with NODE_OPTIONS=--require by bench/task-runs.bench.ts when BENCH_CPU_PROF is set (`--cpu-prof`
 * itself is not allowed in NODE_OPTIONS): profiles the server from start-up and writes a .cpuprofile into
 * BENCH_CPU_PROF on SIGUSR2 (open it in Chrome DevTools, or summarise it with bench/cpu-prof-summary.ts).
 */
import fs from 'node:fs';
import inspector from 'node:inspector';
import path from 'node:path';

const dir = process.env.BENCH_CPU_PROF;
if (dir) {
  const session = new inspector.Session();
  session.connect();
  session.post('Profiler.enable', () => session.post('Profiler.start'));
  process.on('SIGUSR2', () => {
    session.post('Profiler.stop', (err, result) => {
      if (err) {
        return;
      }
      fs.mkdirSync(dir, { recursive: true });
      fs.writeFileSync(path.join(dir, `server-${process.pid}.cpuprofile`), JSON.stringify(result.profile));
    });
  });
}
