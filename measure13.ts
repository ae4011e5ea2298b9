// ad-hoc measurement (not committed)
import { mkdtempSync, chmodSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startServer } from './test/utils/server-process';
async function call(base: string, path: string, method = 'GET', body?: string) {
  const t = performance.now();
  const res = await fetch(base + path, { method, headers: body ? { 'content-type': 'application/json' } : {}, body, signal: AbortSignal.timeout(90_000) });
  await res.text();
  return { status: res.status, ms: Math.round(performance.now() - t) };
}
function pgPids(dataDir: string) {
  const pm = Number(readFileSync(join(dataDir, 'postmaster.pid'), 'utf8').split('\n')[0]);
  const out = [pm];
  for (const e of readdirSync('/proc')) { if (!/^\d+$/.test(e)) continue; try { const s = readFileSync(`/proc/${e}/stat`, 'utf8'); if (Number(s.slice(s.lastIndexOf(')') + 2).split(' ')[1]) === pm) out.push(Number(e)); } catch {} }
  return out;
}
async function main() {
  const dir = mkdtempSync(join(tmpdir(), 'm13-')); chmodSync(dir, 0o755);
  const env: Record<string, string> = { DATABASE_EMBEDDED_DIR: join(dir, 'data'), LOG_LEVEL: 'info' };
  if (process.argv[2] === 'short') Object.assign(env, { DATABASE_QUERY_TIMEOUT: '2', DATABASE_CONNECT_TIMEOUT: '2' });
  const s = await startServer(env, 150_000);
  const base = s.baseUrl;
  const flow = await (await fetch(base + '/api/flows/', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"name":"m"}' })).json() as { id: string };
  const run = await (await fetch(base + '/api/flow_runs/', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ flow_id: flow.id }) })).json() as { id: string };
  const labels = Object.fromEntries(Array.from({ length: 150000 }, (_, i) => [`key-${i}`, i]));
  const big = JSON.stringify({ name: 'wide', labels });
  const base1: number[] = []; for (let i = 0; i < 50; i++) base1.push((await call(base, '/api/health')).ms);
  let done = false; const during: number[] = [];
  const p = call(base, '/api/flows/', 'POST', big).finally(() => (done = true));
  while (!done) during.push((await call(base, '/api/health')).ms);
  console.log('150k keys:', await p, 'health max baseline', Math.max(...base1), 'max during', Math.max(...during), 'n', during.length);
  const pids = pgPids(join(dir, 'data'));
  for (const pid of pids) process.kill(pid, 'SIGSTOP');
  const r = await Promise.all([call(base, '/api/health'), call(base, '/api/ready'), call(base, `/api/flow_runs/${run.id}`), call(base, '/api/flows/', 'POST', '{"name":"x"}')]);
  console.log('frozen', process.argv[2] ?? 'defaults', 'health/ready/read/write', JSON.stringify(r));
  for (const pid of pids) process.kill(pid, 'SIGCONT');
  const t = Date.now(); let ok = false; while (!ok && Date.now() - t < 60000) { ok = (await call(base, '/api/ready')).status === 200; if (!ok) await new Promise((res) => setTimeout(res, 200)); }
  console.log('ready again after', Date.now() - t, 'ms; write', await call(base, '/api/flows/', 'POST', '{"name":"y"}'));
  await s.stop();
}
void main();
