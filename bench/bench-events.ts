/**
 * The task-run events the event benches write (bench/events.bench.ts, bench/event-log-append.bench.ts): one flow
 * run, two related resources each, `received` stamped, as the ingest path stores them.
 */
import { randomUUID } from 'node:crypto';
import { fromMicros } from '../src/common/time/timestamp';
import { ReceivedEvent } from '../src/events/event.types';

export function makeEvents(n: number): ReceivedEvent[] {
  const now = Date.now() * 1000;
  const flowRun = `prefect.flow-run.${randomUUID()}`;
  return Array.from({ length: n }, (_, i): ReceivedEvent => ({
    id: randomUUID(),
    occurred: fromMicros(now - (n - i) * 10),
    event: i % 3 === 0 ? 'prefect.task-run.Running' : 'prefect.task-run.Completed',
    resource: {
      'prefect.resource.id': `prefect.task-run.${randomUUID()}`,
      'prefect.resource.name': `task-${i}`,
      'prefect.state-type': 'COMPLETED',
      'prefect.state-name': 'Completed',
    },
    related: [
      {
        'prefect.resource.id': flowRun,
        'prefect.resource.role': 'flow-run',
        'prefect.resource.name': 'bench-flow',
      },
      { 'prefect.resource.id': 'prefect.tag.bench', 'prefect.resource.role': 'tag' },
    ],
    payload: { intended: { from: 'RUNNING', to: 'COMPLETED' }, i },
    received: fromMicros(now),
    follows: null,
  }));
}
