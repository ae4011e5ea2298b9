import { randomUUID } from 'node:crypto';

export interface WireEvent {
  id: string;
  occurred: string;
  event: string;
  resource: Record<string, string>;
  related?: Record<string, string>[];
  payload?: Record<string, unknown>;
  follows?: string | null;
  [extra: string]: unknown;
}

let seq = 0;

/** A client event with 1 primary and 2 related resources (a flow run and a tag), overridable. */
export function wireEvent(overrides: Partial<WireEvent> = {}): WireEvent {
  seq += 1;
  return {
    id: randomUUID(),
    occurred: new Date().toISOString(),
    event: 'prefect.task-run.Completed',
    resource: {
      'prefect.resource.id': `prefect.task-run.${randomUUID()}`,
      'prefect.resource.name': `task-${seq}`,
      'prefect.state-type': 'COMPLETED',
    },
    related: [
      {
        'prefect.resource.id': `prefect.flow-run.${randomUUID()}`,
        'prefect.resource.role': 'flow-run',
        'prefect.resource.name': 'flow',
      },
      { 'prefect.resource.id': 'prefect.tag.demo', 'prefect.resource.role': 'tag' },
    ],
    payload: { seq },
    ...overrides,
  };
}
